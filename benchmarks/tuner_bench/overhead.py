"""Per-trial overhead: a child forked after ``import tensorflow`` against a fresh interpreter.

Four kinds of trial, interleaved round by round so machine noise hits them alike:

- ``fork_noop``: fork, return, reap: the executor's own floor;
- ``fork_tf_op``: fork, set the thread pools, run one op (the child starts TF's runtime);
- ``spawn_noop``: a fresh interpreter running the worker, nothing imported;
- ``spawn_tf_op``: a fresh interpreter that imports TensorFlow and runs one op: what every trial
  would cost without forking.

``python -m benchmarks.tuner_bench.overhead [--rounds 5] [--out results/tuner_overhead.json]``;
medians, spreads and the spawn/fork ratio go to the JSON file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

import tuner
from tuner.limits import current
from tuner.tf import set_threading

QUIET = {"TF_CPP_MIN_LOG_LEVEL": "3"}
HERE = "benchmarks.tuner_bench.overhead"  # by name: under ``python -m`` this module is ``__main__``


def noop() -> int:
    return 0


def tf_op() -> float:
    """Start TensorFlow's runtime with one small op (the first op of any real trial)."""
    import tensorflow as tf

    set_threading([1, 1])
    return float(tf.reduce_sum(tf.ones([8, 8])).numpy())


KINDS = {
    "fork_noop": lambda: tuner.run_in_child(noop),
    "fork_tf_op": lambda: tuner.run_in_child(tf_op),
    "spawn_noop": lambda: tuner.run_in_child(f"{HERE}:noop", mode="spawn", env=QUIET),
    "spawn_tf_op": lambda: tuner.run_in_child(f"{HERE}:tf_op", mode="spawn", env=QUIET),
}


def measure(rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(rounds):
        for kind, run in KINDS.items():
            outcome = run()
            if not outcome.ok:
                raise RuntimeError(f"{kind} trial failed: {outcome.reason}")
            times[kind].append(outcome.wall_time)
    return times


def summary(times: dict[str, list[float]]) -> dict:
    stats: dict[str, dict[str, Any]] = {
        kind: {
            "median_s": statistics.median(values),
            "min_s": min(values),
            "max_s": max(values),
            "runs_s": values,
        }
        for kind, values in times.items()
    }
    fork, spawn = stats["fork_tf_op"]["median_s"], stats["spawn_tf_op"]["median_s"]
    return {"trials": stats, "spawn_over_fork_ratio": spawn / fork}


def environment() -> dict:
    import tensorflow as tf

    return {
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
        "confines": current().as_dict(),
        "affinity": sorted(os.sched_getaffinity(0)),
        "note": "wall time per trial, parent side: start, run, report over the pipe, reap",
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="per-trial overhead of the forking tuner")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("results/tuner_overhead.json"))
    args = parser.parse_args(argv)
    os.environ.update(QUIET)
    import tensorflow  # noqa: F401 - the heavy import forked trials skip

    report = {**summary(measure(args.rounds)), "environment": environment()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    for kind, stats in report["trials"].items():
        print(f"{kind:<12} median {stats['median_s']:.3f} s", file=sys.stderr)
    print(f"spawn/fork   {report['spawn_over_fork_ratio']:.1f}x", file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
