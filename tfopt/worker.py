"""What one measuring worker process does, from a JSON task to a JSON payload.

Runs in a child the tuner starts (forked, or spawned in a variant's interpreter), never in the
lab's own process: TensorFlow's thread pools and oneDNN switch are fixed once it loads. The
environment knobs are already set by the tuner before this module runs; thread counts are set
here, before the model is built.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tuner.worker import start_info

from . import grappler, measure
from .memtrace import MemoryTrace
from .tandem import Baton
from .workloads import resolve

PAYLOAD_SCHEMA = 1
SIDES_SCHEMA = 2  # a task with "sides": several configurations in one process, ABBA


def measure_run(task: dict) -> dict:
    """Build the task's workload, then warm up and time it; returns the measurements."""
    with _run_files(task.get("run_dir"), f"worker{task.get('worker', 0)}"):
        return _measure(task)


def probe_tensorflow(log_dir: str) -> dict:
    """The TensorFlow part of the environment record, its log noise kept in ``log_dir``."""
    with _run_files(log_dir, "environment"):
        return tensorflow_record()


def tensorflow_record() -> dict:
    """Runs in a worker: TF version, build, oneDNN state and default thread pools."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tensorflow.python.util import _pywrap_util_port as port

    import tensorflow as tf

    return {
        "version": tf.__version__,
        "git_version": tf.version.GIT_VERSION,
        "compiler": tf.version.COMPILER_VERSION,
        "build_info": {k: str(v) for k, v in tf.sysconfig.get_build_info().items()},
        "onednn_enabled": bool(port.IsMklEnabled()),
        "onednn_opts_env": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "built_with_xla": bool(port.IsBuiltWithXLA()),
        "python": sys.executable,
        "default_thread_pools": default_thread_pools(tf),
    }


def default_thread_pools(tf) -> dict:
    """The pool sizes TensorFlow picks when nobody sets them, as this process sees them.

    TensorFlow sizes both pools to the cores it may schedule on (``sched_getaffinity``), never to
    a cgroup CPU quota: under ``docker run --cpus=1`` on a many-core host it still starts one
    thread per visible core. The inter-op pool is counted from its live threads after one op; the
    intra-op pool follows the same rule (its threads are not named, so it is not counted).
    """
    tf.reduce_sum(tf.ones([2, 2]))  # starts the runtime (this runs in a throwaway worker)
    inter_op = sum(
        1 for task in Path("/proc/self/task").iterdir()
        if (task / "comm").read_text().strip() == "tf_Compute"
    )  # fmt: skip
    return {
        "inter_op": inter_op,
        "intra_op": len(os.sched_getaffinity(0)),
        "sized_from": "visible cores (sched_getaffinity), not the CPU quota",
    }


def _measure(task: dict) -> dict:
    log = logging.getLogger("tfopt.worker")
    log.info("task %s", task)
    started_at = time.time()
    _set_threads(task.get("threads") or {})
    started = time.perf_counter()
    _import_tensorflow()
    import_seconds = time.perf_counter() - started
    log.info("imported TensorFlow %s in %.2f s", _tensorflow_version(), import_seconds)
    grappler_options = grappler.apply_from_env()  # before any graph is built
    trace = task.get("mem_trace") or {}
    tracing = trace.get("enabled", True)
    sides = task.get("sides") or [{"label": None, "options": task.get("options") or {}}]
    with MemoryTrace(trace.get("interval", 5.0), trace.get("top", 5) if tracing else 0) as memory:
        started = time.perf_counter()
        workload = resolve(**task["workload"])
        built = [_build(workload, side["options"], task) for side in sides]
        build_seconds = time.perf_counter() - started
        log.info("built %s %d time(s) and made first calls in %.2f s", workload.spec,
                 len(sides), build_seconds)  # fmt: skip
        memory.stop_tracing()
        with _baton(task.get("tandem")) as baton:
            results = measure.run_sides(
                [model.predict for model, _ in built],
                [inputs for _, inputs in built],
                warmup_sweeps=task.get("warmup", 1),
                repeats=task.get("repeats"),
                duration=task.get("duration"),
                turns=baton.turns if baton else None,
            )
        _measure_concurrency(results, built, task.get("concurrency"))
    log.info("measured %d sweeps of %d side(s)", len(results[0]["sweeps"]), len(sides))
    start = start_info()
    by_side = {"sides": {side["label"]: result for side, result in zip(sides, results,
                                                                       strict=True)}}  # fmt: skip
    return {
        "schema": SIDES_SCHEMA if task.get("sides") else PAYLOAD_SCHEMA,
        **results[0],  # the first side's figures at the top: run_data.csv's row shows them
        **(by_side if task.get("sides") else {}),
        "build_seconds": build_seconds,
        "start": start["start"],  # how this worker began: "zygote", "fork" or "spawn"
        "import_seconds": import_seconds,  # this worker's own TensorFlow import
        "import_saved_seconds": start["import_saved_seconds"],  # its zygote's, done once
        "unit": workload.unit,
        "details": built[0][0].details,  # inputs and output checks: the first side's
        "tensorflow": _tensorflow_version(),
        "grappler": grappler_options,
        "tandem": baton.record() if baton else None,
        "python": platform.python_version(),
        "pid": os.getpid(),
        "affinity": sorted(os.sched_getaffinity(0)),
        "gpus": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "started_at": started_at,
        "ended_at": time.time(),
    }


@contextlib.contextmanager
def _baton(spec: dict | None) -> Iterator[Baton | None]:
    """This worker's side of a tandem round, if the task runs in one."""
    baton = Baton.from_task(spec)
    try:
        yield baton
    finally:
        if baton:
            baton.close()


def _build(workload, options: dict, task: dict) -> tuple:
    built = workload.build(options)
    inputs = {size: built.make_input(size, task.get("seed", 0)) for size in task["sizes"]}
    built.predict(inputs[min(inputs)])  # models may load, trace or compile on first use
    return built, inputs


def _measure_concurrency(results: list[dict], built: list, levels: list[int] | None) -> None:
    """After the sweeps, each side's rows per second with N requests at once (N in ``levels``,
    at most the visible cores), in its result's ``concurrency``."""
    if not levels:
        return
    cores = len(os.sched_getaffinity(0))
    levels = [n for n in levels if n <= cores] or [1]
    for result, (model, inputs) in zip(results, built, strict=True):
        result["concurrency"] = measure.concurrency_sweep(model.predict, inputs, levels)


def _set_threads(threads: dict) -> None:
    inter, intra = threads.get("inter") or 0, threads.get("intra") or 0
    if inter or intra:
        from tuner.tf import set_threading

        set_threading([inter, intra])


def _import_tensorflow() -> None:
    """Before allocation tracing starts: tracing the import itself would take many times longer."""
    with contextlib.suppress(ImportError):
        import tensorflow  # noqa: F401


def _tensorflow_version() -> str | None:
    module = sys.modules.get("tensorflow")
    return getattr(module, "__version__", None)


@contextlib.contextmanager
def _run_files(run_dir: str | None, stem: str) -> Iterator[None]:
    """Send this process's log, stdout and stderr (C++ logs too) to files in its run folder."""
    if not run_dir:
        yield
        return
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / f"{stem}.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s] %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(folder / f"{stem}.out", "ab") as out, open(folder / f"{stem}.err", "ab") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            root.removeHandler(handler)
            handler.close()


def tuning_objective(task: dict, knobs: dict) -> float:
    """The tuner's objective: median sweep seconds under the trial's thread counts.

    ``OMP_NUM_THREADS`` (an upper-case knob) is already in the environment, set by the tuner.
    """
    threads = {"inter": knobs.get("inter", 0), "intra": knobs.get("intra", 0)}
    payload = measure_run({**task, "threads": threads, "concurrency": None})
    sweeps = sorted(payload["sweeps"])
    return sweeps[len(sweeps) // 2]
