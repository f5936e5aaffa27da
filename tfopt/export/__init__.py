"""Exporters: one module per format. Each reads the summary (and run data), never measures.

``run_data.csv`` is written as runs finish (`csv_format.RunDataCsv`); the others are drawn at
the end from ``summary.json``, so ``tfopt report DIR`` can redraw them without measuring again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import summary as summary_mod
from . import json_format, markdown_format, png_format

REPORT_EXPORTERS = (json_format, png_format, markdown_format)


def export_all(summary: Mapping[str, Any], out: Path) -> list[Path]:
    """Write every end-of-run format into ``out``; returns the files written. A summary read
    back from ``out/summary.json`` (``tfopt report``) must be of a schema this tfopt reads."""
    document = summary_mod.from_dict(summary, out / json_format.SUMMARY)
    written: list[Path] = []
    for exporter in REPORT_EXPORTERS:
        written += exporter.export(document, out)
    return written
