"""Real worker processes on a real (small, trained) TensorFlow model: run folders, write-as-you-go,
resume after a real SIGINT, and the A/A check. The workload is the worked example
``examples/workloads/syllables.py`` (a Keras model trained on CMUdict, cached as a SavedModel)."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tfopt.stats import FASTER, INCONCLUSIVE, NO_DIFFERENCE, PAIRED_TEST, SLOWER
from tfopt.summary import comparison

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = {
    "workload": "examples.workloads.syllables:make_model",
    "inputs": "examples.workloads.syllables:make_inputs",
    "sizes": [1, 16],
    "warmup": 1,
    "repeats": 5,
    "workers": 1,
    "mem_trace": {"interval": 0.5, "top": 3},
}
VERDICTS = (FASTER, SLOWER, NO_DIFFERENCE, INCONCLUSIVE)


@pytest.fixture(scope="module", autouse=True)
def trained_example_model():
    """Train (or find cached) the example model once, in a child: no TensorFlow in pytest."""
    done = subprocess.run([sys.executable, "-c", "from examples.workloads import syllables; "
                           "print(syllables.saved_model())"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=_env())  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


def _env() -> dict:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}


def start(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "profile.py", *args], cwd=ROOT, env=env or _env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def run(*args: str, timeout: int = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    process = start(*args, env=env)
    out, err = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def rows(out: Path) -> list[dict]:
    path = out / "run_data.csv"
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def write_config(path: Path, **extra) -> Path:
    path.write_text(json.dumps({**WORKLOAD, **extra}))
    return path


@pytest.mark.slow
def test_experiment_writes_run_folders_and_a_rerun_skips_finished_runs(tmp_path):
    config = write_config(tmp_path / "c.json", batch_size=[4, 64])
    out = tmp_path / "out"
    first = run("--config", str(config), "--out", str(out), "--json")
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout)
    assert summary["kind"] == "matrix" and len(summary["configs"]) == 2
    assert all(entry["workers"] == 1 for entry in summary["configs"].values())
    assert len(rows(out)) == 2 and {r["status"] for r in rows(out)} == {"complete"}
    for row in rows(out):
        folder = out / row["folder"]
        assert {"worker0.log", "worker0.out", "worker0.err", "metrics.json", "latency.png"} <= {
            p.name for p in folder.iterdir()}  # fmt: skip
        log = (folder / "worker0.log").read_text()
        assert "memory periodic: rss=" in log and "peak=" in log and " top 1: " in log
    for name in ("summary.json", "report.md", "configs.png"):
        assert (out / name).exists()
    assert "[2/2]" in first.stderr  # progress with counts and an ETA went to stderr
    assert "ETA" in first.stderr

    again = run("--config", str(config), "--out", str(out), "--json")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming: 2 finished run(s)" in again.stderr
    assert len(rows(out)) == 2  # nothing measured twice


@pytest.mark.slow
def test_sigint_mid_run_keeps_finished_runs_and_a_rerun_resumes(tmp_path):
    config = write_config(tmp_path / "c.json", batch_size=[4, 64])
    out = tmp_path / "out"
    process = start("--config", str(config), "--out", str(out))
    deadline = time.monotonic() + 300
    while not rows(out) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert rows(out), "no run finished in time"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-3000:]
    assert "interrupted" in err and "resume" in err
    finished = rows(out)
    assert len(finished) == 1

    rerun = run("--config", str(config), "--out", str(out))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"resuming: {len(finished)} finished run(s)" in rerun.stderr
    final = rows(out)
    keys = [(r["run_id"], r["worker"]) for r in final if r["status"] == "complete"]
    assert len(keys) == 2 and len(set(keys)) == 2
    assert final[: len(finished)] == finished  # nothing finished was lost or rewritten


def test_editing_the_config_while_it_runs_adds_and_drops_pending_runs(tmp_path):
    """The runner asks for pending jobs after every run, so edits land between runs."""
    from tfopt.experiment import jobs_of
    from tfopt.matrix import LiveConfig

    path = write_config(tmp_path / "c.json", batch_size=[4, 16])
    live = LiveConfig(path)
    before = {job.perm.config["batch_size"] for job in jobs_of(live.config, tmp_path)}
    write_config(path, batch_size=[16, 64, 128])
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert live.refresh()
    after = {job.perm.config["batch_size"] for job in jobs_of(live.config, tmp_path)}
    assert before == {4, 16} and after == {16, 64, 128}


def assert_verdicts_follow_from_the_summary(result: dict, out: Path) -> None:
    """Every comparison is the one redone from summary.json's replicates, and the report says
    the same verdict: what a real run shows whatever the machine's noise decided."""
    settings = result.get("settings", {})
    alpha, threshold = settings.get("alpha", 0.05), settings.get("threshold", 0.05)
    report = (out / "report.md").read_text()
    for item in result["comparisons"]:
        said = item["comparison"]
        before, after = result["configs"][said["before"]], result["configs"][said["after"]]
        assert said == comparison(before, after, alpha, threshold)
        assert said["verdict"] in VERDICTS and said["verdict"] in report


@pytest.mark.slow
def test_a_over_a_on_real_workers_shares_one_worker_per_round_and_reports_consistently(tmp_path):
    """The same configuration as two 'variants' (one build: they share a worker per round,
    alternating ABBA), on real workers. Which verdict a shared machine's noise leads to is not
    asserted here: that A/A is called "no difference" is checked on a known truth with the
    simulated executor (test_simulated_runs.py, test_rounds.py)."""
    done = subprocess.run(
        [sys.executable, "-m", "tfopt", "compare", "--variant", "a=stock", "--variant", "b=stock",
         "--workload", WORKLOAD["workload"], "--inputs", WORKLOAD["inputs"], "--sizes", "1,16",
         "--workers", "3", "--duration", "1.5", "--warmup", "1", "--out", str(tmp_path), "--json"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    measured = result["comparisons"][0]["comparison"]
    assert measured["n"] == 3 and measured["test"] == PAIRED_TEST
    assert_verdicts_follow_from_the_summary(result, tmp_path)
    assert (tmp_path / "a_vs_b.png").stat().st_size > 0
    assert {r["label"] for r in rows(tmp_path)} == {"a+b"}  # one worker per round for both
    assert [int(r["worker"]) for r in rows(tmp_path)] == [0, 1, 2]


@pytest.mark.slow
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to split")
def test_parallel_runs_get_disjoint_cores(tmp_path):
    config = write_config(tmp_path / "c.json", batch_size=[4, 64], cpus=1, parallel=True)
    out = tmp_path / "out"
    done = run("--config", str(config), "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    payloads = []
    for row in rows(out):
        metrics = json.loads((out / row["folder"] / "metrics.json").read_text())
        payloads += [worker["payload"] for worker in metrics["workers"]]
    first, second = payloads
    assert len(first["affinity"]) == 1 and len(second["affinity"]) == 1
    assert first["affinity"] != second["affinity"]  # each run had a core of its own
    assert overlap(first, second) > 0  # and they really ran at the same time


def overlap(first: dict, second: dict) -> float:
    return min(first["ended_at"], second["ended_at"]) - max(first["started_at"],
                                                            second["started_at"])  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to split")
@pytest.mark.parametrize("visible", ["3,4", "5"])
def test_parallel_runs_queue_on_the_gpus_one_run_per_gpu(tmp_path, visible):
    """No GPU exists here, so the queues are given ids through CUDA_VISIBLE_DEVICES, as a user
    would narrow them; the runs themselves are real (on CPU) and see only their own id."""
    config = write_config(tmp_path / "c.json", batch_size=[4, 64], cpus=1, parallel=True)
    out = tmp_path / "out"
    env = {**_env(), "CUDA_VISIBLE_DEVICES": visible}
    done = run("--config", str(config), "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"one queue per GPU: {visible.replace(',', ', ')}" in done.stderr
    payloads = []
    for row in rows(out):
        metrics = json.loads((out / row["folder"] / "metrics.json").read_text())
        payloads += [worker["payload"] for worker in metrics["workers"]]
    first, second = payloads
    if "," in visible:  # two queues: both runs at once, each on a GPU of its own
        assert {first["gpus"], second["gpus"]} == set(visible.split(","))
        assert overlap(first, second) > 0
    else:  # one queue: the runs take turns, though a second core is free
        assert first["gpus"] == second["gpus"] == visible
        assert overlap(first, second) < 0


OTHER_RELEASE = "tensorflow-cpu==2.20.0"


def _other_release_can_be_had() -> str | None:
    """Why the other release's venv cannot be made here, or None (cached, or the index answers)."""
    from tfopt import cache, variants

    variant = variants.parse(f"old={OTHER_RELEASE}")
    if (cache.folder("venvs") / variants.venv_key(variant) / ".complete").exists():
        return None
    index = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "tensorflow-cpu"],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    return None if index.returncode == 0 else f"no package index to fetch {OTHER_RELEASE} from"


@pytest.mark.slow
def test_two_tensorflow_releases_from_the_index_are_measured_interleaved(tmp_path):
    """A variant given as a requirement gets a venv of its own (made once, cached by hash); its
    workers run under that interpreter, in tandem rounds with the locked release's."""
    problem = _other_release_can_be_had()
    if problem:
        pytest.skip(problem)
    done = subprocess.run(
        [sys.executable, "-m", "tfopt", "compare", "--variant", "new=stock",
         "--variant", f"old={OTHER_RELEASE}", "--mode", "graph", "--sizes", "1,16",
         "--workers", "2", "--duration", "1", "--warmup", "1", "--out", str(tmp_path), "--json"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["configs"]["new"]["tensorflow"] == "2.21.0"
    assert result["configs"]["old"]["tensorflow"] == "2.20.0"
    assert_verdicts_follow_from_the_summary(result, tmp_path)
    assert (tmp_path / "new_vs_old.png").stat().st_size > 0
    order = [(row["label"], int(row["worker"])) for row in rows(tmp_path)]
    rounds = result["rounds"]["orders"]  # each round's random order
    assert result["rounds"]["layout"].startswith("in tandem")  # two builds: a worker each
    assert [k for _, k in order] == sorted(k for _, k in order)  # round after round
    for k, labels in enumerate(rounds):  # a round's workers run at once: either may end first
        assert sorted(label for label, worker in order if worker == k) == sorted(labels)
