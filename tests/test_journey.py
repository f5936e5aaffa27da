"""A journey: named configurations, each compared with the first (config checks and statistics
on a simulated executor with a known truth; the real run is examples/results/seed-journey/)."""

import random
import subprocess
import sys
from pathlib import Path

import pytest

from tfopt import journey
from tfopt.matrix import ConfigError, journey_configs, load, resolve
from tfopt.progress import Progress
from tfopt.records import OK, RunRecord
from tfopt.summary import speedup_text

ROOT = Path(__file__).resolve().parents[1]
SEED_JOURNEY = ROOT / "examples" / "seed-journey.toml"


def test_the_seed_journey_recipe_loads_with_every_step_a_full_config():
    config = load(SEED_JOURNEY)
    points = journey_configs(config)
    assert list(points)[:2] == ["initial", "mkl"]
    assert points["initial"]["variant"] == "tf-2.14" and points["mkl"]["variant"] == "intel-2.14"
    assert all(point["cpus"] == 1 and point["memory"] == "4G" for point in points.values())
    # a point's knobs table is merged into the defaults, not put in their place
    assert points["mkl-omp1"]["knobs"] == {"inter": 1, "intra": 1, "omp": 1, "onednn": None}
    assert points["mkl-kmp"]["env"]["KMP_BLOCKTIME"] == "1"
    assert points["mkl-optimized"]["mode"] == "optimized"
    assert config["variants"]["intel-2.14"] == {"requirement": "intel-tensorflow==2.14.0"}


BASE = {"workers": 1, "repeats": 1, "sizes": [1]}


@pytest.mark.parametrize(
    "points, message",
    [
        ([{"name": "a"}, {"name": "a"}], "'journey[1].name': 'a' is used twice"),
        ([{"name": "a", "speed": 2}], "'journey[0].speed' is not one of"),
        ([{"name": "a", "against": "b"}, {"name": "b"}], "'b' is not an earlier point"),
        ([{"name": "a", "reference": "fast"}], "'journey[0].reference': expected a number"),
        ([{"name": "a", "variant": "mkl"}], "journey point 'a': config key 'variant': 'mkl'"),
        ([{"name": "a", "mode": "turbo"}], "journey point 'a': config key 'mode'"),
        ([{"note": "no name"}], "'journey[0]': expected a table with a 'name'"),
    ],
)
def test_a_bad_journey_is_refused_naming_the_point_and_key(points, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        resolve({**BASE, "journey": points})


def test_the_command_line_refuses_a_bad_journey_with_exit_2_before_anything_runs(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[[journey]]\nname = "a"\n[[journey]]\nname = "b"\nagainst = "c"\n')
    command = [sys.executable, "profile.py", "--config", str(config), "--out", str(tmp_path / "o")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "'c' is not an earlier point of the journey" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "o" / "runs").exists()


class SimulatedExecutor:
    """Sweeps drawn around a known median per mode: 'frozen' is exactly twice as fast as 'graph',
    'optimized' as fast as 'frozen'. Nothing here can measure a real machine."""

    TRUE_SECONDS = {"graph": 0.020, "frozen": 0.010, "optimized": 0.010}

    def __init__(self, seed: int = 1):
        self.rng = random.Random(seed)

    def execute(self, job, cpuset=None, gpu=None) -> RunRecord:
        config = job.perm.config
        truth = self.TRUE_SECONDS[config["mode"]]
        sweeps = [truth * self.rng.lognormvariate(0, 0.05) for _ in range(config["repeats"])]
        payload = {"sweeps": sweeps, "latencies": {"1": sweeps}, "items_per_sweep": 1,
                   "unit": "words", "tensorflow": "simulated"}  # fmt: skip
        return RunRecord(run_id=job.perm.run_id, worker=job.worker, label=job.label, status=OK,
                         params=job.perm.run_params, payload=payload, backend="simulated",
                         folder=str(job.folder))  # fmt: skip

    def trial_options(self, config: dict) -> dict:
        return {}


def test_each_point_is_compared_with_the_first_and_shown_beside_its_reference(
    tmp_path, monkeypatch
):
    # The environment record starts TensorFlow in a child; it is not what this test checks.
    monkeypatch.setattr(journey, "record_environment", lambda log_dir: {})
    config = resolve({
        "workers": 4, "repeats": 20, "sizes": [1], "mode": "graph", "mem_trace": {"enabled": False},
        "journey": [
            {"name": "initial", "reference": 1.0},
            {"name": "frozen", "mode": "frozen", "reference": 6.05, "note": "weights folded"},
            {"name": "optimized", "mode": "optimized", "against": "frozen"},
        ],
    })  # fmt: skip
    summary = journey.run_journey(config, tmp_path, Progress(0), {}, executor=SimulatedExecutor())
    rows = {row["name"]: row for row in summary["journey"]}
    assert rows["initial"]["speedup"] is None
    frozen = rows["frozen"]["speedup"]
    assert frozen["ci95"][0] < 2.0 < frozen["ci95"][1] and frozen["verdict"] == "faster"
    assert rows["frozen"]["reference"] == 6.05
    against = [item["comparison"] for item in summary["comparisons"]
               if item["file"] == "frozen_vs_optimized"]  # fmt: skip
    assert against and against[0]["verdict"] == "no difference"
    table = (tmp_path / "journey.md").read_text()
    assert f"| frozen | weights folded | 6.05x | {speedup_text(frozen)} |" in table
    assert "- optimized against frozen: " in table
    assert (tmp_path / "initial_vs_frozen.png").exists()
    assert (tmp_path / "frozen_vs_optimized.png").exists()
