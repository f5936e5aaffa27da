"""Exporters: run_data.csv written as runs finish, and a report redrawn from summary.json alone."""

import json

import pytest

from tests.summaries import lab_summary, record
from tfopt.cli import main
from tfopt.export import export_all
from tfopt.export.csv_format import RunDataCsv
from tfopt.recommend import contradictions
from tfopt.records import RunRecord


def test_csv_rows_are_appended_as_runs_finish_and_completed_keys_resume(tmp_path):
    csv = RunDataCsv(tmp_path / "run_data.csv")
    csv.append(record("a", 0.01))
    assert len(csv.rows()) == 1  # on disk at once, not at the end
    failed = RunRecord("id-b", 0, "b", "timeout", {"mode": "b"}, reason="killed after 5 s")
    csv.append(failed)
    csv.append(record("c", 0.02, params={"mode": "c", "knobs": {"inter": 2}}))  # a new column
    rows = csv.rows()
    assert [r["label"] for r in rows] == ["a", "b", "c"]
    assert rows[2]["param.knobs.inter"] == "2" and rows[0]["param.knobs.inter"] == ""
    assert csv.completed() == {("id-a", 0), ("id-c", 0)}  # the timeout is retried on rerun
    assert float(rows[0]["sweep_p50_ms"]) == pytest.approx(10.0, rel=0.05)  # a 10 ms median
    assert rows[0]["sweeps_ms"].count(";") == 11


def test_summary_figures_and_comparison():
    summary = lab_summary()
    graph = summary["configs"]["graph"]
    assert graph["workers"] == 2 and len(graph["sweeps_ms"]) == 24
    assert set(graph["by_size"]) == {"1", "2", "6"}
    assert graph["sweep"]["p50"] <= graph["sweep"]["p90"] <= graph["sweep"]["p99"]
    assert graph["throughput"] == pytest.approx(9 / (graph["sweep"]["median"] / 1000))  # words/s
    assert summary["speedup"]["win"] and 2.5 < summary["speedup"]["value"] < 3.5


def test_every_format_is_written_and_can_be_redrawn_from_summary_json(tmp_path):
    written = {p.name for p in export_all(lab_summary(), tmp_path)}
    assert {"summary.json", "initial.png", "graph.png", "report.md"} <= written
    report = (tmp_path / "report.md").read_text()
    assert "| graph | graph mode |" in report and "![graph](graph.png)" in report
    assert "Test CPU" in report
    assert contradictions(lab_summary()) == [] and "Inconsistent" not in report
    assert "**Best: `graph`: graph is 3." in report and "x faster than initial" in report
    for line in ("TF_ENABLE_ONEDNN_OPTS=0", "model options: mode='graph'",
                 "tf.config.threading.set_intra_op_parallelism_threads(1)"):
        assert line in report
    assert "| initial | 2.21.0 | 2 |" in report  # which TensorFlow each configuration ran
    for name in ("initial.png", "graph.png"):
        (tmp_path / name).unlink()
    assert main(["report", str(tmp_path), "--json"]) == 0
    assert (tmp_path / "graph.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "summary.json").read_text())["best"] == "graph"


def test_report_of_a_folder_without_summary_is_a_usage_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "summary.json does not exist" in capsys.readouterr().err
