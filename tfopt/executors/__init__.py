"""Executors run one job and return its record; the runner only schedules and saves.

One executor per module, behind the small `Executor` interface: ``local`` runs a real child
process (forked, spawned in a variant's interpreter, or a container). Others (a simulated
executor with a known truth, a cluster) plug into `tfopt.runner.Runner` the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..jobs import Job
    from ..records import RunRecord


class Executor(Protocol):
    def execute(self, job: Job, cpuset: str | None = None, gpu: str | None = None) -> RunRecord:
        """Measure ``job`` (on ``cpuset`` and ``gpu`` when given); never raises for a failed run:
        the record's status says what happened."""
        ...

    def can_tandem(self, configs: list[Mapping[str, Any]]) -> bool:
        """Whether workers of these configs can run as one tandem round (`tfopt.tandem`): then
        ``execute`` also takes ``tandem=`` (the worker's side of the turn-taking)."""
        ...

    def trial_options(self, config: Mapping[str, Any]) -> dict:
        """How a child for ``config`` starts (for the tuner, which runs its own children)."""
        ...
