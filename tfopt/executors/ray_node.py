"""What runs on a Ray node: the task that spawns the lab's worker for one run (`measure_on_node`,
made a Ray remote function on first use) and the node's facts a record carries.

The Ray task never imports TensorFlow and never forks: it spawns the lab's worker (``python -m
tuner.worker``, the variant's interpreter, or its Docker image) under the run's limits, with Ray's
thread knobs taken out of the environment and the run's own set. Ray finds the task's function by
this module's path, so the node needs the same ``tfopt`` importable.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import variants as variants_mod

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
RAY_ENV_PREFIX = "RAY_"


def _measure_on_node(run: dict) -> dict:
    """The Ray task: spawn the lab's worker for one run and describe the node it ran on.

    Imports neither TensorFlow nor anything that does; every child is a fresh interpreter."""
    import tuner

    variant = run["variant"]
    options = variants_mod.run_options(variant, variants_mod.interpreter(variant, print))
    options.update(start_method="spawn", env=run["env"])  # never fork a Ray worker
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
    return {**outcome.as_dict(), "node": node}


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
