"""The default lab end to end on the real g2p model: every results file, readable from JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_lab_on_g2p_writes_the_whole_results_folder(tmp_path):
    """A trimmed --quick (two sizes, two steps, two tuner trials) to keep the suite's budget."""
    done = subprocess.run(
        [sys.executable, "profile.py", "--quick", "--sizes", "1,6", "--steps", "graph,threads",
         "--tune-budget", "2", "--out", str(tmp_path), "--json"],
        cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True,
        text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["best"] == summary["best"]

    env = summary["environment"]
    assert env["tensorflow"]["version"] and "onednn_enabled" in env["tensorflow"]
    assert env["cpu"]["isa"] and env["limits"]["visible_cores"] >= 1
    assert set(summary["configs"]) == {"initial", "graph", "threads"} or set(
        summary["configs"]) == {"initial", "graph"}  # threads is skipped if tuning changes nothing
    initial = summary["configs"]["initial"]
    assert initial["params"]["mode"] is None and initial["workers"] == 3  # --quick: 3 final rounds
    assert set(initial["by_size"]) == {"1", "6"}
    for key in ("p50", "p90", "p99", "mean", "std"):
        assert initial["sweep"][key] > 0
    speedup = summary["speedup"]
    assert speedup["ci95"][0] <= speedup["value"] <= speedup["ci95"][1]
    graph = next(step for step in summary["steps"] if step["name"] == "graph")
    assert graph["vs_initial"]["value"] > 1  # eager word by word is never faster than a graph
    assert summary["tuning"]["trials"] >= 2

    for name in ("initial.png", "graph.png", "report.md", "run_data.csv"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert Path(summary["tuning"]["log"]).stat().st_size > 0  # tuning-<objective key>.jsonl
    report = (tmp_path / "report.md").read_text()
    assert "| graph |" in report and "speedup vs initial" in report
    assert "ETA" in done.stderr


@pytest.mark.parametrize("interrupted", [False, True])
def test_tuning_trials_run_the_configuration_they_tune(tmp_path, monkeypatch, interrupted):
    """The threads step tunes the configuration kept so far: its env knobs (oneDNN here) reach
    every trial's child, and a Ctrl-C inside the tuner stops the lab (the log keeps the trials).
    The tuner is replaced by a recorder: what is checked is what the lab asks of it."""
    import tuner
    from tfopt.lab import Lab, LabSettings
    from tfopt.matrix import with_updates

    asked = {}

    def recording_minimize(objective, space, **options):
        asked.update(options, space=space)
        return tuner.Result({"inter": 1, "intra": 2, "OMP_NUM_THREADS": 1}, 0.01, [], [],
                            interrupted=interrupted)  # fmt: skip

    monkeypatch.setattr(tuner, "minimize", recording_minimize)
    lab = Lab(LabSettings(base={"workload": "g2p"}, steps=["threads"]), tmp_path)
    without_onednn = with_updates(lab.initial, {"knobs.onednn": False})
    if interrupted:
        with pytest.raises(KeyboardInterrupt):
            lab.tune(without_onednn)
        return
    assert lab.tune(without_onednn) == {"inter": 1, "intra": 2, "omp": 1}
    assert asked["env"]["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert asked["start_method"] == "fork"
    assert set(asked["space"]) == {"inter", "intra", "OMP_NUM_THREADS"}


def test_the_best_comes_from_the_final_rounds_never_from_screening():
    """The final rounds alone decide: the fastest configuration faster than initial that no
    other beats, whatever screening kept (onednn) or dropped (batching)."""
    from tests.summaries import record
    from tfopt.recommend import best_and_tied
    from tfopt.summary import config_entry

    medians = {"initial": 0.090, "onednn": 0.0159, "xla": 0.0160, "batching": 0.0136}
    configs = {label: config_entry(label, {}, [record(label, m, w) for w in range(6)])
               for label, m in medians.items()}  # fmt: skip
    assert best_and_tied(configs, "initial", 0.05, 0.05)[0] == "batching"
    slower = {label: configs[label] for label in ("initial", "onednn")}
    slower["onednn"] = config_entry("onednn", {}, [record("onednn", 0.2, w) for w in range(6)])
    assert best_and_tied(slower, "initial", 0.05, 0.05) == ("initial", [])
