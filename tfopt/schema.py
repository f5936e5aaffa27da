"""Versioned files: each carries its format's number, and a reader refuses one it cannot read
with a message naming the file and both versions, rather than misreading it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


class SchemaError(ValueError):
    """A file written in a version of its format this tfopt does not read."""


def check_version(data: Mapping[str, Any], key: str, readable: range, source: str | Path) -> int:
    """``data[key]``, the version ``source`` was written in, if it is one of ``readable``.

    >>> check_version({"schema": 3}, "schema", range(1, 3), "out/summary.json")
    Traceback (most recent call last):
    ...
    tfopt.schema.SchemaError: out/summary.json schema 3, this tfopt reads 1-2
    """
    found = data.get(key)
    if isinstance(found, bool) or not isinstance(found, int) or found not in readable:
        lo, hi = readable[0], readable[-1]
        reads = f"{lo}" if lo == hi else f"{lo}-{hi}"
        shown = "missing" if found is None else found
        raise SchemaError(f"{source} {key} {shown}, this tfopt reads {reads}")
    return found
