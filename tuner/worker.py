"""The child side of a trial: run one function and describe what happened as versioned JSON.

Standard library only, so a spawned worker can run under another interpreter (another venv,
another TensorFlow) as long as the project root is importable (e.g. on ``PYTHONPATH``).

Spawn entry point, ``python -m tuner.worker``: reads one task object from stdin::

    {"protocol": 1, "target": "package.module:function", "args": [...], "kwargs": {...},
     "env": {"OMP_NUM_THREADS": "2"}, "path": ["/extra/sys/path"]}

(plus ``"main": "/path/script.py"`` when the target is in the parent's ``__main__`` script,
loaded by path; or, for a function only the parent can see, ``"pickled"``: the function by
value, which needs cloudpickle in the child's interpreter too)

sets ``env`` *before* importing the target (so knobs read at library load take effect), calls
the target, and writes one result line to stdout::

    {"protocol": 1, "status": "complete" | "fail" | "oom", "payload": <JSON data>,
     "value": <float or null>, "reason": <str or null>, "pid": 123, "peak_rss": <bytes>}

While the target runs, its stdout is redirected to stderr, so prints cannot corrupt the result.
The exit code is 0 whenever a result line was written, even for a failed trial.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import traceback
from collections.abc import Callable
from importlib import import_module
from typing import Any

PROTOCOL = 1
MAIN_SCRIPT = "__tuner_main__"  # the module name a spawn task's ``main`` script is loaded under

_reported: list[float] = []
#: How this process began (see `set_start`): what a payload can record.
_start: dict = {"start": None, "import_saved_seconds": 0.0}
_loading_main: list[str] = []  # the script being loaded, while its top level runs


def report(value: float) -> None:
    """Give this trial's objective value explicitly (no stdout parsing, no return needed)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"report() takes a number, got {value!r}")
    _reported[:] = [float(value)]


def reported() -> float | None:
    return _reported[0] if _reported else None


def set_start(how: str, import_saved_seconds: float = 0.0) -> None:
    """Say how this trial child began: ``"fork"`` (from the tuner's process), ``"spawn"`` (a fresh
    interpreter) or ``"zygote"`` (forked from a zygote that had spent ``import_saved_seconds``
    importing its preloaded modules, which this child therefore did not)."""
    _start.update(start=how, import_saved_seconds=float(import_saved_seconds))


def start_info() -> dict:
    """``{"start": "fork" | "spawn" | "zygote" | None, "import_saved_seconds": float}``."""
    return dict(_start)


def resolve(target: str) -> Callable[..., Any]:
    """The function named ``"package.module:function"`` (dots after the colon walk attributes)."""
    if not isinstance(target, str) or target.count(":") != 1:
        raise ValueError(f"target must look like 'package.module:function', got {target!r}")
    module_name, attr_path = target.split(":")
    obj: Any = import_module(module_name)
    for attr in attr_path.split("."):
        obj = getattr(obj, attr)
    if not callable(obj):
        raise TypeError(f"target {target!r} is not callable")
    return obj


def self_peak_rss() -> int:
    """This process's peak resident set in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def as_value(payload: Any) -> float | None:
    """A plain number becomes the trial's objective value; anything else has none."""
    if isinstance(payload, bool) or not isinstance(payload, (int, float)):
        return None
    return float(payload)


def record(status: str, payload: Any = None, reason: str | None = None) -> dict:
    return {
        "protocol": PROTOCOL,
        "status": status,
        "payload": payload,
        "value": as_value(payload),
        "reason": reason,
        "pid": os.getpid(),
        "peak_rss": self_peak_rss(),
    }


def describe(exc: BaseException) -> str:
    """One line naming the exception, then its traceback: the reason of a failed trial."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"{type(exc).__name__}: {exc}\n{text}"


def call(target: Callable[..., Any], args: list | tuple = (), kwargs: dict | None = None) -> dict:
    """Run ``target`` and return its result record; never raises."""
    _reported.clear()
    try:
        payload = target(*args, **(kwargs or {}))
    except MemoryError as exc:
        return record("oom", reason=describe(exc))
    except SystemExit as exc:
        if exc.code not in (0, None):
            return record("fail", reason=f"the trial called sys.exit({exc.code!r})")
        payload = None
    except BaseException as exc:  # noqa: B036 - a trial must never take the worker down
        return record("fail", reason=describe(exc))
    if payload is None and reported() is not None:
        payload = reported()
    return checked(payload)


def checked(payload: Any) -> dict:
    """The record for a returned payload, failed if it cannot travel as JSON."""
    try:
        json.dumps(payload, allow_nan=True)
    except (TypeError, ValueError) as exc:
        return record("fail", reason=f"the trial returned data that is not JSON: {exc}")
    value = as_value(payload)
    if value is not None and not math.isfinite(value):
        return record("fail", payload=None, reason=not_finite(value))
    return record("complete", payload=payload)


def not_finite(value: float) -> str:
    """Why a NaN or infinite objective value fails its trial: no such value can be ranked (-inf
    would beat every measurement, NaN compares with nothing), so it is no measurement."""
    shown = "NaN" if math.isnan(value) else repr(value)
    return f"the objective returned {shown}, not a finite number, so the trial failed"


def unpickled(data: str) -> Callable[..., Any]:
    """A target sent by value (base64 of a cloudpickle): needs cloudpickle in this interpreter."""
    import base64
    import pickle

    return pickle.loads(base64.b64decode(data))


def load_main_script(path: str) -> None:
    """Import the parent's ``__main__`` script by path, as `MAIN_SCRIPT` (so its ``if __name__ ==
    "__main__":`` block does not run), with its folder on ``sys.path`` as when it ran."""
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location(MAIN_SCRIPT, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the script {path}")
    module = sys.modules[MAIN_SCRIPT] = module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(path))
    _loading_main[:] = [path]
    try:
        spec.loader.exec_module(module)
    finally:
        _loading_main.clear()


def check_not_loading_main() -> None:
    """Refuse to start a search from a script's top level while a spawned trial loads it."""
    if _loading_main:
        raise RuntimeError(
            f"{_loading_main[0]} starts the search at its top level, so a spawned trial that "
            f"loads the script to find the objective would start it again: put the call under "
            f'`if __name__ == "__main__":`'
        )


def run_task(task: dict) -> dict:
    """Apply a spawn task's environment and path, then call its target."""
    if task.get("protocol") != PROTOCOL:
        return record("fail", reason=f"task protocol {task.get('protocol')!r}, want {PROTOCOL}")
    os.environ.update({str(k): str(v) for k, v in (task.get("env") or {}).items()})
    sys.path[:0] = [p for p in task.get("path") or [] if p not in sys.path]
    try:
        if task.get("main"):
            load_main_script(task["main"])
        target = unpickled(task["pickled"]) if task.get("pickled") else resolve(task["target"])
    except Exception as exc:
        what = repr(task["target"]) if task.get("target") else "the objective sent by value"
        return record("fail", reason=f"cannot load target {what}: {describe(exc)}")
    return call(target, task.get("args") or [], task.get("kwargs") or {})


def main() -> int:
    result_fd = os.dup(1)
    os.dup2(2, 1)  # the target's prints go to stderr: stdout carries only the result line
    sys.stdout = sys.stderr
    set_start("spawn")
    try:
        task = json.loads(sys.stdin.read())
        result = run_task(task) if isinstance(task, dict) else record("fail", reason="bad task")
    except json.JSONDecodeError as exc:
        result = record("fail", reason=f"the task on stdin is not JSON: {exc}")
    sys.stderr.flush()
    with os.fdopen(result_fd, "w") as out:
        out.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    from tuner import worker  # the importable copy: the one whose report() `tuner.report` reaches

    sys.exit(worker.main())
