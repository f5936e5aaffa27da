"""summary.json and each run folder's metrics.json."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..summary import Summary
from .atomic import replace_text

SUMMARY = "summary.json"


def export(summary: Summary, out: Path) -> list[Path]:
    return [write_json(out / SUMMARY, summary)]


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    return replace_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
