"""The benchmark's parts: contenders agree with g2p_en, FLOP counting, targets, and one real
quick run of `python -m benchmarks.g2p_bench` (JSON and PNG; speed itself is never asserted)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import g2p
from benchmarks.g2p_bench import flops, report
from benchmarks.g2p_bench.contenders import CONTENDERS, load
from g2p.reference import shipped_g2p_en

# The default contender runs g2p.predict in this process, starting TensorFlow's runtime.
pytestmark = pytest.mark.tf_runtime

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def words() -> list[str]:
    return g2p.sample_words(300, seed=11) + ["activationist", "zyxqwv", "o'brien"]


@pytest.mark.parametrize("name", ["g2p_en-numpy", "numpy-batched", "onnxruntime", "g2p-default"])
@pytest.mark.parametrize("batch_size", [1, 64])
def test_contenders_other_than_the_modes_match_g2p_en(name, batch_size, words):
    reference = shipped_g2p_en()
    assert load(name, batch_size)(words) == [reference.predict(w) for w in words]


def test_unknown_contender_is_named():
    with pytest.raises(ValueError, match="unknown contender 'tf-magic'"):
        load("tf-magic", 1)
    assert {"tf-eager", "tf-graph", "tf-xla", "tf-tflite", "onnxruntime"} <= CONTENDERS.keys()


def test_flops_follow_the_issues_definition():
    assert flops.GRU_STEP_FLOPS == 786_432  # "about 0.8 MFLOP per GRU step"
    # "cat": 4 encoder steps; K AE1 T then </s>: 4 decoder steps.
    assert flops.flops_per_word("cat", ["K", "AE1", "T"]) == 8 * 786_432 + 4 * 2 * 74 * 256
    assert flops.steps("a" * 30, ["AH0"] * 20) == (31, 20)  # the decoder stops at 20


@pytest.mark.parametrize("shrink", [True, False])
def test_step_efficiency_counts_the_steps_batching_throws_away(shrink):
    words, phonemes = ["a", "abcd", "xyz"], [["AH0"], ["AE1", "B"], ["Z", "IY1"]]
    assert report.step_efficiency(words, phonemes, 1, shrink) == 1.0
    # Sorted by length: [a, xyz] then [abcd]. Useful: (2+2) + (4+3) + (5+3) = 19 steps.
    # Executed: the encoder runs 2 rows x 4 steps (a's row waits for xyz), then 1 row x 5; the
    # masked decoder 2 x 3 (a's row again) then 3, the shrinking one only each word's own steps.
    executed = 2 * 4 + 5 + (2 + 3 + 3 if shrink else 2 * 3 + 3)
    assert report.step_efficiency(words, phonemes, 2, shrink) == pytest.approx(19 / executed)
    assert report.step_efficiency(words * 3, phonemes * 3, 8, shrink) < 1  # padding rows


def _contender(words_per_s: dict[int, float], p50_ms: float) -> dict:
    return {
        "throughput": {str(b): {"words_per_s": {"median": v}} for b, v in words_per_s.items()},
        "latency": {"ms": {"median": p50_ms}},
    }


def test_targets_compare_the_best_tensorflow_mode_within_the_run():
    contenders = {
        "g2p_en-numpy": _contender({1: 1000, 256: 1000}, 1.0),
        "numpy-batched": _contender({1: 900, 256: 4000}, 1.1),
        "tf-graph": _contender({1: 900, 32: 7000, 256: 6500}, 1.2),
        "tf-xla": _contender({1: 2000, 256: 5000}, 0.4),
        "g2p-default": _contender({1: 1900, 32: 6000}, 0.45),
    }
    summary = report.targets(contenders, roofline_words_per_s=8000)
    assert (summary["batch_contender"], summary["batch_size"]) == ("tf-graph", 32)
    assert summary["ratios"]["batch_vs_g2p_en"] == pytest.approx(7.0)
    assert summary["ratios"]["batch_vs_numpy_batched"] == pytest.approx(1.75)
    assert summary["ratios"]["batch_roofline_fraction"] == pytest.approx(0.875)
    assert summary["latency_contender"] == "tf-xla"
    assert summary["ratios"]["single_word_p50_vs_g2p_en"] == pytest.approx(0.4)
    assert summary["ratios"]["default_batch_vs_g2p_en"] == pytest.approx(6.0)
    assert summary["ratios"]["default_single_word_p50_vs_g2p_en"] == pytest.approx(0.45)
    assert all(summary["met"].values())
    contenders["g2p-default"]["throughput"]["32"]["words_per_s"]["median"] = 4000
    assert not report.targets(contenders, 8000)["met"]["default_batch_vs_g2p_en"]
    contenders["tf-xla"]["latency"]["ms"]["median"] = 0.6
    assert not report.targets(contenders, 8000)["met"]["single_word_p50_vs_g2p_en"]


@pytest.mark.slow
def test_quick_benchmark_writes_json_and_png(tmp_path):
    out = tmp_path / "bench.json"
    command = [
        sys.executable,
        "-m",
        "benchmarks.g2p_bench",
        "--quick",
        "--out",
        str(out),
        "--contenders",
        "numpy-batched",
        "tf-xla",
        "g2p-default",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads(out.read_text())
    assert list(record["contenders"]) == ["g2p_en-numpy", "numpy-batched", "tf-xla", "g2p-default"]
    assert len(record["loadavg"]["start"]) == len(record["loadavg"]["end"]) == 3
    for name, result in record["contenders"].items():
        assert "errors" not in result, (name, result)
        assert set(result["throughput"]) == {"1", "32", "256", "1024"}
        assert result["mismatches"] == 0
        assert 0 < result["latency"]["ms"]["median"] <= result["latency"]["ms"]["p95"]
    flops_per_word = record["flops"]["flops_per_word_with_input_tables"]
    assert record["flops"]["flops_per_word"] > flops_per_word
    assert record["flops"]["roofline_words_per_s"] == record["flops"]["peak_flops"] / flops_per_word
    assert set(record["summary"]["met"]) == set(report.TARGETS)
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_python_m_g2p_bench_runs_the_benchmark_from_the_repository_root(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-m", "g2p.bench", "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "--contenders" in done.stdout
    (tmp_path / "g2p").symlink_to(ROOT / "g2p")  # g2p alone, as installed: no benchmarks/
    done = subprocess.run([sys.executable, "-m", "g2p.bench", "--help"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "run it from the repository root" in done.stderr and "Traceback" not in done.stderr
