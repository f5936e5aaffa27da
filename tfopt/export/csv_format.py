"""run_data.csv: one row per finished worker run, appended once its record is on disk.

The CSV is a view derived from the run records (`tfopt.records`), never the source of truth: a
lab rebuilds it from the records when the two disagree (a cut last line, a deleted row, a row
whose record is gone). Every append starts on a fresh line, so a line cut short by a crash never
swallows the next row.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from pathlib import Path

from ..records import OK, RunRecord

RUN_DATA = "run_data.csv"
# A fast model times many thousands of sweeps per worker: its sweeps_ms cell outgrows csv's
# default field limit of 128 KiB.
csv.field_size_limit(2**31 - 1)


class CsvError(ValueError):
    """A malformed run_data.csv, named with its file and line."""


class RunDataCsv:
    """Appends rows; when a row brings new columns the file is rewritten with the wider header."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def rows(self) -> list[dict]:
        """Every complete row. A last line cut short is skipped (and said on stderr); a broken
        line elsewhere raises `CsvError` naming the file and the line."""
        if not self.path.exists():
            return []
        text = self.path.read_text(errors="replace")
        cut = text.rfind("\n") + 1
        if text[cut:]:
            line = text.count("\n") + 1
            print(f"tfopt: {self.path} line {line} was cut short; skipped", file=sys.stderr)
        reader = csv.reader(io.StringIO(text[:cut]))
        header = next(reader, [])
        rows = []
        for fields in reader:
            if not fields:
                continue
            if len(fields) != len(header):
                raise CsvError(f"{self.path} line {reader.line_num}: expected {len(header)} "
                               f"fields, found {len(fields)}")  # fmt: skip
            rows.append(dict(zip(header, fields, strict=True)))
        return rows

    def completed(self) -> set[tuple[str, int]]:
        """Keys (run_id, worker) of the runs that finished."""
        return {(r["run_id"], int(r["worker"])) for r in self.rows() if r.get("status") == OK.value}

    def agrees_with(self, records: list[RunRecord]) -> bool:
        """Whether the file holds exactly one intact row per record, with its status."""
        try:
            rows = self.rows()
        except CsvError:
            return False
        seen = [(r.get("run_id"), r.get("worker"), r.get("status")) for r in rows]
        wanted = [(r.run_id, str(r.worker), r.status) for r in records]
        return sorted(seen) == sorted(wanted) and self._ends_cleanly()

    def _ends_cleanly(self) -> bool:
        return not self.path.exists() or self.path.read_bytes().endswith(b"\n")

    def rebuild(self, records: list[RunRecord]) -> None:
        """Rewrite the whole file from the run records."""
        self._rewrite([record.row() for record in records], [])

    def append(self, record: RunRecord) -> None:
        row = record.row()
        header = self._header()
        if header is not None and set(row) <= set(header):
            with self.path.open("a", newline="") as handle:
                if not self._ends_cleanly():
                    handle.write("\n")  # a fresh line: a cut fragment never glues onto this row
                csv.DictWriter(handle, header).writerow(row)
                handle.flush()
                os.fsync(handle.fileno())
            return
        self._rewrite([*self.rows(), row], header or [])

    def _header(self) -> list[str] | None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None
        with self.path.open(newline="") as handle:
            return next(csv.reader(handle), None)

    def _rewrite(self, rows: list[dict], header: list[str]) -> None:
        columns = list(header)
        for row in rows:
            columns += [key for key in row if key not in columns]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(rows)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
