"""Measured runs on a Ray cluster: at most one per node, the lab's worker in a fresh process.

The driver's side. Where a run may go, and the connection, are in `ray_cluster`; the Ray task
that spawns the lab's worker on the node is in `ray_node`. Only the driver stores records: the
task sends back the outcome and the node's facts (CPU model, ISA flags, cores, kernel, steal
time, TensorFlow build), and `RayExecutor` turns them into the same `RunRecord` a local run
makes. A run whose node is lost is tried again on another node, and after ``tries`` losses it is
reported failed with every reason, never dropped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .. import variants as variants_mod
from ..jobs import Job, env_for, task_for
from ..records import RunRecord
from .ray_cluster import describe_placement, measuring_nodes, placement
from .ray_node import measure_on_node

TRIES = 3
NODE_WAIT = 60.0  # seconds a run waits for a live node that can take it, per try
POLL = 1.0
NODE_COLUMNS = ("machine_type", "host", "node_id", "cpu_model", "kernel",
                "steal_seconds_during_run")  # fmt: skip


class RayExecutor:
    """Sends each job to a Ray node that may measure; thread-safe, one call per run in flight."""

    def __init__(
        self,
        out: Path,
        variants: dict[str, variants_mod.Variant],
        note: Callable[[str], None],
        tries: int = TRIES,
        node_wait: float = NODE_WAIT,
    ):
        self.out, self.variants, self.note = Path(out), variants, note
        self.tries, self.node_wait = tries, node_wait
        self._builds: dict[tuple[str, str], dict] = {}  # (node id, variant) -> TF build
        self._lock = threading.Lock()

    # --- the Executor interface --------------------------------------------------------------

    def execute(self, job: Job, cpuset: str | None = None, gpu: str | None = None) -> RunRecord:
        """Measure ``job`` on some node (``cpuset``/``gpu`` are the node's business here)."""
        losses: list[str] = []
        for attempt in range(1, self.tries + 1):
            try:
                result = self._dispatch(job)
            except NodeLost as lost:
                losses.append(f"try {attempt}: {lost}")
                self.note(f"{job.label} worker {job.worker}: {lost}; "
                          f"{'retrying' if attempt < self.tries else 'giving up'}")  # fmt: skip
                continue
            return self._record(job, result)
        reason = f"no node finished this run in {self.tries} tries:\n" + "\n".join(losses)
        return self._record(job, {"status": "fail", "reason": reason, "node": {}})

    def can_tandem(self, configs: list[Mapping[str, Any]]) -> bool:
        """A round's workers may land on different nodes."""
        return False

    def trial_options(self, config: Mapping[str, Any]) -> dict:
        """The tuner starts its own children where it runs: it is not sent to the cluster."""
        raise NotImplementedError("tuning runs on this machine; the Ray engine runs matrices")

    # --- cluster state -----------------------------------------------------------------------

    def slots(self) -> int:
        """How many runs may be in flight: one per live node that may measure."""
        return len(measuring_nodes(None))

    # --- one run ------------------------------------------------------------------------------

    def _dispatch(self, job: Job) -> dict:
        import ray

        config = job.perm.config
        variant = self.variants[config["variant"]]
        with self._lock:
            probed = [node for node, name in self._builds if name == variant.name]
        run = {"task": task_for(job), "env": env_for(config, variant), "variant": variant,
               "cpus": config["cpus"], "memory": config["memory"], "timeout": config["timeout"],
               "machine_type": config.get("node"), "probed": probed}  # fmt: skip
        ref = measure_on_node.options(**placement(config.get("node"))).remote(run)
        try:
            return self._await(ref, config.get("node"))
        except ray.exceptions.RayTaskError as err:  # the task itself failed: not the node's loss
            cause = getattr(err, "cause", None) or err
            reason = f"the Ray task failed: {type(cause).__name__}: {cause}\n{err}"
            return {"status": "fail", "reason": reason, "node": {}}
        except ray.exceptions.RayError as err:  # the node, its worker or the object went away
            raise NodeLost(_first_line(str(err))) from None

    def _await(self, ref, machine_type: str | None) -> dict:
        """The task's result; a task no live node can take is cancelled after ``node_wait``."""
        import ray

        homeless_since = None
        while True:
            ready, _ = ray.wait([ref], timeout=POLL)
            if ready:
                return ray.get(ref)
            if measuring_nodes(machine_type):
                homeless_since = None
                continue
            homeless_since = homeless_since or time.monotonic()
            if time.monotonic() - homeless_since > self.node_wait:
                ray.cancel(ref, force=True)
                raise NodeLost(f"no live node offers {describe_placement(machine_type)} "
                               f"for {self.node_wait:g} s")  # fmt: skip

    def _record(self, job: Job, result: dict) -> RunRecord:
        node = self._with_build(result["node"], job.perm.config["variant"])
        payload = result.get("payload") if isinstance(result.get("payload"), dict) else None
        reason = result.get("reason")
        if reason and node.get("host"):
            reason = f"on node {node['host']} ({node['node_id'][:8]}): {reason}"
        changed = {"payload": {**(payload or {}), "node": node}, "reason": reason,
                   "backend": f"ray/{result.get('backend', 'none')}"}  # fmt: skip
        return NodeRunRecord.of_outcome(
            {**result, **changed},
            run_id=job.perm.run_id,
            worker=job.worker,
            label=job.label,
            params=job.perm.run_params,
            folder=str(job.folder.relative_to(self.out)),
        )

    def _with_build(self, node: dict, variant: str) -> dict:
        """Every record carries its node's TensorFlow build, probed once per node and variant."""
        if not node.get("node_id"):
            return node
        key = (node["node_id"], variant)
        with self._lock:
            if node.get("tensorflow"):
                self._builds[key] = node["tensorflow"]
            return {**node, "tensorflow": self._builds.get(key)}


class NodeRunRecord(RunRecord):
    """A run record whose CSV row also names the node that measured it."""

    def row(self) -> dict:
        node = (self.payload or {}).get("node") or {}
        return {**super().row(), **{f"node.{key}": node.get(key, "") for key in NODE_COLUMNS}}


class NodeLost(Exception):
    """The run's node (or its Ray worker) went away before the run came back."""


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else "lost"
