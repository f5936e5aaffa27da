"""The Docker limits backend: real containers of the lab image under real cgroup limits.

Where no engine is reachable the engine tests skip with the reason; the input checks and the
unreachable-engine report run everywhere.
"""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tuner
from tuner.limits.docker import DockerBackend, connect, engine_problem, run_in_container

ROOT = Path(__file__).resolve().parents[1]
#: Run as a trial: what confines the container, as the harness's environment record sees it.
CONFINES = "tuner.limits:current_json"

engine = pytest.mark.docker


def containers_named(prefix: str) -> list:
    return [c for c in connect().containers.list(all=True) if c.name.startswith(prefix)]


def wait_for_running(prefix: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(c.status == "running" for c in containers_named(prefix)):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError(f"no running container named {prefix}*")


def interrupt(proc: subprocess.Popen, prefix: str, seconds: float = 180) -> str:
    """Ctrl-C ``proc``; its stderr once it has exited. Removing a container can take the engine
    long on a busy machine: a launcher still running after ``seconds`` fails the test, naming
    what its containers were doing."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=seconds)[1]
    except subprocess.TimeoutExpired:
        states = [(c.name, c.status) for c in containers_named(prefix)]
        proc.kill()
        err = proc.communicate()[1]
        raise AssertionError(f"still running {seconds} s after Ctrl-C; containers {states}; "
                             f"stderr: {err[-2000:]}") from None


def quiet_run(command: list[str], limits: dict, image: str, **options):
    out, err = io.BytesIO(), io.BytesIO()
    run = run_in_container(command, limits, image=image, stdout=out, stderr=err, **options)
    return run, out.getvalue().decode(), err.getvalue().decode()


@engine
@pytest.mark.slow
def test_an_oom_kill_is_reported_at_its_limit_and_the_container_removed(lab_image):
    run, _, _ = quiet_run(
        ["python", "-c", "import os; os.urandom(1 << 30)"], {"memory": "128M"}, lab_image
    )
    assert run.oom_killed and run.exit_code == 137
    assert run.reason == "OOM-killed at 128 MiB"
    assert not containers_named(run.name)


@engine
@pytest.mark.slow
def test_stdin_output_and_exit_code_travel_through_the_container(lab_image):
    script = "import sys; print(sys.stdin.read()[::-1]); sys.stderr.write('to stderr\\n'); exit(3)"
    run, out, err = quiet_run(["python", "-c", script], {"cpus": 1}, lab_image, stdin=b"lab")
    assert (out, err) == ("bal\n", "to stderr\n")
    assert run.exit_code == 3 and not run.oom_killed
    assert run.reason == "exited with code 3"


@engine
@pytest.mark.slow
def test_a_trial_sees_its_quota_memory_cap_and_cpuset_from_inside(lab_image):
    """The environment record's view: all cores visible, a CFS quota of one core, the cap."""
    backend = DockerBackend(image=lab_image)
    quota = tuner.run_in_child(
        CONFINES, mode="spawn", backend=backend, limits={"cpus": 1, "memory": "1G"}
    )
    assert quota.ok, quota.reason
    assert quota.payload["cpu_quota_cores"] == 1.0
    assert quota.payload["memory_limit"] == 1024**3
    assert quota.payload["visible_cores"] == os.cpu_count()
    assert quota.backend == "docker"
    assert quota.enforced == {"cpus": "nano_cpus", "memory": "mem_limit"}

    pinned = tuner.run_in_child(CONFINES, mode="spawn", backend=backend, limits={"cpuset": "0"})
    assert pinned.ok, pinned.reason
    assert (pinned.payload["visible_cores"], pinned.payload["affinity"]) == (1, "0")
    assert pinned.payload["cpu_quota_cores"] is None


@engine
@pytest.mark.slow
def test_an_oom_killed_trial_is_reported_and_the_next_trial_still_runs(lab_image):
    backend = DockerBackend(image=lab_image)
    killed = tuner.run_in_child(
        "os:urandom", 1 << 30, mode="spawn", backend=backend, limits={"memory": "128M"}
    )
    assert killed.status is tuner.TrialStatus.OOM
    assert killed.reason == "OOM-killed at 128 MiB"
    after = tuner.run_in_child(
        "operator:add", 2, 3, mode="spawn", backend=backend, limits={"memory": "128M"}
    )
    assert after.ok and after.value == 5.0
    assert not containers_named(f"tfopt-trial-{os.getpid()}-")


@engine
@pytest.mark.slow
def test_a_trial_past_its_timeout_is_stopped_and_its_container_removed(lab_image):
    outcome = tuner.run_in_child(
        "time:sleep", 120, mode="spawn", timeout=5, backend=DockerBackend(image=lab_image),
        limits={"cpus": 1},
    )  # fmt: skip
    assert outcome.status is tuner.TrialStatus.TIMEOUT
    assert not containers_named(f"tfopt-trial-{os.getpid()}-")


@engine
@pytest.mark.slow
def test_ctrl_c_in_the_launcher_removes_the_container(lab_image):
    name = f"tfopt-test-sigint-{os.getpid()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuner.limits.docker", "--image", lab_image, "--name", name,
         "--cpus", "1", "--", "sleep", "120"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_running(name, proc)
    err = interrupt(proc, name)
    assert proc.returncode == 128 + signal.SIGINT, err
    assert "interrupted; the container was removed" in err
    assert not containers_named(name)


@engine
@pytest.mark.slow
def test_ctrl_c_in_the_tuner_removes_the_trial_container(lab_image):
    script = (
        "import tuner; from tuner.limits.docker import DockerBackend; "
        f"tuner.run_in_child('time:sleep', 120, mode='spawn', limits={{'cpus': 1}}, "
        f"backend=DockerBackend(image={lab_image!r}))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    prefix = f"tfopt-trial-{proc.pid}-"
    wait_for_running(prefix, proc)
    err = interrupt(proc, prefix)
    assert "KeyboardInterrupt" in err
    assert not containers_named(prefix)


def test_the_backend_cannot_confine_a_forked_child():
    """Said before any engine or image is looked at: it is the caller's to fix on any machine."""
    with pytest.raises(ValueError, match="start_method='spawn'"):
        tuner.run_in_child(pow, 2, 3, limits={"cpus": 1}, backend=DockerBackend())


@engine
def test_a_missing_image_is_named_with_the_way_to_build_it():
    if engine_problem():
        pytest.skip(engine_problem())
    reason = DockerBackend(image="tfopt:no-such-image").unavailable_reason()
    assert "tfopt:no-such-image" in reason and "make image" in reason
    with pytest.raises(ValueError, match="make image"):
        run_in_container(["true"], image="tfopt:no-such-image")


def test_an_unreachable_engine_makes_the_backend_unavailable_with_the_reason(monkeypatch, tmp_path):
    """A real client against a socket nobody listens on: what a machine without Docker sees."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    reason = DockerBackend().unavailable_reason()
    assert reason.startswith("no Docker engine is reachable")
    with pytest.raises(ValueError, match="docker.*cannot be used: no Docker engine"):
        tuner.run_in_child("operator:add", 1, 2, mode="spawn", limits={"cpus": 1},
                           backend="docker")  # fmt: skip
    with pytest.raises(RuntimeError, match="no Docker engine is reachable"):
        run_in_container(["true"])


def test_bad_commands_and_limits_are_rejected_before_any_container():
    with pytest.raises(TypeError, match="list of strings"):
        run_in_container("python -c 1")
    with pytest.raises(ValueError, match="empty"):
        run_in_container([])
    with pytest.raises(ValueError, match="memory"):
        run_in_container(["true"], {"memory": "lots"})


@engine
@pytest.mark.slow
def test_a_whole_run_past_its_timeout_is_killed_and_what_it_wrote_is_kept(lab_image, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    results.chmod(0o777)  # the image's non-root user writes here
    script = "open('/results/done.txt', 'w').write('finished part'); import time; time.sleep(600)"
    for timeout in (3, 15, 60):  # longer only if a loaded machine kept python from starting
        run, _, _ = quiet_run(["python", "-c", script], {"cpus": 1}, lab_image,
                              volumes={str(results): "/results"}, timeout=timeout)  # fmt: skip
        if (results / "done.txt").exists():
            break
    assert run.reason == f"timed out after {timeout} s" and run.exit_code != 0
    assert (results / "done.txt").read_text() == "finished part"
    assert not containers_named(run.name)
    quick, _, _ = quiet_run(["true"], {}, lab_image, timeout=30)
    assert quick.reason is None and quick.timed_out_after is None  # the watchdog never fired


@engine
@pytest.mark.slow
def test_the_launcher_answers_the_tuner_timeout_not_oom_when_its_timeout_stops_a_trial(lab_image):
    done = subprocess.run(
        [sys.executable, "-m", "tuner.limits.docker", "--image", lab_image, "--protocol",
         "--timeout", "2", "--", "python", "-c", "import time; time.sleep(60)"],
        input="{}", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["status"] == "timeout" and answer["reason"] == "timed out after 2 s"


def test_a_run_timeout_must_be_positive():
    for timeout in (0, True, "5"):  # the same rule as run_in_child's: a bool is not seconds
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            run_in_container(["true"], timeout=timeout)
