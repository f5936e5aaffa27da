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
from benchmarks.extra_compute import (
    PRODUCTS_ENV,
    ExtraCompute,
    calibrate,
    parse_products,
    products_text,
)

ROOT = Path(__file__).resolve().parents[1]


def count_words(words):
    """A real (pure-Python) call whose time grows with its input."""
    return sum(sum(range(len(w) * 20_000)) for w in words)


def test_a_resumed_run_keeps_its_compares_and_runs_only_the_rest(tmp_path):
    trials = credibility.plan({"aa": 2, "ab10": 1, "ab5": 0}, ("quiet", "busy"))
    runs = [{"round": 0, "condition": "quiet", "kind": "aa"},
            {"round": 0, "condition": "busy", "kind": "ab10"}]  # fmt: skip
    assert [t.name for t in credibility.still_to_run(trials, runs)] == [
        "00-busy-aa", "00-quiet-ab10", "01-quiet-aa", "01-busy-aa"]
    path = tmp_path / credibility.JSON_NAME
    assert credibility._earlier_run(path, "xla") is None  # nothing to resume: a fresh run
    earlier = {"schema": credibility.SCHEMA, "kind": "credibility", "mode": "graph",
               "machine": credibility.machine(), "runs": runs}  # fmt: skip
    path.write_text(json.dumps(earlier))
    assert credibility._earlier_run(path, "graph")["runs"] == runs
    with pytest.raises(SystemExit, match="was run in mode graph, not xla"):
        credibility._earlier_run(path, "xla")
    path.write_text(json.dumps({**earlier, "machine": {"cpu": "another", "logical_cores": 2}}))
    with pytest.raises(SystemExit, match="was run on .*another.*calibrated for that one"):
        credibility._earlier_run(path, "graph")


def test_extra_compute_adds_its_fixed_products_per_input_length_and_nothing_else():
    words = ["aardvark", "zebra", "cat"]
    wrapped = ExtraCompute(count_words, {3: 40, 1: 0})
    done = []
    wrapped.multiply = lambda count: done.append(count)  # what each call adds
    assert wrapped(words) == count_words(words)
    assert wrapped(words[:1]) == count_words(words[:1])
    wrapped(words[:2])  # a length without a count: nothing added
    assert done == [40, 0, 0]


def test_calibration_sizes_the_products_to_the_fraction_of_a_call():
    inputs = {1: ["aardvark"], 3: ["aardvark", "zebra", "cat"]}
    calibrated = calibrate(count_words, inputs, [0.10, 0.05, 0.0])
    found = calibrated["0.1"]
    for words in inputs:
        assert found["products"][words] > 0
        # realised within one product of the fraction asked for
        assert abs(found["realised"][words] - 0.10) <= found["product_s"] / found["call_s"][words]
    assert found["products"][3] > found["products"][1]  # a longer call, more products
    # one timing for every fraction: half the fraction, half the products (to one product)
    assert all(abs(2 * calibrated["0.05"]["products"][w] - found["products"][w]) <= 1
               for w in inputs)  # fmt: skip
    assert all(count == 0 for count in calibrated["0.0"]["products"].values())
    assert 0.0 < found["measured_sweep"] < 0.3  # timed with the products: more time


@pytest.mark.parametrize("text", ["1:ten", "1:15;2", "1:-3"])
def test_bad_extra_products_are_refused_by_name(text):
    with pytest.raises(ValueError, match=PRODUCTS_ENV):
        parse_products(text)


def test_extra_products_round_trip_through_their_env_text():
    assert parse_products(products_text({20: 300, 1: 15})) == {1: 15, 20: 300}
    assert parse_products("") == {}


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
    ab = credibility.compare_command(credibility.Trial(0, "busy", "ab5"), tmp_path, True, "eager",
                                     products={1: 7, 20: 140})  # fmt: skip
    assert f"b=stock,{PRODUCTS_ENV}=1:7;20:140" in ab and f"a=stock,{PRODUCTS_ENV}=1:0;20:0" in ab
    assert ab[-1] == "--quick"


def test_a_compare_of_two_builds_names_its_sides_instead_of_the_kinds(tmp_path):
    builds = credibility.compare_command(credibility.Trial(0, "tandem", "ab10"), tmp_path, False,
                                         "graph", sides=("a=stock", "b=intel-tensorflow==2.14.0"))
    variants = [builds[i + 1] for i, option in enumerate(builds) if option == "--variant"]
    assert variants == ["a=stock", "b=intel-tensorflow==2.14.0"] and "--workload" not in builds


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
    # b's workers did a fixed 10% more arithmetic per call, calibrated once before the compares
    calibrated = result["extra_products"]["ab10"]
    assert all(0.07 <= fraction <= 0.13 for fraction in calibrated["realised"].values())
    assert 0.0 < calibrated["measured_sweep"] < 0.3  # timed with the products: more time
    for run in [r for r in result["runs"] if r["kind"] == "ab10"]:
        assert verdict_class(run["verdict"]) != FASTER  # never judged the faster one
    assert set(result["targets"]) == {"busy"} and result["planned"] == 2
