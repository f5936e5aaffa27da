"""The credibility benchmark (benchmarks/credibility.py): its extra-compute workload, its
aggregates, and (slow) a quick end-to-end run of real compares on the g2p model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import credibility
from benchmarks.credibility_summary import (
    FASTER,
    INCONCLUSIVE,
    NO_DIFFERENCE,
    SLOWER,
    aggregate,
    summarise,
    verdict_class,
)
from benchmarks.extra_compute import FRACTION_ENV, ExtraCompute, extra_fraction

ROOT = Path(__file__).resolve().parents[1]


def count_words(words):
    """A real (pure-Python) call whose time grows with its input."""
    return sum(sum(range(len(w) * 20_000)) for w in words)


def test_extra_compute_calibrates_once_per_input_length_and_keeps_the_result(tmp_path):
    log = tmp_path / "log.jsonl"
    wrapped = ExtraCompute(count_words, 0.10, str(log))
    words = ["aardvark", "zebra", "cat"]
    assert wrapped(words) == count_words(words)
    assert wrapped(words[:1]) == count_words(words[:1])
    wrapped(words)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["words"] for e in entries] == [3, 1]  # calibrated once per length
    assert all(e["products"] > 0 for e in entries)
    # the count is fixed at calibration: extra work, never a wait on the clock
    assert wrapped.products == {3: entries[0]["products"], 1: entries[1]["products"]}
    assert all(abs(e["realised"] - 0.10) <= e["product_s"] / e["call_s"] for e in entries)


def test_extra_compute_with_no_fraction_calibrates_alike_and_adds_nothing(tmp_path):
    log = tmp_path / "log.jsonl"
    wrapped = ExtraCompute(count_words, 0.0, str(log))
    wrapped(["aardvark"])
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert entry["products"] == 0 and entry["call_s"] > 0


@pytest.mark.parametrize("text", ["ten", "-0.1", "1.5"])
def test_a_bad_extra_fraction_is_refused_by_name(monkeypatch, text):
    monkeypatch.setenv(FRACTION_ENV, text)
    with pytest.raises(ValueError, match=FRACTION_ENV):
        extra_fraction()


def test_plan_interleaves_rounds_so_a_cut_short_run_stays_balanced():
    trials = credibility.plan({"aa": 3, "ab10": 1, "ab5": 0}, ("quiet", "busy"))
    assert [t.name for t in trials] == [
        "00-quiet-aa", "00-busy-aa", "00-quiet-ab10", "00-busy-ab10",
        "01-quiet-aa", "01-busy-aa", "02-quiet-aa", "02-busy-aa",
    ]  # fmt: skip


def test_the_compare_commands_are_the_lab_cli_with_the_effect_on_side_b(tmp_path):
    aa = credibility.compare_command(credibility.Trial(0, "quiet", "aa"), tmp_path, False, "xla")
    assert aa[1:6] == ["-m", "tfopt", "compare", "--mode", "xla"] and "--quick" not in aa
    assert "a=stock" in aa and "b=stock" in aa and "--workload" not in aa
    ab = credibility.compare_command(credibility.Trial(0, "busy", "ab5"), tmp_path, True, "eager")
    assert f"b=stock,{FRACTION_ENV}=0.05" in ab and f"a=stock,{FRACTION_ENV}=0" in ab
    assert ab[-1] == "--quick"


def test_bad_flags_are_refused_before_anything_runs(capsys):
    with pytest.raises(SystemExit) as exit_:
        credibility.parse_args(["--conditions", "quiet,windy"])
    assert exit_.value.code == 2 and "windy" in capsys.readouterr().err


@pytest.mark.parametrize(("verdict", "expected"), [
    ("faster", FASTER), ("slower", SLOWER), ("no significant difference", NO_DIFFERENCE),
    ("no difference", NO_DIFFERENCE), ("inconclusive (95% CI 0.97-1.04)", INCONCLUSIVE),
])  # fmt: skip
def test_old_and_new_verdict_wordings_are_classified(verdict, expected):
    assert verdict_class(verdict) == expected


def entry(kind, verdict, value=1.0, width=0.02, seconds=100.0, condition="quiet"):
    return {"condition": condition, "kind": kind, "effect": credibility.EFFECTS[kind],
            "verdict": verdict, "value": value, "ci95": [value - width, value + width],
            "half_width_pct": 100 * width / value, "seconds": seconds, "rounds": 6}  # fmt: skip


def test_aggregates_count_wrong_verdicts_by_what_each_side_truly_does():
    aa = [entry("aa", "no difference")] * 18 + [entry("aa", "faster"), entry("aa", "slower")]
    cell = aggregate(aa)
    assert cell["n"] == 20 and cell["wrong"] == 2 and cell["right_rate"] == 0.9
    ab = [entry("ab10", "slower", 0.91)] * 8 + [entry("ab10", "no difference", 0.95),
                                               entry("ab10", "faster", 1.06)]  # fmt: skip
    cell = aggregate(ab)
    assert cell["wrong"] == 1 and cell["right_rate"] == 0.8  # a miss is not a wrong direction
    assert aggregate([{**entry("aa", None)}])["n"] == 0


def test_targets_are_checked_per_condition():
    runs = [entry("aa", "no difference", width=0.02)] * 19 + [entry("aa", "slower", width=0.08)]
    runs += [entry("ab5", "slower", 0.95)] * 2 + [entry("ab5", "no difference", 0.96)] * 2
    runs += [entry("aa", "faster", width=0.06, condition="busy", seconds=200.0)]
    targets = summarise(runs)["targets"]
    quiet, busy = targets["quiet"], targets["busy"]
    assert quiet["aa_wrong_rate"]["met"] and quiet["aa_half_width_median_pct"]["met"]
    assert quiet["right_rate_5pct"] == {"value": 0.5, "bound": ">=", "target": 0.5, "met": True}
    assert not busy["aa_wrong_rate"]["met"] and not busy["aa_half_width_p90_pct"]["met"]
    assert not busy["seconds_median"]["met"] and "right_rate_10pct" not in busy


@pytest.mark.slow
@pytest.mark.timeout(1800)  # two quick compares of 3 rounds: a few minutes, more on a loaded box
def test_quick_benchmark_runs_real_compares_and_writes_json_and_png(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.credibility", "--quick", "--aa", "1", "--ab10", "1",
         "--rounds", "3", "--conditions", "busy", "--out", str(out),
         "--work", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=3500,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((out / credibility.JSON_NAME).read_text())
    assert (out / credibility.PNG_NAME).stat().st_size > 0
    assert [(r["condition"], r["kind"]) for r in result["runs"]] == [("busy", "aa"),
                                                                     ("busy", "ab10")]
    assert len(result["loadavg_start"]) == 3
    for run in result["runs"]:
        assert run["verdict"] is not None, run.get("error")
        low, high = run["ci95"]
        assert low <= run["value"] <= high and run["rounds"] == 3  # as --rounds asked
        # a verdict never contradicts its own interval
        assert verdict_class(run["verdict"]) != FASTER or low > 1.0
        assert verdict_class(run["verdict"]) != SLOWER or high < 1.0
        assert run["neighbour_core"] in result["cpus"]  # the neighbour ran, pinned to one core
    for run in [r for r in result["runs"] if r["kind"] == "ab10"]:
        # b really did 10% more arithmetic per call, and was never judged the faster one
        assert 0.07 <= run["calibration"]["realised_mean"] <= 0.13
        assert verdict_class(run["verdict"]) != FASTER
    assert set(result["targets"]) == {"busy"} and result["planned"] == 2
