"""The tuner's side of reliable results: a trial log that a crash cannot corrupt and that is
keyed to its objective, and trials that cannot outlive their kill or their cgroup."""

import os
import subprocess
import time
from pathlib import Path

import pytest

import tuner
from tests.procfs import is_running
from tests.waiting import wait_until
from tuner.limits import choose_backend
from tuner.log import TrialLog
from tuner.outcome import TrialOutcome, TrialStatus
from tuner.space import Space
from tuner.trial import Trial

SPACE = Space({"x": tuner.Int(0, 10)})
KEY = {"task": {"workload": "g2p", "mode": "graph", "sizes": [1, 2]}, "cpus": None}


def log_of(path: Path, key: dict | None = KEY) -> TrialLog:
    return TrialLog(path, SPACE, "random", 7, key)


def trial(x: int) -> Trial:
    return Trial.from_outcome(x, {"x": x}, 0, TrialOutcome(TrialStatus.COMPLETE, value=float(x)))


def test_a_cut_last_line_is_reported_and_the_next_trial_starts_on_a_fresh_line(tmp_path, capsys):
    path = tmp_path / "tuning.jsonl"
    log = log_of(path)
    log.append(trial(1))
    log.append(trial(2))
    path.write_text(path.read_text()[:-20])  # a crash while writing trial 2
    resumed = log_of(path)
    assert f"{path} line 3 was cut short" in capsys.readouterr().err
    assert resumed.lookup({"x": 1}, 0) and not resumed.lookup({"x": 2}, 0)
    resumed.append(trial(3))
    assert log_of(path).lookup({"x": 3}, 0).value == 3.0  # not glued onto the fragment


def test_a_broken_line_inside_the_log_is_refused_naming_file_and_line(tmp_path):
    path = tmp_path / "tuning.jsonl"
    log_of(path).append(trial(1))
    header, first = path.read_text().splitlines()
    path.write_text("\n".join([header, first, "garbage", first]) + "\n")
    with pytest.raises(ValueError, match=rf"{path} line 3 is not a JSON record"):
        log_of(path)


def test_a_log_of_another_objective_is_refused_naming_the_difference(tmp_path):
    path = tmp_path / "tuning.jsonl"
    log_of(path).append(trial(1))
    eager = {**KEY, "task": {**KEY["task"], "mode": "eager"}}
    with pytest.raises(ValueError, match=r"another objective \(task: logged .*'graph'.*'eager'"):
        log_of(path, eager)
    with pytest.raises(ValueError, match="another objective"):
        log_of(path, None)  # a log written with a key is not reused without one
    assert log_of(path).lookup({"x": 1}, 0).value == 1.0  # the right objective reads it back


def test_minimize_refuses_a_stale_log_instead_of_answering_from_it(tmp_path):
    path = str(tmp_path / "tuning.jsonl")
    first = tuner.minimize(lambda c: c["x"], {"x": tuner.Int(0, 3)}, strategy="grid", log=path,
                           log_key={"mode": "graph"})  # fmt: skip
    assert first.best_value == 0
    with pytest.raises(ValueError, match="mode: logged 'graph', now 'eager'"):
        tuner.minimize(lambda c: c["x"] + 100, {"x": tuner.Int(0, 3)}, strategy="grid",
                       log=path, log_key={"mode": "eager"})  # fmt: skip


def test_the_lab_keys_its_tuning_log_to_what_changes_the_objective():
    from tfopt.objective import log_name, objective_key
    from tfopt.variants import Variant

    task = {"workload": {"spec": "g2p"}, "options": {"mode": "graph"}, "sizes": [1],
            "run_dir": "/r/a", "worker": 0}  # fmt: skip
    config = {"cpus": None, "memory": None}
    base = objective_key(task, config, {}, Variant("stock"))
    assert base["tensorflow"]  # the installed TensorFlow is part of it
    assert log_name(base) == log_name(objective_key({**task, "run_dir": "/r/b"}, config, {},
                                                    Variant("stock")))  # fmt: skip
    changed = [
        objective_key({**task, "options": {"mode": "eager"}}, config, {}, Variant("stock")),
        objective_key({**task, "sizes": [1, 2]}, config, {}, Variant("stock")),
        objective_key(task, {**config, "cpus": 1}, {}, Variant("stock")),
        objective_key(task, config, {"TF_ENABLE_ONEDNN_OPTS": "0"}, Variant("stock")),
        objective_key(task, config, {}, Variant("old", requirement="tensorflow-cpu==2.20.0")),
    ]
    assert len({log_name(key) for key in [base, *changed]}) == 6


# --- kills reach every process of a trial --------------------------------------------------------


def escaping_trial(pid_file: str, then_sleep: float) -> float:
    """Starts a process in its own session (out of the trial's process group), then sleeps."""
    child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    Path(pid_file).write_text(str(child.pid))
    time.sleep(then_sleep)
    return 1.0


def cgroup_or_skip(limits: dict | None) -> None:
    """Skip, saying why, where this machine can make no cgroup for such a trial."""
    from tuner.limits.tracking import TrackingConfinement, tracking_confinement

    if limits is None:
        confinement = tracking_confinement()
        confinement.close()
        if not isinstance(confinement, TrackingConfinement):
            pytest.skip("no writable cgroup hierarchy here to track an unconfined trial")
        return
    try:
        backend = choose_backend(tuner.Limits(**limits), "fork")
    except RuntimeError as err:
        pytest.skip(str(err))
    if not backend.name.startswith("cgroup"):
        pytest.skip(f"no cgroup backend here (chose {backend.name})")


@pytest.mark.parametrize("limits", [None, {"cpus": 1}], ids=["no-limits", "cpus"])
@pytest.mark.parametrize("then_sleep", [0.0, 60.0], ids=["returns", "times-out"])
def test_a_trial_in_its_own_session_does_not_escape_and_its_cgroup_is_removed(
    tmp_path, then_sleep, limits
):
    cgroup_or_skip(limits)
    pid_file = tmp_path / "pid"
    outcome = tuner.run_in_child(escaping_trial, str(pid_file), then_sleep, timeout=5,
                                 limits=limits)  # fmt: skip
    assert outcome.status is (TrialStatus.COMPLETE if not then_sleep
                              else TrialStatus.TIMEOUT)  # fmt: skip
    escaped = int(pid_file.read_text())
    # killed processes are reaped by init asynchronously
    wait_until(lambda: not is_running(escaped), "the escaped process to end")
    assert not list(Path("/sys/fs/cgroup").glob(f"*/**/tfopt-trial-{os.getpid()}-*"))
