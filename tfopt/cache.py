"""Where tfopt keeps what it builds once and reuses by content hash:
``${XDG_CACHE_HOME:-~/.cache}/tfopt/<kind>/`` (variant venvs, lock wheelhouses, converted models,
the reference decoder's predictions). Every entry is named by a hash of what it was made from,
so a stale entry is never found, only left behind."""

from __future__ import annotations

import os
from pathlib import Path


def folder(kind: str) -> Path:
    """The cache folder of one kind of entry (not created here)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tfopt" / kind
