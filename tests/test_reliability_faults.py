"""Fault injection: ``kill -9`` the lab at seeded random moments of a matrix run, rerun it, and
check that no finished run is lost or measured twice and that the final report holds the same
configurations as an uninterrupted run's.

The labs are real processes with real forked workers (the cheap workload of
``tests/cheap_workload.py``), forked from one process that imported TensorFlow once. Kill points
fall anywhere: at start-up, while a worker measures, while a record, a CSV row or metrics.json is
written, during the environment probe and the final report. The counts are printed (``-s``) and
quoted in the README's Reliability section.
"""

import json
import random
import signal
from collections import Counter
from pathlib import Path

import pytest

from tfopt.export.csv_format import RUN_DATA, RunDataCsv
from tfopt.records import RECORD_PREFIX, RECORD_SUFFIX, read_folder

SEED = 11
FAULTS = 24  # kill points; at least 20 must hit a running lab
CONFIG = {"workload": "tests.cheap_workload:make_model",
          "inputs": "tests.cheap_workload:make_inputs", "sizes": [1, 2], "warmup": 0,
          "repeats": 3, "workers": 2, "mem_trace": {"enabled": False},
          "env": {"CASE": list("abcdefghijkl"),
                  "CHEAP_WORKLOAD_SLEEP": "0.05"}}  # fmt: skip  (runs long enough to be hit)
RUNS = 12 * 2


def measured(out: Path) -> dict[tuple[str, int], tuple]:
    """(run_id, worker) -> what identifies one measurement of it (its worker's pid and start)."""
    found = {}
    for folder in (out / "runs").glob("*/"):
        for record in read_folder(folder):
            found[record.key] = (record.payload["pid"], record.payload["started_at"])
    return found


def record_files(out: Path) -> Counter:
    names = [p.name for p in (out / "runs").glob(f"*/{RECORD_PREFIX}*{RECORD_SUFFIX}")]
    return Counter(names)


def report(out: Path) -> dict[str, int]:
    summary = json.loads((out / "summary.json").read_text())
    return {label: entry["workers"] for label, entry in summary["configs"].items()}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_kill_9_at_random_points_loses_nothing_and_measures_nothing_twice(lab_zygote, tmp_path):
    config = tmp_path / "matrix.json"
    config.write_text(json.dumps(CONFIG))
    reference = tmp_path / "reference"
    lab = lab_zygote.run(["profile", "--config", config, "--out", reference], tmp_path / "ref.log")
    assert lab["exit"] == 0, (tmp_path / "ref.log").read_text()

    out, rng = tmp_path / "faulted", random.Random(SEED)
    seen: dict[tuple[str, int], tuple] = {}
    counts = Counter()
    for _ in range(FAULTS):
        reply = lab_zygote.run(["profile", "--config", config, "--out", out], tmp_path / "f.log",
                               signal=signal.SIGKILL, after=rng.uniform(0.0, 1.5))  # fmt: skip
        counts["attempts"] += 1
        counts["faults survived" if reply["sent"] else "finished before the kill"] += 1
        now = measured(out)  # every record on disk reads whole
        counts["records lost"] += sum(key not in now for key in seen)
        counts["measured twice"] += sum(now[key] != seen[key] for key in seen if key in now)
        seen.update(now)
    final = lab_zygote.run(["profile", "--config", config, "--out", out], tmp_path / "f.log")
    counts["attempts"] += 1
    assert final["exit"] == 0, (tmp_path / "f.log").read_text()[-3000:]
    now = measured(out)
    counts["records lost"] += sum(key not in now for key in seen)
    counts["measured twice"] += sum(now[key] != seen[key] for key in seen if key in now)
    print(f"\nfault injection (seed {SEED}): " + ", ".join(f"{k}: {v}" for k, v in counts.items()))

    assert counts["faults survived"] >= 20
    assert counts["records lost"] == 0 and counts["measured twice"] == 0
    assert len(now) == RUNS and set(record_files(out).values()) == {1}  # each run once
    rows = RunDataCsv(out / RUN_DATA).rows()
    assert sorted((r["run_id"], int(r["worker"])) for r in rows) == sorted(now)  # no duplicate
    assert report(out) == report(reference)  # the same configurations, every worker of each
    assert set(report(out).values()) == {2}
