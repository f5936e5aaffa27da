"""One measured worker run as the parent records it, and the samples drawn from many of them.

Each run is stored as one record file, ``runs/<folder>/run-<run_id>-w<worker>.json``, written once
and atomically (a temp file in the same folder, fsync, rename): it is on disk complete or not at
all. Resume and the report both read these files; ``run_data.csv`` and ``metrics.json`` are views
derived from them. The worker's payload is stored as the worker returned it. A record's status is
the tuner's `TrialStatus`, stored as its value (``"complete"``, ``"timeout"``...).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from tuner.outcome import CHILD_FACTS, TrialOutcome, TrialStatus

from .matrix import flatten
from .schema import SchemaError, check_version
from .stats import Sample

OK = TrialStatus.COMPLETE
RECORD_PREFIX, RECORD_SUFFIX, TMP_SUFFIX = "run-", ".json", ".tmp"
RECORD_FORMAT = 1
READABLE_FORMATS = range(1, RECORD_FORMAT + 1)


@dataclass
class RunRecord:
    """A (permutation, worker) pair after its child process came back."""

    run_id: str
    worker: int
    label: str
    status: TrialStatus  # a status's value ("complete") is taken too
    params: dict[str, Any]
    payload: dict[str, Any] | None = None
    reason: str | None = None
    wall_time: float = 0.0
    peak_rss: int | None = None
    backend: str = "none"
    folder: str = ""
    finished_at: float = 0.0

    def __post_init__(self) -> None:
        self.status = TrialStatus(self.status)

    @classmethod
    def of_outcome(cls, outcome: TrialOutcome | Mapping[str, Any], **identity: Any) -> RunRecord:
        """The record of a child's outcome (or of its fields, as a Ray task sends them back): its
        status, its payload when that is a dict, and those of `tuner.outcome.CHILD_FACTS` a record
        keeps; ``identity`` gives the rest (run_id, worker, label, params, folder)."""
        given = outcome if isinstance(outcome, Mapping) else vars(outcome)
        kept = {f.name for f in fields(cls)}
        facts = {name: given[name] for name in CHILD_FACTS if name in kept and name in given}
        payload = given.get("payload")
        return cls(status=given["status"], payload=payload if isinstance(payload, dict) else None,
                   **facts, **identity)  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path) -> RunRecord:
        """A record as `to_dict` wrote it into ``source``; `SchemaError` for another format."""
        check_version(data, "format", READABLE_FORMATS, source)
        return cls(**{key: value for key, value in data.items() if key != "format"})

    def to_dict(self) -> dict[str, Any]:
        return {"format": RECORD_FORMAT, **asdict(self), "status": self.status.value}

    @property
    def ok(self) -> bool:
        return self.status is OK and bool(self.payload)

    @property
    def key(self) -> tuple[str, int]:
        return self.run_id, self.worker

    def sweeps(self) -> list[float]:
        return list(self.payload["sweeps"]) if self.ok and self.payload else []

    def latencies(self) -> dict[int, list[float]]:
        if not self.ok or not self.payload:
            return {}
        return {int(size): list(v) for size, v in self.payload["latencies"].items()}

    def row(self) -> dict:
        """A flat CSV row: identity, outcome, summary figures, then every parameter."""
        row = {
            "run_id": self.run_id,
            "worker": self.worker,
            "label": self.label,
            "status": self.status.value,
            "wall_time_s": round(self.wall_time, 3),
            "peak_rss_mib": round(self.peak_rss / 2**20, 1) if self.peak_rss else "",
            "backend": self.backend,
            "folder": self.folder,
            "reason": (self.reason or "").splitlines()[0][:200] if self.reason else "",
        }
        if self.ok and self.payload:
            row.update(_figures(self.payload))
        row.update({f"param.{k}": _cell(v) for k, v in flatten(self.params).items()})
        return row


def _figures(payload: dict) -> dict:
    sample = Sample(payload["sweeps"])
    figures = sample.summary()
    throughput = payload.get("items_per_sweep", 0) / sample.median() if sample.median() else 0
    return {
        "sweep_p50_ms": round(figures["p50"], 3),
        "sweep_p90_ms": round(figures["p90"], 3),
        "sweep_p99_ms": round(figures["p99"], 3),
        "sweep_mean_ms": round(figures["mean"], 3),
        "sweep_std_ms": round(figures["std"], 3),
        "throughput_per_s": round(throughput, 2),
        "unit": payload.get("unit", "items"),
        "unstable": figures["unstable"],
        "sweeps_ms": ";".join(f"{v * 1000:.4f}" for v in payload["sweeps"]),
    }


def _cell(value) -> str:
    return "" if value is None else str(value)


def pooled(records: list[RunRecord]) -> Sample | None:
    """Sweep totals of all completed workers of one configuration, grouped by worker."""
    values = [v for record in records for v in record.sweeps()]
    groups = [record.worker for record in records for _ in record.sweeps()]
    return Sample(values, groups) if values else None


def pooled_by_size(records: list[RunRecord]) -> dict[int, Sample]:
    merged: dict[int, list[float]] = {}
    groups: dict[int, list[int]] = {}
    for record in records:
        for size, values in record.latencies().items():
            merged.setdefault(size, []).extend(values)
            groups.setdefault(size, []).extend([record.worker] * len(values))
    return {size: Sample(values, groups[size]) for size, values in sorted(merged.items())}


# --- storage ----------------------------------------------------------------------------------


def record_name(run_id: str, worker: int) -> str:
    return f"{RECORD_PREFIX}{run_id}-w{worker}{RECORD_SUFFIX}"


def write_record(folder: Path, record: RunRecord) -> Path:
    """Write ``record`` atomically into ``folder``; a crash leaves it complete or absent."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / record_name(record.run_id, record.worker)
    tmp = folder / f".{path.name}.{os.getpid()}{TMP_SUFFIX}"
    data = json.dumps(record.to_dict(), default=str).encode()
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(folder)
    return path


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a power cut could otherwise undo it)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_record(path: Path) -> RunRecord | None:
    """The record in ``path``, or None (said on stderr) when it is damaged: measured again.
    One of a format this tfopt does not read raises `SchemaError`: measuring it again would
    overwrite what a newer tfopt wrote."""
    try:
        data = json.loads(Path(path).read_bytes())
        if not isinstance(data, dict) or "format" not in data:
            raise ValueError("not a run record")
        return RunRecord.from_dict(data, path)
    except SchemaError:
        raise
    except (OSError, ValueError, TypeError) as err:
        print(f"tfopt: ignoring unreadable run record {path}: {err}; that run is measured again",
              file=sys.stderr)  # fmt: skip
        return None


def read_folder(folder: Path) -> list[RunRecord]:
    """Every record in one run folder, by worker; stale temp files are skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    paths = sorted(folder.glob(f"{RECORD_PREFIX}*{RECORD_SUFFIX}"))
    records = [r for r in map(read_record, paths) if r is not None]
    return sorted(records, key=lambda r: (r.worker, r.run_id))


def remove_stale_temp_files(runs: Path) -> int:
    """Delete temp files a killed writer left (only the folder's lock holder may call this)."""
    removed = 0
    for tmp in [*Path(runs).glob(f"*/*{TMP_SUFFIX}"), *Path(runs).glob(f"*/.*{TMP_SUFFIX}")]:
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed += 1
    return removed


class RecordStore:
    """Every run record under ``runs``, read once and kept current as runs are saved.

    One lab holds a results folder at a time (`tfopt.lock`), so the index cannot go stale.
    """

    def __init__(self, runs: Path):
        self.runs = Path(runs)
        remove_stale_temp_files(self.runs)
        self._runs: dict[str, dict[int, RunRecord]] = {}
        self._done: set[tuple[str, int]] = set()
        for folder in sorted(self.runs.glob("*/")):
            for record in read_folder(folder):
                self._add(record)

    def _add(self, record: RunRecord) -> None:
        self._runs.setdefault(record.run_id, {})[record.worker] = record
        if record.status is OK:
            self._done.add(record.key)
        else:
            self._done.discard(record.key)

    def save(self, folder: Path, record: RunRecord) -> None:
        write_record(folder, record)
        self._add(record)

    def completed(self) -> set[tuple[str, int]]:
        return set(self._done)

    def is_completed(self, key: tuple[str, int]) -> bool:
        return key in self._done

    def records(self) -> list[RunRecord]:
        """All records, in the order they finished."""
        every = [r for workers in self._runs.values() for r in workers.values()]
        return sorted(every, key=lambda r: (r.finished_at, r.run_id, r.worker))

    def of_run(self, run_id: str) -> list[RunRecord]:
        """The records of one permutation, wherever its folder was (a config edit renames it)."""
        workers = self._runs.get(run_id, {})
        return [workers[k] for k in sorted(workers)]
