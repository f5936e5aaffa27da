"""Saving each run the moment it finishes (write as you go): its run record first, atomically
(`tfopt.records`, the truth), then the views of the records: its row in ``run_data.csv``, and its
run folder's ``metrics.json`` and latency plot. An interruption loses at most the runs in flight,
and a rerun skips every run whose record says it completed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .export import json_format, png_format
from .export.csv_format import RUN_DATA, RunDataCsv
from .jobs import Job
from .matrix import Permutation
from .records import RecordStore, RunRecord, read_folder
from .summary import config_entry

RUNS = "runs"
METRICS = "metrics.json"


class RunSaver:
    """The run records under ``out/runs`` and the views kept beside them."""

    def __init__(self, out: Path, note: Callable[[str], None]) -> None:
        self.out, self.note = Path(out), note
        self.csv = RunDataCsv(self.out / RUN_DATA)
        self._store: RecordStore | None = None

    @property
    def store(self) -> RecordStore:
        """The run records, read on first use: by then the caller holds the results folder."""
        if self._store is None:
            self._store = RecordStore(self.out / RUNS)
            self._sync_csv()
        return self._store

    def _sync_csv(self) -> None:
        """run_data.csv is a view of the records: rebuilt when it disagrees with them."""
        records = self.store.records()
        if (records or self.csv.path.exists()) and not self.csv.agrees_with(records):
            self.note(f"{self.csv.path} rebuilt from the {len(records)} run record(s)")
            self.csv.rebuild(records)

    def save(self, job: Job, record: RunRecord) -> None:
        """The run record, then the CSV row, the folder's metrics.json and its plot."""
        try:
            self.store.save(job.folder, record)
            self.csv.append(record)
            records = [r for r in read_folder(job.folder) if r.run_id == job.perm.run_id]
            save_records(job.folder, job.label, job.perm, records)
        except OSError as err:
            where = f"{job.label} worker {job.worker} in {job.folder}"
            raise RuntimeError(f"could not save the run {where}: {err}; rerun to measure it "
                               "again") from err  # fmt: skip


def save_records(folder: Path, label: str, perm: Permutation, records: list[RunRecord]) -> None:
    entry = config_entry(label, perm.run_params, records)
    data = {"run_id": perm.run_id, "label": label, "params": perm.run_params, "summary": entry,
            "workers": [r.__dict__ for r in sorted(records, key=lambda r: r.worker)]}  # fmt: skip
    json_format.write_json(folder / METRICS, data)
    if entry.get("by_size"):
        png_format.plot_sizes([entry], folder / "latency.png", f"{label}: latency by input size")


def load_records(folder: Path) -> list[RunRecord]:
    """The run records saved in one run folder."""
    return read_folder(folder)
