"""A contract every end-of-run exporter passes (``tfopt.export.REPORT_EXPORTERS``: a format
added there is tested here as it is): it writes its files from the summary alone, rewrites them
whole, and copes with a summary where nothing was measured or every run failed."""

import copy
from pathlib import Path

import pytest

from tests.summaries import lab_summary
from tfopt.export import REPORT_EXPORTERS
from tfopt.records import RunRecord
from tfopt.summary import config_entry

EXPORTERS = {exporter.__name__.rsplit(".", 1)[-1]: exporter for exporter in REPORT_EXPORTERS}


def empty_summary() -> dict:
    return {"schema": 1, "kind": "matrix", "title": "tfopt: nothing measured", "configs": {},
            "comparisons": []}  # fmt: skip


def failed_summary() -> dict:
    """A lab whose initial configuration never completed a run."""
    timed_out = RunRecord("id-i", 0, "initial", "timeout", {"mode": "eager"},
                          reason="killed after 5 s")  # fmt: skip
    return {**lab_summary(), "configs": {"initial": config_entry("initial", {}, [timed_out])},
            "steps": [], "best": "initial", "speedup": None, "recommended": {},
            "recommendation": []}  # fmt: skip


def export(name: str, summary: dict, out: Path) -> list[Path]:
    written = EXPORTERS[name].export(summary, out)
    assert all(isinstance(path, Path) and path.parent == out for path in written), written
    assert all(path.is_file() and path.stat().st_size > 0 for path in written), written
    return written


@pytest.fixture(params=sorted(EXPORTERS))
def name(request) -> str:
    return request.param


def test_contract_writes_its_files_from_the_summary_into_a_new_folder(name, tmp_path):
    out = tmp_path / "new" / "out"  # not there yet: the exporter makes it
    written = export(name, lab_summary(), out)
    assert written and sorted(out.iterdir()) == sorted(written)  # nothing else, no temp file


def test_contract_what_it_writes_follows_the_summary(name, tmp_path):
    """The same summary gives the same files; another summary gives other contents."""
    other = copy.deepcopy(lab_summary())
    other["title"] = "tfopt lab: another model"
    other["environment"]["cpu"]["model"] = "Another CPU"
    first = {p.name: p.read_bytes() for p in export(name, lab_summary(), tmp_path / "a")}
    again = {p.name: p.read_bytes() for p in export(name, lab_summary(), tmp_path / "b")}
    changed = {p.name: p.read_bytes() for p in export(name, other, tmp_path / "c")}
    assert set(first) == set(again) == set(changed)
    if name != "png_format":  # a PNG's bytes carry nothing to compare but its pixels
        assert first == again
    assert all(first[file] != changed[file] for file in first)


def test_contract_a_rewrite_replaces_each_file_whole(name, tmp_path):
    """Rewritten by rename, not in place: a crash mid-write leaves the old file or the new one,
    and a reader never sees half of one (a new inode each time, no temp file left)."""
    out = tmp_path / "out"
    before = {p: p.stat().st_ino for p in export(name, lab_summary(), out)}
    after = {p: p.stat().st_ino for p in export(name, lab_summary(), out)}
    assert set(after) == set(before) and sorted(out.iterdir()) == sorted(after)
    assert all(after[path] != before[path] for path in after), "rewritten in place"


@pytest.mark.parametrize("summary", [empty_summary, failed_summary], ids=["empty", "failed"])
def test_contract_a_summary_with_nothing_measured_is_exported_without_error(name, tmp_path,
                                                                          summary):  # fmt: skip
    export(name, summary(), tmp_path / "out")
