"""The tuner's own benchmarks, run from the command line as the README says, with one round."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"fork_noop", "fork_tf_op", "spawn_noop", "spawn_tf_op"}


@pytest.mark.slow  # imports TensorFlow in the parent and in a fresh interpreter: ~15-30 s
def test_the_overhead_benchmark_reports_every_kind_and_spawn_costs_more_than_fork(tmp_path):
    out = tmp_path / "overhead.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.tuner_bench.overhead", "--rounds", "1",
         "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert set(report) == {"trials", "spawn_over_fork_ratio", "environment"}
    assert set(report["trials"]) == KINDS
    for stats in report["trials"].values():
        assert set(stats) == {"median_s", "min_s", "max_s", "runs_s"}
        assert len(stats["runs_s"]) == 1
    assert {"tensorflow", "python", "confines", "affinity"} <= set(report["environment"])
    assert report["spawn_over_fork_ratio"] > 1  # a fresh interpreter re-imports TensorFlow
