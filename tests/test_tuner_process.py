"""One function in one real child process: results, failures, timeouts, reaping, Ctrl-C."""

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tuner
from tests.procfs import children_of, is_running
from tests.waiting import wait_until
from tuner import TrialStatus

ROOT = Path(__file__).resolve().parents[1]


def returns_config(config):
    return {"seen": config, "pid": os.getpid()}


def raises():
    raise ValueError("bad knob")


def exits_with(code):
    os._exit(code)


def kills_itself():
    os.kill(os.getpid(), signal.SIGKILL)


def sleeps(seconds):
    time.sleep(seconds)
    return seconds


def spawns_sleeper_then_hangs(pid_file):
    sleeper = subprocess.Popen(["sleep", "60"])
    Path(pid_file).write_text(str(sleeper.pid))
    time.sleep(60)


def test_fork_returns_value_payload_and_process_facts():
    outcome = tuner.run_in_child(pow, 2, 10)
    assert outcome.status is TrialStatus.COMPLETE
    assert (outcome.payload, outcome.value) == (1024, 1024.0)
    assert outcome.pid != os.getpid()
    assert outcome.peak_rss > 1024**2
    assert outcome.backend == "none"


def test_wall_time_is_the_childs_own_span_in_seconds():
    started = time.monotonic()
    outcome = tuner.run_in_child(sleeps, 0.2)
    waited = time.monotonic() - started
    assert outcome.value == 0.2
    # A sleep never ends early, and the child's span lies inside the parent's wait: a clock in
    # other units, an absolute timestamp or a time taken before the fork would break one side.
    assert 0.2 <= outcome.wall_time <= waited


def test_json_payload_comes_back_as_data_without_a_value():
    outcome = tuner.run_in_child(returns_config, {"inter": 2, "intra": [1, 2]})
    assert outcome.payload["seen"] == {"inter": 2, "intra": [1, 2]}
    assert outcome.payload["pid"] == outcome.pid
    assert outcome.value is None
    assert outcome.score == float("inf")


@pytest.mark.parametrize(
    ("target", "args", "status", "reason"),
    [
        (raises, (), TrialStatus.FAIL, "ValueError: bad knob"),
        (bytearray, (10,), TrialStatus.FAIL, "not JSON"),
        (sys.exit, (3,), TrialStatus.FAIL, "sys.exit(3)"),
        (exits_with, (7,), TrialStatus.FAIL, "exited with code 7"),
        (kills_itself, (), TrialStatus.SIGNALLED, "SIGKILL"),
        (float, ("nan",), TrialStatus.FAIL, "NaN"),
        (float, ("-inf",), TrialStatus.FAIL, "returned -inf, not a finite number"),
    ],
)
def test_failures_are_outcomes_with_reasons(target, args, status, reason):
    outcome = tuner.run_in_child(target, *args)
    assert outcome.status is status
    assert reason in outcome.reason
    assert outcome.score == float("inf")


def test_timeout_kills_the_child_and_what_it_started(tmp_path):
    pid_file = tmp_path / "sleeper.pid"
    for timeout in (1.0, 10.0, 60.0):  # longer only if a loaded machine delayed the child's start
        outcome = tuner.run_in_child(spawns_sleeper_then_hangs, str(pid_file), timeout=timeout)
        if pid_file.exists():
            break
    assert pid_file.exists(), "the child never started its sleeper"
    assert outcome.status is TrialStatus.TIMEOUT
    assert timeout <= outcome.wall_time < 60  # stopped at its timeout, not at the target's end
    assert not is_running(outcome.pid)
    sleeper = int(pid_file.read_text())
    wait_until(lambda: not is_running(sleeper), "the killed sleeper to end")  # no orphan left


def test_children_are_always_reaped():
    for target, args in [(pow, (2, 3)), (raises, ()), (kills_itself, ()), (time.sleep, (5,))]:
        tuner.run_in_child(target, *args, timeout=0.5)
    assert children_of(os.getpid()) == []


def test_spawn_sets_env_before_importing_the_target(tmp_path, monkeypatch):
    (tmp_path / "reads_env_at_import.py").write_text(
        "import os\nAT_IMPORT = os.environ.get('TFOPT_PROBE')\n"
        "def value():\n    return AT_IMPORT\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    outcome = tuner.run_in_child(
        "reads_env_at_import:value", mode="spawn", env={"TFOPT_PROBE": "set-before-import"}
    )
    assert outcome.status is TrialStatus.COMPLETE, outcome.reason
    assert outcome.payload == "set-before-import"


def test_spawn_runs_another_interpreter_with_the_standard_library_only():
    other = "/usr/bin/python3"
    if not Path(other).exists():
        pytest.skip(f"no second interpreter at {other}")
    outcome = tuner.run_in_child("sys:exc_info", mode="spawn", python=other)
    assert outcome.status is TrialStatus.COMPLETE, outcome.reason
    prefix = tuner.run_in_child("sysconfig:get_path", "purelib", mode="spawn", python=other)
    assert prefix.payload != tuner.run_in_child("sysconfig:get_path", "purelib").payload


def test_spawn_sends_a_partial_as_its_function_and_bound_arguments():
    bound = functools.partial(divmod, 17)
    assert tuner.run_in_child(bound, 5, mode="spawn").payload == [3, 2]  # JSON: a list
    keyworded = functools.partial(int, base=2)
    assert tuner.run_in_child(keyworded, "101", mode="spawn").value == 5


def test_spawn_failures_carry_the_reason():
    missing = tuner.run_in_child("os:no_such_function", mode="spawn")
    assert missing.status is TrialStatus.FAIL
    assert "no_such_function" in missing.reason
    died = tuner.run_in_child("os:_exit", 5, mode="spawn")
    assert died.status is TrialStatus.FAIL
    assert "exited with code 5" in died.reason


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="start_method must be one of"):
        tuner.run_in_child(pow, 1, 2, mode="thread")
    for timeout in (0, True, "5"):  # a bool is not a number of seconds
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            tuner.run_in_child(pow, 1, 2, timeout=timeout)
    with pytest.raises(TypeError, match="must be a callable"):
        tuner.run_in_child(42, mode="spawn")
    assert tuner.run_in_child(lambda: 1, mode="spawn").value == 1  # sent by value
    with pytest.raises(ValueError, match="module:function"):
        tuner.run_in_child("no_colon", mode="spawn")
    with pytest.raises(TypeError, match="JSON"):
        tuner.run_in_child("os:getpid", object(), mode="spawn")



def test_start_method_is_the_keyword_and_mode_its_older_spelling():
    assert tuner.run_in_child("os:getpid", start_method="spawn").payload != os.getpid()
    assert tuner.run_in_child(pow, 2, 3, start_method="fork", mode="fork").value == 8  # agreeing
    disagree = "start_method='spawn' and mode='fork' disagree"
    with pytest.raises(TypeError, match=disagree):
        tuner.run_in_child(pow, 2, 3, start_method="spawn", mode="fork")
    with pytest.raises(TypeError, match=disagree):
        tuner.minimize(abs, {"x": tuner.Int(0, 1)}, start_method="spawn", mode="fork")


CTRL_C_SCRIPT = """
import os, sys, time
import tuner

def objective(config):
    with open(sys.argv[2], "a") as marks:
        marks.write(f"{config['x']} {os.getpid()}\\n")
    if config["x"] >= 3 and not os.path.exists(sys.argv[3]):
        time.sleep(600)  # held until the test has interrupted the first run
    return config["x"]

space = {"x": tuner.Int(0, 11)}
result = tuner.minimize(objective, space, strategy="grid", log=sys.argv[1], confirm=0)
print("interrupted" if result.interrupted else "finished", result.evaluated, flush=True)
"""


def completed_x(log: Path) -> set[int]:
    trials = [json.loads(line) for line in log.read_text().splitlines()[1:]]
    return {t["config"]["x"] for t in trials if t["status"] == "complete"}


def test_ctrl_c_stops_cleanly_keeps_finished_trials_and_resumes(tmp_path):
    script, log, marks = tmp_path / "tune.py", tmp_path / "trials.jsonl", tmp_path / "marks"
    release = tmp_path / "release"
    script.write_text(CTRL_C_SCRIPT)
    command = [sys.executable, str(script), str(log), str(marks), str(release)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        wait_until(lambda: marks.exists() and any(
            line.startswith("3 ") for line in marks.read_text().splitlines()), "trial x=3")
    finally:
        proc.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C sends to the tuner
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert out.startswith("interrupted")
    first_run = completed_x(log)
    assert first_run == {0, 1, 2}
    pids = [int(line.split()[1]) for line in marks.read_text().splitlines()]
    assert not any(is_running(pid) for pid in pids)  # the interrupted child is gone too

    release.touch()
    rerun = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert rerun.stdout.startswith("finished 12"), rerun.stderr
    assert completed_x(log) == set(range(12))
    started = [int(line.split()[0]) for line in marks.read_text().splitlines()]
    assert all(started.count(x) == 1 for x in first_run)  # finished trials never ran again
