"""Versioned files: run records and summaries name their format, and a reader refuses a version
it does not read with a message naming the file and both versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfopt import summary
from tfopt.export import export_all
from tfopt.records import RunRecord, read_record, write_record
from tfopt.schema import SchemaError
from tuner.outcome import TrialOutcome, TrialStatus

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SUMMARIES = sorted((ROOT / "examples" / "results").glob("**/summary.json"))


def record(status="complete") -> RunRecord:
    return RunRecord("abc", 0, "a", status, {"mode": "a"}, payload={"sweeps": [0.1]})


def test_a_record_carries_the_tuner_s_status_and_stores_its_value(tmp_path):
    path = write_record(tmp_path, record("timeout"))
    assert json.loads(path.read_text())["status"] == "timeout"
    assert read_record(path).status is TrialStatus.TIMEOUT
    assert record().status is TrialStatus.COMPLETE and record().ok


def test_a_record_is_written_as_before(tmp_path):
    """The bytes of a record file: older tfopt versions and existing folders read them."""
    path = write_record(tmp_path, record())
    assert path.read_text() == (
        '{"format": 1, "run_id": "abc", "worker": 0, "label": "a", "status": "complete", '
        '"params": {"mode": "a"}, "payload": {"sweeps": [0.1]}, "reason": null, '
        '"wall_time": 0.0, "peak_rss": null, "backend": "none", "folder": "", '
        '"finished_at": 0.0}'
    )



def test_a_record_of_an_outcome_keeps_the_child_facts_it_has_fields_for(tmp_path):
    """One copy of a trial's facts: the record takes what it stores, in the same bytes."""
    outcome = TrialOutcome(TrialStatus.COMPLETE, {"sweeps": [0.1]}, reason=None, wall_time=1.5,
                           pid=42, peak_rss=2048, backend="cgroup_v2", enforced={"cpus": "quota"},
                           warnings=["w"])  # fmt: skip
    made = RunRecord.of_outcome(outcome, run_id="abc", worker=0, label="a", params={"mode": "a"})
    assert made.to_dict() == {**record().to_dict(), "wall_time": 1.5, "peak_rss": 2048,
                              "backend": "cgroup_v2"}  # fmt: skip
    returned_a_number = TrialOutcome(TrialStatus.FAIL, 3.0, value=3.0, reason="boom")
    failed = RunRecord.of_outcome(returned_a_number.as_dict(), run_id="abc", worker=0,
                                  label="a", params={})  # fmt: skip
    assert failed.payload is None and failed.reason == "boom" and not failed.ok

def test_a_record_of_a_newer_format_is_refused_not_measured_again(tmp_path):
    path = write_record(tmp_path, record())
    path.write_text(path.read_text().replace('"format": 1', '"format": 2'))
    with pytest.raises(SchemaError, match=rf"^{path} format 2, this tfopt reads 1$"):
        read_record(path)


def test_a_record_without_a_format_is_ignored_as_damaged(tmp_path, capsys):
    path = tmp_path / "run-abc-w0.json"
    path.write_text('{"run_id": "abc"}')
    assert read_record(path) is None
    assert "ignoring unreadable run record" in capsys.readouterr().err


@pytest.mark.parametrize("path", EXAMPLE_SUMMARIES, ids=lambda p: p.parent.name)
def test_every_example_summary_loads(path):
    document = summary.from_dict(json.loads(path.read_text()), path)
    assert document["schema"] == summary.SCHEMA and document["configs"]


def test_the_examples_are_there():
    assert len(EXAMPLE_SUMMARIES) >= 4


def test_a_summary_of_a_newer_schema_is_refused_naming_file_and_versions(tmp_path):
    data = summary.summary_document("lab", "t", {}, {})
    with pytest.raises(SchemaError, match=r"summary.json schema 3, this tfopt reads 1$"):
        export_all({**data, "schema": 3}, tmp_path)
    assert not (tmp_path / "summary.json").exists()


@pytest.mark.parametrize("data, said", [
    ([1, 2], "is not a summary document"),
    ({"kind": "lab"}, "schema missing, this tfopt reads 1"),
    ({"schema": 1, "kind": "lab"}, "it lacks title, configs, steps, comparisons"),
])  # fmt: skip
def test_what_is_not_a_summary_is_named(data, said):
    with pytest.raises(SchemaError, match=said):
        summary.from_dict(data, "x/summary.json")
