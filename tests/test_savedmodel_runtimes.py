"""SavedModel workloads: steps that apply, refusals before anything runs, runtime variants and
their rows in the console summary and the report.

The command-line tests use a real SavedModel (a small Keras model with an Embedding and an LSTM,
input (None, None)) exported once per test run in a child process, so this process never starts
TensorFlow. The runtime end-to-end run (TFLite, ONNX Runtime, OpenVINO) is in the slow suite.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfopt import steps, variants
from tfopt.cli import main
from tfopt.export import console_format, markdown_format
from tfopt.runtimes import base
from tfopt.stats import PAIRED_TEST

ROOT = Path(__file__).resolve().parents[1]


def run_tfopt(capsys, *args: str) -> tuple[int, str]:
    """The command line in this process (it refuses before any child starts): code, stderr."""
    code = main(list(args))
    return code, capsys.readouterr().err


def test_steps_for_a_savedmodel_are_those_that_apply_and_the_rest_say_why():
    assert steps.default_steps("savedmodel:/m") == ["xla", "grappler", "onednn", "threads"]
    skipped = steps.skipped_steps("savedmodel:/m")
    assert set(skipped) == {"graph", "batching"}
    assert "already runs as a TensorFlow graph" in skipped["graph"]
    (xla,) = steps.build(["xla"], [], "savedmodel:/m")
    assert xla.candidate({"env": {}}, None)["env"]["TF_XLA_FLAGS"] == steps.XLA_AUTO_JIT
    with pytest.raises(ValueError, match=r"\['graph'\] do not apply .*already runs as a"):
        steps.build(["graph", "threads"], [], "savedmodel:/m")
    assert steps.default_steps("g2p") == [n for n in steps.STEP_NAMES if n != "grappler"]


def test_runtime_variants_parse_and_carry_their_runtime_to_the_worker():
    chosen = variants.parse("ov=openvino-bf16")
    assert chosen.kind == "runtime" and chosen.env[variants.RUNTIME_ENV] == "openvino-bf16"
    assert variants.parse("t=tflite").describe()["spec"] == "tflite"


def test_every_registered_runtime_is_a_variant_and_every_runtime_variant_is_registered():
    """The variant parser keeps its own list (it must not import the runtimes); a runtime added
    to one list only would be unselectable, or selectable and then unknown to the worker."""
    from tfopt.runtimes import RUNTIMES, get

    assert set(variants.RUNTIMES) == set(RUNTIMES)
    for name in RUNTIMES:
        assert variants.parse(f"x={name}").env[variants.RUNTIME_ENV] == name
        assert get(name).name == name


def test_an_unknown_dimension_without_input_is_refused_before_anything_runs(models, tmp_path,
                                                                           capsys):  # fmt: skip
    code, err = run_tfopt(capsys, "profile", "--workload", f"savedmodel:{models}/lstm", "--quick",
                          "--out", str(tmp_path / "out"))  # fmt: skip
    assert code == 2, err
    assert "input 'tokens' of signature 'serving_default'" in err
    assert "(None, None)" in err and "--input tokens:" in err
    assert not (tmp_path / "out" / "runs").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--steps", "graph,threads"], "do not apply"),
    (["--hint", "latency", "--sizes", "1,8"], "--hint latency measures batch 1"),
    (["--input", "tokens:-1x64:int64"], "declares int32"),
    (["--input", "tokens:1x64:int32", "--sizes", "1,2"], "fixed batch of 1"),
])  # fmt: skip
def test_inapplicable_requests_are_refused_up_front(models, tmp_path, capsys, args, message):
    code, err = run_tfopt(capsys, "profile", "--workload", f"savedmodel:{models}/lstm", "--quick",
                          "--input", "tokens:-1x64:int32", *args, "--out", str(tmp_path))
    assert code == 2, err
    assert message in err and not (tmp_path / "runs").exists()


def test_runtime_variants_need_a_savedmodel(tmp_path, capsys):
    code, err = run_tfopt(capsys, "compare", "--variant", "a=stock", "--variant", "b=tflite",
                          "--out", str(tmp_path))  # fmt: skip
    assert code == 2 and "convert a SavedModel" in err


def test_a_failed_conversion_is_cached_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "saved_model.pb").write_bytes(b"graph")

    class Refusing(base.Runtime):  # a converter that cannot handle the model
        name, package = "refusing", "numpy"
        calls = 0

        def convert(self, saved_model, signature, folder):
            Refusing.calls += 1
            raise NotImplementedError("op LSTMBlockCell is not supported\n")

        def load(self, folder, signature, threads):
            raise AssertionError("never loaded")

    for _ in range(2):
        with pytest.raises(base.ConversionError, match="refusing cannot convert this model: "
                           "NotImplementedError: op LSTMBlockCell is not supported"):  # fmt: skip
            base.converted(Refusing(), str(tmp_path / "model"), "serving_default")
    assert Refusing.calls == 1


def test_output_difference_is_measured_against_the_tolerance_of_the_precision():
    import numpy as np

    reference = {"y": np.array([[1.0, -2.0, 4.0]])}
    close = base.output_difference(reference, {"y": reference["y"] + 1e-5}, "f32")
    assert close["within_tolerance"] and close["max_abs"] == pytest.approx(1e-5)
    far = base.output_difference(reference, {"other": reference["y"] * 1.01}, "f32")
    assert not far["within_tolerance"] and far["max_rel"] == pytest.approx(0.01)
    tiny = {"y": reference["y"] * 1e-12}  # random logits: an absolute bound would pass garbage
    assert not base.output_difference(tiny, {"y": -tiny["y"]}, "f32")["within_tolerance"]
    bf16 = base.output_difference(reference, {"y": reference["y"] * 1.01}, "bf16")
    assert bf16["within_tolerance"]


def _entry(label, runtime, precision, outputs, median, by_size):
    return {"label": label, "unit": "rows", "workers": 2, "failed": [], "tensorflow": "2.21.0",
            "params": {"knobs": {"inter": 0, "intra": 0, "onednn": None}},
            "sweep": {"median": median, "p90": median, "p99": median, "mean": median, "std": 0.0,
                      "unstable": False},
            "sweep_ci95": [median, median], "throughput": 1.0,
            "by_size": {str(size): {"median": ms, "ci95": [ms, ms], "p90": ms, "p99": ms, "n": 9}
                        for size, ms in by_size.items()},
            "details": {"inputs": [{"name": "x", "shape": "Nx8", "dtype": "float32",
                                    "source": "standard normal"}],
                        "runtime": {"runtime": runtime, "version": "1", "precision": precision,
                                    "threads": 1, "tolerance": base.TOLERANCE[precision]},
                        "outputs": outputs}}  # fmt: skip


def test_console_and_report_show_inputs_batches_runtimes_and_flag_what_differs():
    bad = {"1": {"max_abs": 0.5, "max_rel": 0.1, "within_tolerance": False}}
    good = {"1": {"max_abs": 1e-6, "max_rel": 1e-6, "within_tolerance": True}}
    configs = {
        "tf": _entry("tf", "tensorflow", "f32", {}, 3.0, {1: 1.0, 8: 2.0}),
        "ort": _entry("ort", "onnxruntime", "f32", good, 2.0, {1: 0.5, 8: 1.5}),
        "ov": _entry("ov", "openvino-bf16", "bf16", bad, 1.0, {1: 0.2, 8: 0.8}),
        "lite": {"label": "lite", "params": {"variant": {"spec": "tflite"}}, "sweep": None,
                 "failed": [{"worker": 0, "status": "fail", "reason":
                             "ConversionError: tflite cannot convert this model: op X"}]},
    }  # fmt: skip
    comparison = {"value": 2.0, "ci95": [1.9, 2.1], "p_value": 0.001, "test": PAIRED_TEST, "n": 8,
                  "verdict": "faster"}
    summary = {"title": "t", "kind": "compare", "configs": configs,
               "skipped_steps": {"graph": "already a graph"},
               "comparisons": [{"label": name, "file": f"tf_vs_{name}", "comparison": comparison}
                               for name in ("ort", "ov")]}  # fmt: skip
    console = console_format.render(summary, "results")
    assert "inputs: x Nx8 float32 (standard normal)" in console
    assert "step graph skipped: already a graph" in console
    assert "tf_vs_ort: 2.00x (95% CI 1.90-2.10" in console
    assert "tf_vs_ov: not ranked: outputs differ (max abs 0.5, rel 0.1; tolerance 0.05" in console
    assert "best batch 8 (5333.3 rows/s)" in console  # 8 rows in 1.5 ms beat 1 row in 0.5 ms
    assert "lite: tflite" in console
    assert "did not run: ConversionError: tflite cannot convert" in console
    report = "\n".join(markdown_format.render(summary))
    assert "## Inputs" in report and "| x | Nx8 | float32 | standard normal |" in report
    assert "not ranked: outputs differ (max abs 0.5, rel 0.1" in report
    assert "| ort | onnxruntime | 1 | f32 | 1 | 1e-06 |" in report
    assert "`tf` (TF 2.21.0, oneDNN default, default thread pools): best batch 8" in report


@pytest.mark.slow
def test_runtimes_side_by_side_with_output_checks_and_a_conversion_that_fails(models, tmp_path):
    """TensorFlow, TFLite, ONNX Runtime and OpenVINO (float32 and bfloat16) on the same real
    SavedModel, interleaved. Through the 'serve' signature, which OpenVINO cannot read: its rows
    say so while the others are measured and checked."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    runtimes = ["tflite", "onnxruntime", "openvino", "openvino-bf16"]
    done = subprocess.run(
        [sys.executable, "-m", "tfopt", "compare", "--workload", f"savedmodel:{models}/tiny",
         "--signature", "serve", "--hint", "latency", "--variant", "tf=stock",
         *[f"--variant={name}={name}" for name in runtimes], "--workers", "2", "--repeats", "20",
         "--warmup", "1", "--out", str(tmp_path / "out")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    configs = summary["configs"]
    for name in ("tflite", "onnxruntime"):
        details = configs[name]["details"]
        assert details["runtime"]["precision"] == "f32" and details["runtime"]["threads"] >= 1
        assert details["outputs"]["1"]["within_tolerance"], details["outputs"]
        assert configs[name]["sweep"]["median"] > 0
    for name in ("openvino", "openvino-bf16"):
        assert configs[name]["sweep"] is None
        assert "reads only the 'serving_default' signature" in configs[name]["failed"][0]["reason"]
    assert configs["tf"]["details"]["inputs"][0]["shape"] == "Nx8"
    assert "did not run: ConversionError: openvino cannot convert" in done.stdout
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Runtimes" in report and "outputs match TensorFlow" in report
