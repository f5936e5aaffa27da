"""One measured worker run as the parent records it, and the samples drawn from many of them."""

from __future__ import annotations

from dataclasses import dataclass

from .matrix import flatten
from .stats import Sample

OK = "complete"


@dataclass
class RunRecord:
    """A (permutation, worker) pair after its child process came back."""

    run_id: str
    worker: int
    label: str
    status: str
    params: dict
    payload: dict | None = None
    reason: str | None = None
    wall_time: float = 0.0
    peak_rss: int | None = None
    backend: str = "none"
    folder: str = ""

    @property
    def ok(self) -> bool:
        return self.status == OK and bool(self.payload)

    @property
    def key(self) -> tuple[str, int]:
        return self.run_id, self.worker

    def sweeps(self) -> list[float]:
        return list(self.payload["sweeps"]) if self.ok else []

    def latencies(self) -> dict[int, list[float]]:
        if not self.ok:
            return {}
        return {int(size): list(v) for size, v in self.payload["latencies"].items()}

    def row(self) -> dict:
        """A flat CSV row: identity, outcome, summary figures, then every parameter."""
        row = {
            "run_id": self.run_id,
            "worker": self.worker,
            "label": self.label,
            "status": self.status,
            "wall_time_s": round(self.wall_time, 3),
            "peak_rss_mib": round(self.peak_rss / 2**20, 1) if self.peak_rss else "",
            "backend": self.backend,
            "folder": self.folder,
            "reason": (self.reason or "").splitlines()[0][:200] if self.reason else "",
        }
        if self.ok:
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
