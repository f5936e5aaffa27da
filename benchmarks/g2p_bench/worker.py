"""One benchmark task in its own process:
`python -m benchmarks.g2p_bench.worker TASK.json RESULT.json`.

The parent (`benchmarks.g2p_bench.__main__`) starts one worker per contender, so no contender
inherits another's threads, caches or compiled graphs. The worker pins itself to one core before
importing any numeric library and writes a versioned JSON result; the two sides share nothing else.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tuner.tf import set_threading

SCHEMA = 1
ROOT = str(Path(__file__).resolve().parents[2])  # where `benchmarks` is importable from
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "TF_NUM_INTRAOP_THREADS",
)


def single_thread_environment() -> dict[str, str]:
    """Environment for a worker: one thread in every pool it may start; the repo importable."""
    path = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": path,
            **dict.fromkeys(THREAD_VARIABLES, "1")}  # fmt: skip


def pin(core: int) -> None:
    os.sched_setaffinity(0, {core})


def run_peak(task: dict) -> dict:
    set_threading([1, 1])  # one inter-op, one intra-op thread
    from .flops import numpy_gemm_flops, tensorflow_gemm_flops

    seconds = 0.5 if task["quick"] else 2.0
    rates = {
        "numpy": numpy_gemm_flops(task["gemm_size"], seconds),
        "tensorflow": tensorflow_gemm_flops(task["gemm_size"], seconds),
    }
    peak = max(rate["best"] for rate in rates.values())
    return {"gemm_flops": rates, "peak_flops": peak, "gemm_size": task["gemm_size"]}


def run_contender(task: dict) -> dict:
    from . import measure
    from .contenders import load

    budget = measure.QUICK if task["quick"] else measure.FULL
    words, single = task["words"], task["words"][: task["single_word_calls"]]
    result: dict = {"throughput": {}}
    for batch_size in task["batch_sizes"]:
        predict = load(task["name"], batch_size)
        if batch_size == 1:
            result["throughput"]["1"], result["latency"] = measure.single_words(
                predict, single, budget
            )
        else:
            result["throughput"][str(batch_size)] = measure.throughput(predict, words, budget)
    result["predictions"] = predict(words)
    return result


def run_anatomy(task: dict) -> dict:
    set_threading([1, 1])  # one inter-op, one intra-op thread
    from .anatomy import anatomy

    return {"mode": task["mode"], **anatomy(task["mode"], task["words"])}


TASKS = {"peak": run_peak, "contender": run_contender, "anatomy": run_anatomy}


def main(argv: list[str]) -> int:
    task_path, result_path = argv
    with open(task_path) as file:
        task = json.load(file)
    pin(task["core"])
    result = {"schema": SCHEMA, "task": task["task"], **TASKS[task["task"]](task)}
    with open(result_path, "w") as file:
        json.dump(result, file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
