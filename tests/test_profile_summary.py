"""The lab's summary: per-step comparisons against initial, variant plots, the best step."""

import sys

import pytest

from tests.summaries import record
from tfopt.export import export_all
from tfopt.lab import Lab, LabSettings
from tfopt.summary import config_entry
from tfopt.variants import Variant


def test_summary_compares_every_step_with_initial_and_names_variant_plots(tmp_path):
    settings = LabSettings(base={"sizes": [1, 2, 6]}, steps=["graph"],
                           variants={"old": Variant("old", python=sys.executable)})  # fmt: skip
    lab = Lab(settings, tmp_path)
    assert [step.name for step in lab.steps] == ["graph", "variant_old"]
    configs = {
        label: config_entry(label, {"mode": label, "variant": variant},
                            [record(label, median, w) for w in (0, 1)])
        for label, median, variant in (("initial", 0.09, "stock"), ("graph", 0.03, "stock"),
                                       ("variant_old", 0.031, "old"))
    }  # fmt: skip
    walked = [
        {"name": "graph", "label": "graph", "file": "graph", "change": "graph mode",
         "base": "initial", "config": {}, "vs_previous": None, "kept": True},
        {"name": "variant_old", "label": "variant_old", "file": "variant_old",
         "change": "variant old", "base": "graph", "config": {}, "vs_previous": None,
         "kept": False},
    ]  # fmt: skip
    summary = lab.summarize({"cpu": {"model": "Test CPU"}}, walked, configs)
    assert summary["best"] == "graph"
    assert summary["speedup"]["value"] > 2.5 and summary["speedup"]["win"]
    assert all("config" not in step and step["vs_initial"] for step in summary["steps"])
    (variant,) = summary["comparisons"]
    assert variant["file"] == "stock_vs_old"
    assert variant["comparison"]["verdict"] == "inconclusive"  # 3% apart, two rounds: undecided
    assert variant["comparison"]["n"] == 2
    written = {p.name for p in export_all(summary, tmp_path)}
    assert {"initial.png", "graph.png", "variant_old.png", "stock_vs_old.png"} <= written


def test_recommended_settings_keep_what_was_set_and_leave_out_defaults():
    from tfopt.matrix import resolve, with_updates
    from tfopt.summary import tunable_settings

    config = with_updates(resolve({"workload": "g2p"}),
                          {"mode": "xla", "knobs.onednn": False, "knobs.intra": 2})  # fmt: skip
    assert tunable_settings(config) == {"variant": "stock", "mode": "xla", "intra": 2,
                                        "onednn": False}  # fmt: skip


def test_the_consistency_check_names_a_best_line_the_tables_contradict(tmp_path):
    """A report seen in practice: screening kept onednn, the final rounds show batching fastest;
    a Best line naming onednn is caught, and the lab's own summary has no contradiction."""
    from tests.summaries import record
    from tfopt.recommend import contradictions, paste_lines

    lab = Lab(LabSettings(base={"sizes": [1, 2, 6]}, steps=["batching", "onednn"]), tmp_path)
    medians = {"initial": 0.09, "batching": 0.0136, "onednn": 0.0159}
    configs = {label: config_entry(label, {"mode": "xla", "batch_size": 256 if label ==
                                           "batching" else None}, [record(label, m, w)
                                                                   for w in range(6)])
               for label, m in medians.items()}  # fmt: skip
    walked = [{"name": name, "label": name, "file": name, "change": name, "base": base,
               "config": {}, "vs_previous": None, "kept": name == "onednn"}
              for name, base in (("batching", "initial"), ("onednn", "batching"))]  # fmt: skip
    summary = lab.summarize({}, walked, configs)
    assert summary["best"] == "batching" and contradictions(summary) == []
    assert summary["recommendation"] == ["model options: mode='xla', batch_size=256"]
    steps = {step["name"]: step for step in summary["steps"]}
    assert steps["onednn"]["screening"].startswith("kept, not confirmed by the final rounds")
    wrong = {**summary, "best": "onednn", "speedup": steps["onednn"]["vs_initial"],
             "recommended": {}, "recommendation": paste_lines(configs["onednn"]["params"])}
    problems = contradictions(wrong)
    assert "'batching' is faster than Best 'onednn' in the final rounds" in problems
    assert "the recommended settings are not 'onednn''s" in problems


def test_leaders_the_final_rounds_cannot_tell_apart_are_reported_tied_and_the_fastest_wins(
        tmp_path):  # fmt: skip
    """A report seen in practice: threads 122.64x against onednn 121.74x, well inside both CIs,
    so another run could name either. Best is the faster by its estimate (not the one changing
    fewest settings: a noisier configuration would win by being harder to beat), and the
    headline names the tie."""
    from tests.summaries import record
    from tfopt.export.markdown_format import render
    from tfopt.recommend import contradictions, paste_lines

    lab = Lab(LabSettings(base={"sizes": [1, 2, 6]}, steps=["threads", "onednn"]), tmp_path)
    params = {"initial": {}, "threads": {"knobs": {"inter": 1, "intra": 2}},
              "onednn": {"knobs": {"onednn": False}}}  # fmt: skip
    for onednn_median, best, other in ((0.0502, "threads", "onednn"),
                                       (0.0498, "onednn", "threads")):  # fmt: skip
        medians = {"initial": 0.09, "threads": 0.0500, "onednn": onednn_median}
        configs = {label: config_entry(label, params[label], [record(label, m, w)
                                                              for w in range(6)])
                   for label, m in medians.items()}  # fmt: skip
        walked = [{"name": name, "label": name, "file": name, "change": name, "base": "initial",
                   "config": {}, "vs_previous": None, "kept": True}
                  for name in ("threads", "onednn")]  # fmt: skip
        summary = lab.summarize({}, walked, configs)
        assert summary["best"] == best and summary["tied"] == [other]
        assert summary["recommendation"] == paste_lines(params[best])
        assert contradictions(summary) == []
        text = "\n".join(render(summary))
        assert f"Tied with `{other}` (1." in text and "fastest of them" in text
    assert "the configurations tied with Best are not ['threads']" in contradictions(
        {**summary, "tied": []})


def test_a_baseline_that_moved_within_the_run_more_than_bests_ci_is_reported(tmp_path):
    """initial measured 3076 ms/sweep in screening and 2813 in the final rounds, 5 minutes later
    (seen in practice): a speedup over it known to +/-4% may move 9% in a rerun, and the report
    says so beside Best; a move within the CI is reported as such."""
    from tests.summaries import lab_summary
    from tfopt.export.markdown_format import render
    from tfopt.summary import baseline_drift

    screening = [record("initial", 3.076, w) for w in range(3)]
    final = [record("initial", 2.813, w) for w in range(6)]
    for moment, records in ((100.0, screening), (400.0, final)):
        for item in records:
            item.finished_at = moment
    drift = baseline_drift("initial", screening, final)
    assert drift is not None and drift["minutes_apart"] == 5.0
    assert drift["screening_ms"] == pytest.approx(3076, rel=0.02)
    assert drift["change"] == pytest.approx(2.813 / 3.076 - 1, abs=0.02)
    assert baseline_drift("initial", [], final) is None

    summary = {**lab_summary(), "drift": drift}
    summary["speedup"] = {**summary["speedup"], "value": 3.0, "ci95": [2.88, 3.12]}
    text = "\n".join(render(summary))
    assert "Between runs: `initial` itself measured 3" in text and "5 min later (-9." in text
    assert "more than Best's CI (+/-4.0%)" in text
    summary["speedup"]["ci95"] = [2.4, 3.6]
    assert "within Best's CI (+/-20.0%)" in "\n".join(render(summary))
    summary["best"] = "initial"
    assert "Between runs" not in "\n".join(render(summary))
