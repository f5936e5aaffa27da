"""Throughput of a SavedModel: concurrent requests per batch size, inner-loop calibration for
models that answer in microseconds, the grappler step, and runtime variants whose outputs differ
from TensorFlow's, which are never ranked.

Fast tests use fake clocks and the simulated executor; the worker test runs a real worker on a
tiny real SavedModel in a child process, so this process never starts TensorFlow.
"""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tfopt import grappler, measure, steps, summary, variants
from tfopt.cli import main
from tfopt.executors.simulated import NoiseModel, SimulatedExecutor
from tfopt.export import console_format, markdown_format
from tfopt.lab import Lab, LabSettings
from tfopt.matrix import ConfigError, resolve
from tfopt.progress import Progress
from tfopt.recommend import best_and_tied, contradictions, paste_lines
from tfopt.records import OK, RunRecord
from tfopt.rounds import Budget
from tfopt.runtimes.base import TOLERANCE
from tfopt.variants import Variant

ROOT = Path(__file__).resolve().parents[1]


class FastModel:
    """A model whose every call advances a fake clock by one microsecond (thread-safe)."""

    def __init__(self, seconds: float = 1e-6):
        self.now, self.calls, self.seconds = 0.0, 0, seconds
        self.lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def predict(self, value) -> None:
        with self.lock:
            self.now += self.seconds
            self.calls += 1


# --- calibration ----------------------------------------------------------------------------


def test_a_microsecond_model_gets_an_inner_loop_that_fills_the_minimum_sweep():
    model = FastModel()
    result = measure.run_phases(model.predict, {1: "x"}, warmup_sweeps=1, repeats=None,
                                duration=0.5, clock=model.clock)  # fmt: skip
    loops = result["loops"]
    assert loops > 1 and loops & (loops - 1) == 0  # grown by doubling
    assert loops * 1e-6 >= measure.MIN_SWEEP_SECONDS > loops / 2 * 1e-6  # the smallest that fills
    assert result["latencies"]["1"] == pytest.approx([1e-6] * len(result["sweeps"]))  # divided
    assert len(result["sweeps"]) >= measure.MIN_SWEEPS


def test_fixed_repeats_and_slow_models_keep_one_call_per_size():
    fast = FastModel()
    assert measure.run_phases(fast.predict, {1: "x"}, warmup_sweeps=0, repeats=3, duration=None,
                              clock=fast.clock)["loops"] == 1  # fmt: skip
    slow = FastModel(seconds=0.02)
    assert measure.run_phases(slow.predict, {1: "x"}, warmup_sweeps=0, repeats=None,
                              duration=0.1, clock=slow.clock)["loops"] == 1  # fmt: skip


def test_two_sides_are_calibrated_each_and_keep_their_loops():
    fast, slow = FastModel(), FastModel(seconds=0.004)
    clock = lambda: fast.now + slow.now  # noqa: E731  (one machine, one clock)
    fast_result, slow_result = measure.run_sides([fast.predict, slow.predict], [{1: 1}, {1: 1}],
                                                 warmup_sweeps=0, repeats=None, duration=0.2,
                                                 clock=clock)  # fmt: skip
    assert fast_result["loops"] > slow_result["loops"] == 4  # 4 x 4 ms >= 10 ms > 2 x 4 ms
    assert len(fast_result["sweeps"]) == len(slow_result["sweeps"])


# --- concurrent requests --------------------------------------------------------------------


def test_concurrency_sweep_runs_n_threads_at_once_and_calibrates_their_calls():
    model = FastModel()
    seen: set[int] = set()

    def predict(value):
        seen.add(threading.get_ident())
        model.predict(value)

    model.seconds = 1e-4
    result = measure.concurrency_sweep(predict, {1: "a", 4: "b"}, [1, 2], clock=model.clock)
    assert set(result["rates"]) == {"1", "4"} and set(result["rates"]["4"]) == {"1", "2"}
    assert len(seen) >= 2  # more than one thread called the model
    for size in ("1", "4"):
        for requests in ("1", "2"):
            calls = result["calls"][size][requests]
            assert calls > 1  # grown until the pair lasted CONCURRENT_SECONDS on the fake clock
            assert result["rates"][size][requests] > 0


def test_a_failing_request_raises_instead_of_hanging():
    calls = iter(range(100))

    def predict(value):
        if next(calls) == 1:
            raise RuntimeError("model broke")

    with pytest.raises(RuntimeError, match="model broke"):
        measure.concurrent_seconds(predict, "x", requests=2, calls=3)


def test_concurrency_levels_follow_the_hint():
    assert summary_levels({"workload": "savedmodel:/m", "hint": None}) == [1, 2, 4]
    assert summary_levels({"workload": "savedmodel:/m", "hint": "latency"}) is None
    assert summary_levels({"workload": "g2p", "hint": None}) is None


def summary_levels(config: dict):
    from tfopt.workloads.savedmodel import concurrency_levels

    return concurrency_levels(config)


def _record(worker: int, rates: dict) -> RunRecord:
    payload = {"sweeps": [0.01, 0.011], "latencies": {"1": [0.004] * 2, "8": [0.006] * 2},
               "items_per_sweep": 9, "unit": "rows", "tensorflow": "2.x",
               "concurrency": {"rates": rates}}  # fmt: skip
    return RunRecord(run_id="r", worker=worker, label="tf", status=OK, params={}, payload=payload)


def test_the_summary_names_the_best_batch_and_concurrency_and_the_report_shows_them():
    records = [_record(0, {"1": {"1": 250.0, "2": 400.0}, "8": {"1": 1300.0, "2": 1500.0}}),
               _record(1, {"1": {"1": 260.0, "2": 380.0}, "8": {"1": 1350.0, "2": 1700.0}})]
    entry = summary.config_entry("tf", {"knobs": {}}, records)
    assert entry["concurrency"]["best"] == {"batch": 8, "requests": 2, "per_s": 1600.0}
    assert entry["concurrency"]["rates"]["1"]["2"] == {"per_s": 390.0, "n": 2}  # workers' median
    assert len(entry["replicates_ms"]) == 2  # still one value per worker for the statistics
    result = {"title": "t", "kind": "compare", "configs": {"tf": entry}}
    console = console_format.render(result)
    assert "concurrent requests:" in console
    assert "best batch 8 x 2 requests (1600.0 rows/s)" in console
    report = "\n".join(markdown_format.render(result))
    assert "## Concurrent requests" in report
    assert "`tf`: best batch 8 with 2 concurrent request(s) at 1600.0 rows/s" in report
    assert "| 8 | 1325.0 | 1600.0 |" in report


# --- grappler -------------------------------------------------------------------------------


def test_grappler_options_are_checked_before_anything_runs():
    assert grappler.parse('{"remapping": false, "min_graph_nodes": 2}') == {
        "remapping": False, "min_graph_nodes": 2}
    for text, message in [("remapping=false", "JSON object"), ('{"turbo": true}', "not a grappler"),
                          ('{"remapping": "no"}', "takes a bool")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            grappler.parse(text)
    with pytest.raises(ConfigError, match="env.TFOPT_GRAPPLER"):
        resolve({"env": {grappler.GRAPPLER_ENV: '{"turbo": true}'}})


def test_the_grappler_step_applies_to_savedmodels_and_says_where_it_cannot():
    (step,) = steps.build(["grappler"], [], "savedmodel:/m")
    candidate = step.candidate({"env": {}}, None)
    assert json.loads(candidate["env"][grappler.GRAPPLER_ENV]) == steps.GRAPPLER_OPTIONS
    assert "grappler" in steps.skipped_steps("g2p")
    skipped = steps.skipped_steps("savedmodel:/m", ["lite"])
    assert skipped["grappler on lite"] == steps.GRAPPLER_ON_RUNTIMES
    lines = paste_lines({"knobs": {}, "env": {grappler.GRAPPLER_ENV: '{"remapping": false}'}})
    assert lines == ["tf.config.optimizer.set_experimental_options({'remapping': False})"]


def test_grappler_is_refused_where_it_cannot_apply(tmp_path, capsys):
    code = main(["profile", "--steps", "grappler", "--quick", "--out", str(tmp_path / "a")])
    assert code == 2 and "['grappler'] do not apply to 'g2p'" in capsys.readouterr().err
    code = main(["compare", "--variant", "a=stock", "--variant",
                 'b=stock,TFOPT_GRAPPLER={"turbo":true}', "--out", str(tmp_path / "b")])
    assert code == 2 and "'turbo' is not a grappler option" in capsys.readouterr().err
    with pytest.raises(ValueError, match="runtime 'tflite' does not use"):
        variants.parse('lite=tflite,TFOPT_GRAPPLER={"remapping":false}')
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_lab_starting_on_another_runtime_refuses_grappler_or_leaves_it_out(tiny, tmp_path):
    base = {"workload": f"savedmodel:{tiny}", "variant": "lite",
            "variants": {"lite": {"runtime": "tflite"}}}
    lite = {"lite": Variant("lite", runtime="tflite")}
    with pytest.raises(ValueError, match="step grappler does not apply to variant 'lite'"):
        Lab(LabSettings(base=base, steps=["grappler"], variants=lite), tmp_path / "a")
    lab = Lab(LabSettings(base=base, variants=lite), tmp_path / "b")
    assert "grappler" not in [step.name for step in lab.steps]
    assert lab.skipped_steps["grappler on lite"] == steps.GRAPPLER_ON_RUNTIMES
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# --- runtime variants whose outputs differ ---------------------------------------------------

WRONG = {"runtime": {"runtime": "tflite", "version": "1", "precision": "f32", "threads": 1,
                     "tolerance": TOLERANCE["f32"]},
         "outputs": {"1": {"max_abs": 0.25, "max_rel": 0.02, "within_tolerance": False}}}


class WrongRuntimeExecutor(SimulatedExecutor):
    """Variant ``wrong`` is twice as fast, and its outputs differ from TensorFlow's."""

    def execute(self, job, cpuset=None, gpu=None):
        record = super().execute(job, cpuset, gpu)
        if job.perm.config["variant"] == "wrong":
            record.payload["details"] = WRONG
        return record


def test_a_faster_variant_whose_outputs_differ_is_never_kept_best_or_recommended(tmp_path):
    settings = LabSettings(base={"workload": "g2p", "sizes": [1], "repeats": 20}, steps=["onednn"],
                           variants={"wrong": Variant("wrong", env={"X": "1"})},
                           final=Budget(4, 4), screen=Budget(3, 3))  # fmt: skip
    truth = {"stock": 0.02, "wrong": 0.01}
    executor = WrongRuntimeExecutor(lambda c: truth[c["variant"]], NoiseModel(0.02, 0.02))
    result = Lab(settings, tmp_path, Progress(0), executor=executor).run()
    step = {step["name"]: step for step in result["steps"]}["variant_wrong"]
    assert step["vs_initial"]["verdict"] == "faster"  # it is faster ...
    assert not step["kept"] and step["screening"].startswith("not ranked: outputs differ")
    assert result["best"] == "initial"  # ... and never wins
    assert not any("wrong" in line for line in result["recommendation"])
    assert contradictions(result) == []
    console = console_format.render(result)
    assert "variant_wrong (variant wrong):" in console
    assert "not kept, not ranked: outputs differ" in console
    report = (tmp_path / "report.md").read_text()
    assert "not ranked: outputs differ (max abs 0.25, rel 0.02; tolerance 0.001" in report
    assert "Inconsistent" not in report


def _replicated(label: str, ms: float, details: dict) -> dict:
    wobble = [1.0, 1.01, 0.99, 1.02, 0.98, 1.0]
    return {"label": label, "params": {}, "details": details,
            "replicates_ms": {str(k): ms * w for k, w in enumerate(wobble)}}  # fmt: skip


def test_best_skips_a_faster_variant_whose_outputs_differ_and_the_check_would_catch_it():
    configs = {"initial": _replicated("initial", 30.0, {}),
               "ranked": _replicated("ranked", 20.0, {}),
               "wrong": _replicated("wrong", 10.0, WRONG)}  # fmt: skip
    assert summary.not_ranked(configs["ranked"]) is None
    assert summary.not_ranked(configs["wrong"]).startswith("outputs differ (max abs 0.25, rel 0.02")
    assert best_and_tied(configs, "initial", 0.05, 0.05) == ("ranked", [])
    found = contradictions({"kind": "lab", "configs": configs, "best": "wrong", "recommended": {}})
    assert any("Best 'wrong' is not ranked: outputs differ" in problem for problem in found)
    honest = contradictions({"kind": "lab", "configs": configs, "best": "ranked",
                             "recommended": {}})  # fmt: skip
    assert honest == []


# --- a real worker on a tiny real SavedModel -------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A small Keras dense network (input (None, 8)) exported as a SavedModel in a child."""
    path = tmp_path_factory.mktemp("models") / "tiny"
    script = ("import sys; from examples.workloads.keras_models import export; "
              "export('tiny', sys.argv[1])")
    done = subprocess.run([sys.executable, "-c", script, str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return path


WORKER = """
import json, sys
from tfopt.worker import measure_run
task = json.loads(sys.argv[1])
payload = measure_run(task)
print(json.dumps({key: payload.get(key) for key in ("concurrency", "grappler", "loops",
                                                        "latencies")}))
"""


def test_a_real_worker_measures_concurrent_requests_with_the_grappler_options_it_was_given(tiny):
    task = {"workload": {"spec": f"savedmodel:{tiny}", "inputs": None,
                         "signature": "serving_default", "input": []},
            "options": {}, "threads": {}, "sizes": [1, 4], "seed": 0, "warmup": 1,
            "repeats": None, "duration": 0.2, "concurrency": [1, 2, 4],
            "mem_trace": {"top": 0}}  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT),
           grappler.GRAPPLER_ENV: grappler.encode({"remapping": False,
                                                   "disable_meta_optimizer": True})}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", WORKER, json.dumps(task)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    payload = json.loads(done.stdout.strip().splitlines()[-1])
    assert payload["grappler"]["remapping"] is False  # read back from the worker's TensorFlow
    assert payload["grappler"]["disable_meta_optimizer"] is True
    cores = len(os.sched_getaffinity(0))
    levels = {str(n) for n in (1, 2, 4) if n <= cores}
    rates = payload["concurrency"]["rates"]
    assert set(rates) == {"1", "4"} and all(set(by) == levels for by in rates.values())
    assert all(rate > 0 for by in rates.values() for rate in by.values())
    assert payload["loops"] >= 1 and set(payload["latencies"]) == {"1", "4"}


@pytest.mark.slow
def test_compare_on_a_real_savedmodel_reports_batch_and_concurrency_and_grappler(tiny, tmp_path):
    """Two real workers per side through the command line: the throughput hint's concurrent
    requests land in summary.json, report.md and the console; the grappler options set in one
    variant's env are the ones its workers' TensorFlow reports."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-m", "tfopt", "compare", "--workload", f"savedmodel:{tiny}",
         "--variant", "tf=stock", "--variant", 'off=stock,TFOPT_GRAPPLER={"remapping":false}',
         "--sizes", "1,4", "--workers", "2", "--repeats", "5", "--warmup", "1",
         "--out", str(tmp_path / "out")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    configs = json.loads((tmp_path / "out" / "summary.json").read_text())["configs"]
    assert configs["tf"]["grappler"] is None
    assert configs["off"]["grappler"]["remapping"] is False
    for entry in configs.values():
        best = entry["concurrency"]["best"]
        assert best["batch"] in (1, 4) and best["requests"] in (1, 2, 4) and best["per_s"] > 0
        assert {cell["n"] for by in entry["concurrency"]["rates"].values()
                for cell in by.values()} == {2}  # one value per worker
    assert "concurrent requests:" in done.stdout and "requests (" in done.stdout
    assert "## Concurrent requests" in (tmp_path / "out" / "report.md").read_text()
