"""What one child process came back with."""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass, field
from typing import Any


class TrialStatus(str, enum.Enum):
    COMPLETE = "complete"  # the target returned; `value` is set if it returned a number
    FAIL = "fail"  # the target raised, returned bad data, or the child exited without a result
    TIMEOUT = "timeout"  # killed after the per-trial timeout
    OOM = "oom"  # killed by the memory cap (or raised MemoryError under an rlimit)
    SIGNALLED = "signalled"  # killed by a signal the tuner did not send (segfault, kill -9, ...)
    INTERRUPTED = "interrupted"  # stopped by Ctrl-C in the parent

    def __str__(self) -> str:
        """The value (``complete``), as in messages and files; `enum.StrEnum` does the same."""
        return self.value


#: How the child ran, beside its status and what it returned: what a record of the trial keeps
#: (`TrialOutcome.child_facts`; `tuner.trial.Trial` all of them, tfopt's run records some).
CHILD_FACTS = ("reason", "wall_time", "pid", "peak_rss", "backend", "enforced", "warnings")


@dataclass
class TrialOutcome:
    """One run of one function in one child.

    ``payload`` is what the function returned (JSON data); ``value`` is that payload when it is a
    number. ``peak_rss`` is in bytes; ``backend`` names the limits backend that enforced the
    trial's limits ("none" without limits).
    """

    status: TrialStatus
    payload: Any = None
    value: float | None = None
    reason: str | None = None
    wall_time: float = 0.0
    pid: int | None = None
    peak_rss: int | None = None
    backend: str = "none"
    enforced: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status is TrialStatus.COMPLETE

    @property
    def score(self) -> float:
        """The value to minimise: +inf for any trial that did not produce a number."""
        if self.ok and self.value is not None and math.isfinite(self.value):
            return self.value
        return math.inf

    def child_facts(self) -> dict[str, Any]:
        """`CHILD_FACTS` by name: one copy for every record built from this outcome."""
        return {name: getattr(self, name) for name in CHILD_FACTS}

    def as_dict(self) -> dict:
        data = asdict(self)
        data["status"] = self.status.value
        return data
