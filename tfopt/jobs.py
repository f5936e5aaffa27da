"""A job is one measured worker run: a permutation (the configuration) and a worker index.

The worker index doubles as the round number: worker k of A and worker k of B belong together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import variants as variants_mod
from .matrix import Permutation
from .matrix_keys import KNOB_ENV, MemTrace
from .workloads.savedmodel import concurrency_levels


@dataclass(frozen=True)
class Job:
    perm: Permutation
    worker: int
    label: str
    folder: Path

    @property
    def key(self) -> tuple[str, int]:
        return self.perm.run_id, self.worker

    @property
    def cores_needed(self) -> int | None:
        cpus = self.perm.config.get("cpus")
        return None if cpus is None else max(1, int(-(-cpus // 1)))


def jobs_for(perms: list[Permutation], labels: list[str], folders: list[Path], workers: int):
    """Interleaved order: worker 0 of every permutation, then worker 1 of each (ABAB...)."""
    return [
        Job(perm, worker, label, folder)
        for worker in range(workers)
        for perm, label, folder in zip(perms, labels, folders, strict=True)
    ]


def task_for(job: Job) -> dict:
    config = job.perm.config
    return {
        "workload": {k: config[k] for k in ("inputs", "signature", "input")}
        | {"spec": config["workload"]},
        "options": {k: config[k] for k in ("mode", "batch_size", "bucket")},
        "threads": {k: config["knobs"].get(k) for k in ("inter", "intra")},
        "sizes": config["sizes"],
        "seed": config["seed"],
        "warmup": config["warmup"],
        "repeats": config["repeats"],
        "duration": config["duration"],
        "concurrency": concurrency_levels(config),  # requests at once, after the sweeps
        "run_dir": str(job.folder),
        "worker": job.worker,
        "mem_trace": mem_trace_for(config["mem_trace"], job.worker),
        "sides": config.get("sides"),  # configurations sharing this process (tfopt.interleave)
    }


def mem_trace_for(trace: MemTrace, worker: int | None) -> MemTrace:
    """Allocation tracing (tracemalloc) slows a model's build by seconds: worker 0 of a run
    traces the top allocations, the other workers (``worker`` None: a tuning trial) log their RSS
    and peak only."""
    return trace if worker == 0 else {**trace, "top": 0}


def env_for(config: Mapping[str, Any], variant: variants_mod.Variant) -> dict[str, str]:
    """Env knobs as the child must see them before TensorFlow loads."""
    env = {"TF_CPP_MIN_LOG_LEVEL": "1", **variant.env}
    for knob, name in KNOB_ENV.items():
        value = config["knobs"].get(knob)
        if value is not None:
            env[name] = str(int(value)) if isinstance(value, bool) else str(value)
    env.update({k: str(v) for k, v in config["env"].items()})
    return env
