"""summary.json and each run folder's metrics.json."""

from __future__ import annotations

import json
import os
from pathlib import Path

SUMMARY = "summary.json"


def export(summary: dict, out: Path) -> list[Path]:
    return [write_json(out / SUMMARY, summary)]


def write_json(path: Path, data: dict) -> Path:
    """Atomic write: a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, path)
    return path


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
