"""What a tuning objective measures: the key of its trial log.

A trial's value depends on the workload and its inputs, the execution options, the sizes, the
timing settings, the limits, the environment and the TensorFlow build; a log written under any
other of these would hand back values for something else. The lab keys each log by all of them
(`objective_key`) and names it after that key (`log_name`): another objective starts its own log,
and `tuner.TrialLog` refuses a log whose header holds another key, naming what differs.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform

from .variants import STOCK, Variant

# Task entries that say where a trial writes, not what it measures.
_PLACE_KEYS = ("run_dir", "worker", "mem_trace")  # where and what it logs, not its value


def objective_key(task: dict, config: dict, env: dict[str, str], variant: Variant) -> dict:
    """Everything that changes the tuning objective's value, as JSON data."""
    return {
        "task": {k: v for k, v in task.items() if k not in _PLACE_KEYS},
        "cpus": config["cpus"],
        "memory": config["memory"],
        "env": dict(sorted(env.items())),
        "variant": variant.describe() if variant.kind != STOCK else STOCK,
        "tensorflow": _tensorflow_here() if variant.kind == STOCK else None,
        "python": platform.python_version(),
    }


def log_name(key: dict) -> str:
    digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    return f"tuning-{digest[:12]}.jsonl"


def _tensorflow_here() -> str | None:
    """The installed TensorFlow's version, read without importing it."""
    for dist in ("tensorflow", "tensorflow-cpu", "tf-nightly"):
        try:
            return f"{dist}=={importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return None
