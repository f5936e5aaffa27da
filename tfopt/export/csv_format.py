"""run_data.csv: one row per finished worker run, appended as it finishes (write as you go)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from ..records import OK, RunRecord

RUN_DATA = "run_data.csv"
# A fast model times many thousands of sweeps per worker: its sweeps_ms cell outgrows csv's
# default field limit of 128 KiB.
csv.field_size_limit(2**31 - 1)


class RunDataCsv:
    """Appends rows; when a row brings new columns the file is rewritten with the wider header."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def rows(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open(newline="") as handle:
            return list(csv.DictReader(handle))

    def completed(self) -> set[tuple[str, int]]:
        """Keys (run_id, worker) of the runs that finished; a rerun skips them."""
        return {(r["run_id"], int(r["worker"])) for r in self.rows() if r.get("status") == OK}

    def append(self, record: RunRecord) -> None:
        row = record.row()
        header = self._header()
        if header is not None and set(row) <= set(header):
            with self.path.open("a", newline="") as handle:
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
        os.replace(tmp, self.path)
