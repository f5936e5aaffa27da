"""Every exported file is replaced whole: written beside its final name, then renamed over it,
so a crash leaves the old file or the new one, and a reader never sees half of one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def replace_file(path: Path, write: Callable[[Path], object]) -> Path:
    """``write(temporary path)`` (same folder, same suffix: plotting libraries read the format
    from it), then rename it to ``path``; on failure no temporary file is left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def replace_text(path: Path, text: str) -> Path:
    return replace_file(path, lambda temporary: temporary.write_text(text))
