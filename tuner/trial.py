"""Trials (one child run) and evaluations (all runs of one configuration, summarised)."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from tuner import worker
from tuner.outcome import TrialOutcome, TrialStatus


@dataclass
class Trial:
    """One run of the objective on one configuration, in one child process."""

    number: int
    config: dict
    repeat: int
    status: TrialStatus
    value: float  # +inf unless the trial completed with a number
    reason: str | None = None
    wall_time: float = 0.0
    pid: int | None = None
    peak_rss: int | None = None
    backend: str = "none"
    enforced: dict[str, str] = field(default_factory=dict)  # limit -> how the backend did it
    warnings: list[str] = field(default_factory=list)
    resumed: bool = False  # taken from the log instead of run again

    @classmethod
    def from_outcome(cls, number: int, config: dict, repeat: int, outcome: TrialOutcome) -> Trial:
        status, reason, value = outcome.status, outcome.reason, outcome.value
        if status is TrialStatus.COMPLETE and value is None:
            status = TrialStatus.FAIL
            reason = f"the objective returned {outcome.payload!r}, not a number"
        elif status is TrialStatus.COMPLETE and value is not None and not math.isfinite(value):
            status, reason = TrialStatus.FAIL, worker.not_finite(value)
        return cls(
            number=number,
            config=config,
            repeat=repeat,
            status=status,
            value=outcome.score if status is TrialStatus.COMPLETE else math.inf,
            **{**outcome.child_facts(), "reason": reason},
        )

    def as_dict(self) -> dict:
        data = asdict(self)
        data["status"] = self.status.value
        del data["resumed"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trial:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["status"] = TrialStatus(fields["status"])
        fields["value"] = float(fields["value"])
        fields["resumed"] = True
        return cls(**fields)


@dataclass
class Evaluation:
    """A configuration's measurements: the median decides, the spread is kept beside it.

    ``values`` are the search's measurements; ``final`` those of the finals, where the leading
    configurations are re-measured in interleaved rounds, the same number of times each.
    """

    config: dict
    values: list[float] = field(default_factory=list)
    final: list[float] = field(default_factory=list)

    @property
    def value(self) -> float:
        return _median(self.values)

    @property
    def spread(self) -> dict[str, float]:
        """min, max and median absolute deviation of the finite values."""
        return _spread(self.values)

    @property
    def final_value(self) -> float:
        return _median(self.final)

    @property
    def final_spread(self) -> dict[str, float]:
        return _spread(self.final)

    def as_dict(self) -> dict:
        data = {"config": self.config, "value": self.value, "values": self.values, **self.spread}
        if self.final:
            data["final"] = {"value": self.final_value, "values": self.final, **self.final_spread}
        return data


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.inf


def _spread(values: list[float]) -> dict[str, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return {"min": math.inf, "max": math.inf, "mad": math.inf}
    centre = statistics.median(finite)
    mad = statistics.median(abs(v - centre) for v in finite)
    return {"min": min(finite), "max": max(finite), "mad": mad}
