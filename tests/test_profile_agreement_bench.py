"""The profile-agreement benchmark's verdict on its runs (the runs themselves are real
``profile.py`` runs, measured by the benchmark, not here)."""

from pathlib import Path

import pytest

from benchmarks.profile_agreement import conclusions, screening_vs_final, targets
from tests.summaries import lab_summary


def _run(kept, speedup, ci, seconds=600.0, preset="default"):
    return {"preset": preset, "seconds": seconds, "kept": kept, "speedup": speedup, "ci95": ci,
            "contradictions": []}


def test_two_runs_agree_when_they_keep_the_same_steps_and_each_best_is_in_the_others_ci():
    found = targets([_run(["xla", "threads"], 1.40, [1.32, 1.47]),
                     _run(["xla", "threads"], 1.35, [1.30, 1.42])])
    assert found["same_kept_steps"]["met"] and found["best_inside_each_others_ci"]["met"]


def test_a_best_outside_the_other_runs_ci_or_other_steps_is_a_disagreement():
    found = targets([_run(["xla"], 1.40, [1.36, 1.44]),
                     _run(["xla", "batching"], 1.25, [1.2, 1.3])])
    assert not found["same_kept_steps"]["met"]
    assert not found["best_inside_each_others_ci"]["met"]


def test_no_best_counts_as_1x_and_slow_or_failed_runs_miss_their_targets():
    found = targets([_run([], None, None, seconds=1000.0), _run([], 1.02, [0.99, 1.05]),
                     _run([], None, None, seconds=200.0, preset="quick"),
                     {"preset": "quick", "seconds": 10.0, "error": "boom"}])
    assert found["best_inside_each_others_ci"]["met"]
    assert not found["default_seconds_max"]["met"] and not found["quick_seconds_max"]["met"]
    assert found["failed_runs"]["value"] == 1 and not found["failed_runs"]["met"]


def step(screening_ci, final_ci):
    """A summary's step entry: its speedup over batching in screening and in the final rounds."""
    def measured(ci):
        return {"before": "batching", "value": sum(ci) / 2, "ci95": ci}
    return {"label": "onednn", "vs_previous": measured(screening_ci), "vs_base": measured(final_ci)}


def test_a_step_whose_screening_and_final_intervals_lie_apart_is_a_disagreement():
    agree = screening_vs_final(step([0.98, 1.04], [1.02, 1.10]))
    apart = screening_vs_final(step([0.98, 1.04], [1.10, 1.23]))
    assert agree["overlap"] and agree["base"] == "batching" and agree["final"] == [1.06, 1.02, 1.10]
    assert not apart["overlap"]
    runs = [{**_run(["xla"], 1.4, [1.3, 1.5]), "screening_vs_final": {"onednn": found}}
            for found in (agree, apart)]  # fmt: skip
    assert targets(runs)["screening_final_disagreements"]["value"] == 1
    assert targets(runs[:1])["screening_final_disagreements"]["met"]


def test_a_runs_conclusions_carry_initials_median_and_how_far_it_moved_within_the_run():
    drift = {"label": "initial", "screening_ms": 99.0, "final_ms": 90.0, "change": -0.09,
             "minutes_apart": 4.0}  # fmt: skip
    found = conclusions({**lab_summary(), "drift": drift}, Path("summary.json"))
    assert found["initial_ms"] == pytest.approx(90, rel=0.05) and found["drift"] == drift
    assert found["best"] == "graph" and found["kept"] == ["graph"] and found["contradictions"] == []
    assert conclusions(lab_summary(), Path("summary.json"))["drift"] is None
