"""Results that cannot be lost or mixed up: one atomic record per run, run_data.csv derived from
the records, a lock on the results folder, and signals that stop a lab cleanly.

Labs run forked from one process that imported TensorFlow once (the ``lab_zygote`` fixture), on
the cheap real workload ``tests/cheap_workload.py``, with real forked workers."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.in_process import tfopt
from tests.procfs import children_of, is_running
from tests.waiting import wait_until
from tfopt.export.csv_format import RUN_DATA, CsvError, RunDataCsv
from tfopt.records import RecordStore, RunRecord, read_folder, write_record

ROOT = Path(__file__).resolve().parents[1]
CHEAP = {"workload": "tests.cheap_workload:make_model",
         "inputs": "tests.cheap_workload:make_inputs", "sizes": [1], "warmup": 0,
         "repeats": 3, "workers": 2, "mem_trace": {"enabled": False}}  # fmt: skip

pytestmark = pytest.mark.timeout(600)


def write_config(path: Path, **changes) -> Path:
    path.write_text(json.dumps({**CHEAP, **changes}))
    return path


def run_lab(zygote, tmp_path: Path, config: Path, out: Path, **kill) -> dict:
    reply = zygote.run(["profile", "--config", config, "--out", out], tmp_path / "lab.log", **kill)
    reply["log"] = (tmp_path / "lab.log").read_text()
    return reply


def records(out: Path) -> dict[tuple[str, int], RunRecord]:
    return {r.key: r for folder in (out / "runs").glob("*/") for r in read_folder(folder)}


def summary_workers(out: Path) -> dict[str, int]:
    summary = json.loads((out / "summary.json").read_text())
    return {label: entry["workers"] for label, entry in summary["configs"].items()}


def completed_record(run_id: str, worker: int = 0) -> RunRecord:
    payload = {"sweeps": [0.01, 0.011], "latencies": {"1": [0.01, 0.011]}}
    return RunRecord(run_id, worker, "a", "complete", {"mode": "a"}, payload=payload)


# --- the record store ---------------------------------------------------------------------------


def test_a_record_is_whole_or_absent_and_stale_temp_files_are_cleaned(tmp_path, capsys):
    folder = tmp_path / "runs" / "a"
    write_record(folder, completed_record("id-a"))
    (folder / ".run-id-b-w0.json.999.tmp").write_text('{"format": 1, "run_id": "id-b"')
    (folder / "metrics.json.tmp").write_text("")  # left by a full disk
    (folder / "run-id-c-w0.json").write_text('{"format": 1, "run_')  # damaged on disk
    store = RecordStore(tmp_path / "runs")
    assert store.completed() == {("id-a", 0)}  # the damaged record is measured again
    assert "run-id-c-w0.json" in capsys.readouterr().err
    assert not list(folder.glob("*.tmp")) and not list(folder.glob(".*.tmp"))
    assert store.of_run("id-a")[0].payload["sweeps"] == [0.01, 0.011]  # the payload as given


def test_a_record_that_cannot_be_written_leaves_nothing_behind(small_filesystem):
    folder = small_filesystem("size=64k") / "runs" / "a"
    folder.mkdir(parents=True)
    filler = os.open(folder.parent / "filler", os.O_WRONLY | os.O_CREAT)
    with pytest.raises(OSError):  # fill the filesystem to the last byte
        while True:
            os.write(filler, b"\0" * 512)
    os.close(filler)
    with pytest.raises(OSError, match="No space left"):
        write_record(folder, completed_record("id-a"))
    assert list(folder.iterdir()) == []  # no record, no temp file


# --- run_data.csv, a view of the records --------------------------------------------------------


def test_a_cut_last_csv_line_is_skipped_and_the_next_row_starts_on_a_fresh_line(tmp_path, capsys):
    csv = RunDataCsv(tmp_path / RUN_DATA)
    csv.append(completed_record("id-a"))
    csv.append(completed_record("id-b"))
    text = csv.path.read_text()
    csv.path.write_text(text[: len(text) - 25])  # a crash in the middle of the second row
    assert [r["run_id"] for r in csv.rows()] == ["id-a"]
    assert f"{csv.path} line 3 was cut short" in capsys.readouterr().err
    csv.append(completed_record("id-c"))
    assert csv.path.read_text().splitlines()[-1].startswith("id-c,0,")  # not glued on
    with pytest.raises(CsvError, match=rf"{csv.path} line 3: expected \d+ fields"):
        csv.rows()  # the fragment, now inside the file, is named by file and line


def test_deleted_run_folders_are_measured_again_and_the_report_shows_them(lab_zygote, tmp_path):
    config, out = write_config(tmp_path / "m.json", env={"CASE": ["a", "b"]}), tmp_path / "out"
    assert run_lab(lab_zygote, tmp_path, config, out)["exit"] == 0
    before = records(out)
    deleted = next((out / "runs").glob("*CASEa*"))
    for path in deleted.iterdir():
        path.unlink()
    deleted.rmdir()
    rerun = run_lab(lab_zygote, tmp_path, config, out)
    assert rerun["exit"] == 0, rerun["log"]
    after = records(out)
    assert set(after) == set(before)
    remeasured = {key for key in after if after[key].finished_at != before[key].finished_at}
    assert remeasured == {key for key in before if "CASEa" in before[key].label}
    assert set(summary_workers(out).values()) == {2}  # both configurations, both workers
    rows = RunDataCsv(out / RUN_DATA).rows()
    assert sorted((r["run_id"], r["worker"]) for r in rows) == sorted(
        (run_id, str(worker)) for run_id, worker in after
    )  # one row per record: the CSV follows the records


def test_a_scalar_turned_into_a_list_keeps_the_finished_runs_in_the_report(lab_zygote, tmp_path):
    config, out = write_config(tmp_path / "m.json", env={"CASE": "a"}), tmp_path / "out"
    assert run_lab(lab_zygote, tmp_path, config, out)["exit"] == 0
    first = records(out)
    write_config(config, env={"CASE": ["a", "b"]})  # the folder names now name CASE
    assert run_lab(lab_zygote, tmp_path, config, out)["exit"] == 0
    assert all(records(out)[key].finished_at == first[key].finished_at for key in first)
    assert list(summary_workers(out).values()) == [2, 2]  # not "no worker completed"


def test_a_matrix_is_expanded_once_not_after_every_run(tmp_path, monkeypatch):
    """Re-expanding a 100,000-permutation matrix after every run cost seconds per run, and so did
    hashing every pending permutation's id again; now the matrix is expanded again only when the
    config file changes, and an id is hashed once."""
    from tfopt import experiment, matrix
    from tfopt.executors.local import LocalExecutor
    from tfopt.progress import Progress

    expansions, finished, hashed = [], [], []
    monkeypatch.setattr(experiment, "expand", lambda c: expansions.append(1) or matrix.expand(c))
    sha1 = matrix.hashlib.sha1
    monkeypatch.setattr(matrix.hashlib, "sha1", lambda data: hashed.append(1) or sha1(data))

    def simulated(self, job, cpuset=None, gpu=None):  # how runs measure does not matter here
        finished.append(job.key)
        return RunRecord(job.perm.run_id, job.worker, job.label, "complete",
                         job.perm.run_params, payload=completed_record("x").payload)  # fmt: skip

    monkeypatch.setattr(LocalExecutor, "execute", simulated)
    monkeypatch.setattr(experiment, "record_environment", lambda folder: {})
    config = write_config(tmp_path / "m.json", env={"CASE": ["a", "b", "c"]})
    with open(os.devnull, "w") as quiet:
        experiment.run_experiment(config, tmp_path / "out", Progress(0, stream=quiet), {})
    assert len(finished) == 6
    assert len(expansions) == 1
    assert len(hashed) == 3  # each permutation's id once, not once per pending job per run


# --- one lab per results folder -----------------------------------------------------------------


def test_a_second_lab_on_the_same_out_is_refused_naming_the_holder(tmp_path, capsys):
    from tfopt.lock import hold_results_folder

    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from tfopt.lock import hold_results_folder; "
         f"hold_results_folder({str(out)!r}); print('held', flush=True); time.sleep(60)"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        config = write_config(tmp_path / "m.json")
        assert tfopt(["profile", "--config", config, "--out", out]) == 2
        assert f"in use by another tfopt process (pid {holder.pid})" in capsys.readouterr().err
        assert not (out / "runs").exists()
    finally:
        holder.kill()
        holder.wait()
    os.close(hold_results_folder(out))  # the holder's end frees the folder, lock file or not


# --- signals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_stop_the_lab_like_ctrl_c(tmp_path, signum, code):
    """The worker is killed with the lab's stop, its trial cgroup removed, and the exit code
    says which signal it was; a rerun resumes."""
    config = write_config(tmp_path / "m.json", cpus=1, env={"CHEAP_WORKLOAD_SLEEP": "600"})
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "tfopt", "profile", "--config", str(config), "--out", str(out)]
    lab = subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        worker = wait_for_child(lab.pid)  # signalled as soon as it forks, the worst moment
        cgroups = wait_until(lambda: trial_cgroups(lab.pid), "the worker's trial cgroup")
        lab.send_signal(signum)
        _, err = lab.communicate(timeout=120)
    finally:
        lab.kill()
        lab.wait()
    assert cgroups, "the run should be confined by a trial cgroup (cpus=1)"
    assert lab.returncode == code, err
    assert "Run the same command again to resume" in err
    # Killed, not orphaned and still measuring (its 600 s call would outlast the wait); a
    # killed process leaves /proc asynchronously, once its parent or init has reaped it.
    wait_until(lambda: not is_running(worker), f"the worker {worker} to end")
    assert not [path for path in cgroups if path.exists()]


def wait_for_child(pid: int) -> int:
    return wait_until(lambda: children_of(pid), f"process {pid} to start a worker")[0]


def trial_cgroups(pid: int) -> list[Path]:
    return list(Path("/sys/fs/cgroup").glob(f"*/**/tfopt-trial-{pid}-*"))


def sleeping(marks: Path, count: int) -> tuple[str, int]:
    """The lab_zygote's ``once``: ``count`` calls of the cheap workload have started sleeping."""
    marks.mkdir(exist_ok=True)
    return str(marks / "sleeping-*"), count


@pytest.mark.timeout(150)  # before: it waited for the runs in flight (400 s here)
def test_ctrl_c_in_a_parallel_run_kills_the_runs_in_flight_and_keeps_the_finished(
    lab_zygote, tmp_path
):
    marks = tmp_path / "marks"
    config = write_config(tmp_path / "m.json", parallel=True, cpus=1,
                          env={"CHEAP_WORKLOAD_SLEEP": ["0", "100"],
                               "CHEAP_WORKLOAD_MARKS": str(marks)})  # fmt: skip
    out = tmp_path / "out"
    # The two quick runs have finished once both sleepers are sleeping: interrupt them then.
    reply = run_lab(lab_zygote, tmp_path, config, out, signal=signal.SIGINT,
                    once=sleeping(marks, 2))  # fmt: skip
    assert reply["sent"] and reply["exit"] == 130, reply["log"]
    assert "stopping the 2 run(s) in flight" in reply["log"]
    kept = records(out)
    assert len(kept) == 2 and all(r.ok and "SLEEP0_" in r.label for r in kept.values())
    assert not list(Path("/sys/fs/cgroup").glob(f"*/**/tfopt-trial-{reply['pid']}-*"))


def test_a_lab_killed_with_kill_9_leaves_no_worker_and_its_cgroup_is_removed_next_time(
    lab_zygote, tmp_path
):
    marks = tmp_path / "marks"
    slow = write_config(tmp_path / "slow.json", cpus=1, env={"CHEAP_WORKLOAD_SLEEP": "60",
                                                              "CHEAP_WORKLOAD_MARKS": str(marks)})
    killed = run_lab(lab_zygote, tmp_path, slow, tmp_path / "a", signal=signal.SIGKILL,
                     once=sleeping(marks, 1))  # fmt: skip
    assert killed["sent"], killed["log"]
    left = trial_cgroups(killed["pid"])
    assert left, "the run should have been confined by a trial cgroup (cpus=1)"
    wait_until(lambda: not any((path / "cgroup.procs").read_text().split() for path in left),
               "the worker to die with its lab (parent-death signal)")  # fmt: skip
    quick = write_config(tmp_path / "quick.json", cpus=1)
    assert run_lab(lab_zygote, tmp_path, quick, tmp_path / "b")["exit"] == 0
    assert not [path for path in left if path.exists()]  # removed by the next lab
