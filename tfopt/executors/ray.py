"""Measured runs on a Ray cluster: at most one per node, the lab's worker in a fresh process.

A node that may measure declares the custom resource ``tfopt`` = 1 (``ray start --resources
'{"tfopt": 1}'``); every run asks for all of it, so a node measures one run at a time and runs
nothing else of ours meanwhile. The Ray task never imports TensorFlow and never forks: it spawns
the lab's worker (``python -m tuner.worker``, the variant's interpreter, or its Docker image) under
the run's limits, with Ray's thread knobs taken out of the environment and the run's own set.

Only the driver stores records: the task sends back the outcome and the node's facts (CPU model,
ISA flags, cores, kernel, steal time, TensorFlow build), and `RayExecutor` turns them into the
same `RunRecord` a local run makes. A run whose node is lost is tried again on another node, and
after ``tries`` losses it is reported failed with every reason, never dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .. import variants as variants_mod
from ..jobs import Job, env_for, task_for
from ..records import RunRecord

RESOURCE = "tfopt"
# A fraction of a machine-type resource is enough to route: ``tfopt: 1`` already keeps one run
# per node, and every node of the type declares the type's resource (any amount >= this).
TYPE_SHARE = 0.001
TRIES = 3
NODE_WAIT = 60.0  # seconds a run waits for a live node that can take it, per try
POLL = 1.0
WORKER_TARGET = "tfopt.worker:measure_run"
TF_DISTRIBUTIONS = ("tensorflow-cpu", "tensorflow", "tensorflow-intel", "intel-tensorflow",
                    "tf-nightly-cpu", "tf-nightly")  # fmt: skip
# What a Ray worker's environment has that a measured run must not inherit: Ray sets
# OMP_NUM_THREADS (to the task's CPUs, at least 1); the others are thread knobs a node may carry.
THREAD_KNOBS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "TF_NUM_INTRAOP_THREADS",
)
RAY_ENV = ("PYTHONBREAKPOINT", "SPT_NOENV")
NODE_COLUMNS = ("machine_type", "host", "node_id", "cpu_model", "kernel",
                "steal_seconds_during_run")  # fmt: skip
RAY_ENV_PREFIX = "RAY_"


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
        return len(_measuring_nodes(None))

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
            if _measuring_nodes(machine_type):
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
        return NodeRunRecord(
            run_id=job.perm.run_id,
            worker=job.worker,
            label=job.label,
            status=result["status"],
            params=job.perm.run_params,
            payload={**(payload or {}), "node": node},
            reason=reason,
            wall_time=result.get("wall_time", 0.0),
            peak_rss=result.get("peak_rss"),
            backend=f"ray/{result.get('backend', 'none')}",
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


def placement(machine_type: str | None) -> dict:
    """Ray task options: all of a node's ``tfopt`` resource, on a node of ``machine_type``.

    ``machine_type`` is a node label (``key=value``, as ``ray start --labels``) or the name of a
    custom resource the nodes of that type declare (``cpu:epyc-9004``)."""
    options: dict = {"num_cpus": 0, "max_retries": 0, "resources": {RESOURCE: 1}}
    if machine_type and "=" in machine_type:
        key, _, value = machine_type.partition("=")
        options["label_selector"] = {key: value}
    elif machine_type:
        options["resources"][machine_type] = TYPE_SHARE
    return options


def describe_placement(machine_type: str | None) -> str:
    if not machine_type:
        return f"the resource {RESOURCE!r}"
    kind = "label" if "=" in machine_type else "resource"
    return f"the resource {RESOURCE!r} and the {kind} {machine_type!r}"


def _measuring_nodes(machine_type: str | None) -> list[dict]:
    """Live nodes that may take a run of ``machine_type``."""
    import ray

    return [node for node in ray.nodes() if node["Alive"] and _fits(node, machine_type)]


def _fits(node: dict, machine_type: str | None) -> bool:
    resources, labels = node.get("Resources", {}), node.get("Labels") or {}
    if resources.get(RESOURCE, 0) < 1:
        return False
    if not machine_type:
        return True
    if "=" in machine_type:
        key, _, value = machine_type.partition("=")
        return labels.get(key) == value
    return resources.get(machine_type, 0) >= TYPE_SHARE


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else "lost"


# --- on the node -------------------------------------------------------------------------------


def _measure_on_node(run: dict) -> dict:
    """The Ray task: spawn the lab's worker for one run and describe the node it ran on.

    Imports neither TensorFlow nor anything that does; every child is a fresh interpreter."""
    import tuner

    variant = run["variant"]
    options = variants_mod.run_options(variant, variants_mod.interpreter(variant, print))
    options.update(mode="spawn", env=run["env"])  # never fork a Ray worker
    if "backend" not in options:  # a container ends with its Docker run; a process may outlive us
        options["python"] = dies_with_parent(options.get("python") or sys.executable)
    node = node_facts(run["machine_type"])
    steal_before = steal_seconds()
    limits = tuner.Limits(cpus=run["cpus"], memory=run["memory"])
    with ray_knobs_removed():
        if node["node_id"] not in run["probed"]:
            node["tensorflow"] = _probe_build(run, options)
        outcome = tuner.run_in_child(WORKER_TARGET, run["task"], timeout=run["timeout"],
                                     limits=limits, **options)  # fmt: skip
    steal_after = steal_seconds()
    if steal_before is not None and steal_after is not None:
        node["steal_seconds_during_run"] = round(steal_after - steal_before, 3)
    return {
        "status": outcome.status.value,
        "payload": outcome.payload,
        "reason": outcome.reason,
        "wall_time": outcome.wall_time,
        "peak_rss": outcome.peak_rss,
        "backend": outcome.backend,
        "node": node,
    }


def _probe_build(run: dict, options: dict) -> dict | None:
    """The TensorFlow build this variant's worker gets on this node, read in its own child from
    the installed distribution's metadata (no TensorFlow import: a run costs one, not two)."""
    import tuner

    outcome = tuner.run_in_child(f"{__name__}:tensorflow_build", timeout=120, **options)
    return outcome.payload if outcome.ok else None


def tensorflow_build() -> dict | None:
    """Name, version and wheel tags of the TensorFlow distribution this interpreter imports."""
    from importlib import metadata

    for name in TF_DISTRIBUTIONS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        wheel = dist.read_text("WHEEL") or ""
        tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines()
                if line.startswith("Tag:")]  # fmt: skip
        return {"distribution": name, "version": dist.version, "wheel_tags": tags,
                "location": str(dist.locate_file(""))}  # fmt: skip
    return None


def dies_with_parent(python: str) -> str:
    """An interpreter that is killed when the process that started it dies.

    A Ray worker killed with its node or its driver cannot stop the run it spawned (that run has
    its own process group); left running, it would share the node with the next measured run.
    ``setpriv --pdeathsig`` (util-linux) arms the kernel to kill it instead. Without setpriv the
    interpreter is returned unchanged."""
    if not shutil.which("setpriv"):
        return python
    folder = Path(tempfile.gettempdir()) / "tfopt-ray"
    folder.mkdir(exist_ok=True)
    wrapper = folder / f"python-{hashlib.sha1(python.encode()).hexdigest()[:12]}"
    if not wrapper.exists():
        staged = wrapper.with_suffix(f".{os.getpid()}")
        staged.write_text(f'#!/bin/sh\nexec setpriv --pdeathsig KILL -- "{python}" "$@"\n')
        staged.chmod(0o755)
        os.replace(staged, wrapper)
    return str(wrapper)


def _ray_task():
    import ray

    return ray.remote(_measure_on_node)


class _LazyRemote:
    """The Ray task, made on first use: importing this module must not need Ray."""

    _task: Any = None  # a Ray remote function

    def options(self, **options):
        if self._task is None:
            type(self)._task = _ray_task()
        return self._task.options(**options)


measure_on_node = _LazyRemote()


@contextlib.contextmanager
def ray_knobs_removed() -> Iterator[None]:
    """Take Ray's variables and thread knobs out of this Ray worker's environment while a run
    starts, so the spawned worker sees only the node's own environment plus the run's knobs."""
    removed = {name: os.environ.pop(name) for name in list(os.environ) if _from_ray(name)}
    try:
        yield
    finally:
        os.environ.update(removed)


def _from_ray(name: str) -> bool:
    return name in THREAD_KNOBS or name in RAY_ENV or name.startswith(RAY_ENV_PREFIX)


def node_facts(machine_type: str | None = None) -> dict:
    """What a record says about the node that measured it; ``machine_type`` names its group in
    the report (the routing value when the run was routed, else the CPU model)."""
    import ray

    from ..environment import cpu_record, host_record

    cpu = cpu_record()
    return {
        "machine_type": machine_type or cpu["model"],
        "node_id": ray.get_runtime_context().get_node_id(),
        "host": platform.node(),
        "cpu_model": cpu["model"],
        "isa": cpu["isa"],
        "logical_cores": cpu["logical_cores"],
        "visible_cores": len(cpu["visible_cores"]),
        "kernel": platform.release(),
        "in_container": host_record()["in_container"],
        "steal_seconds": steal_seconds(),
    }


def steal_seconds(stat: Path = Path("/proc/stat")) -> float | None:
    """CPU time stolen by the hypervisor since boot, all CPUs; None where it is not visible."""
    try:
        fields = stat.read_text().splitlines()[0].split()
    except OSError:
        return None
    if fields[0] != "cpu" or len(fields) < 9:
        return None
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")


# --- the connection ------------------------------------------------------------------------------


@contextlib.contextmanager
def connected(address: str | None, note: Callable[[str], None]) -> Iterator[None]:
    """Connect to the cluster at ``address``; without one, start a local Ray whose only node
    measures (``tfopt: 1``), and stop it afterwards."""
    import ray

    started = time.monotonic()
    if address:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    else:
        ray.init(address="local", resources={RESOURCE: 1}, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)  # fmt: skip
    try:
        nodes = _measuring_nodes(None)
        note(f"ray: connected in {time.monotonic() - started:.1f} s; {len(nodes)} node(s) offer "
             f"{RESOURCE!r}")  # fmt: skip
        if not nodes:
            raise RuntimeError(
                f"no node of the Ray cluster at {address} offers the resource {RESOURCE!r}: "
                f"start measuring nodes with ray start --address {address} "
                f"--resources '{{\"{RESOURCE}\": 1}}'"
            )
        yield
    finally:
        ray.shutdown()
