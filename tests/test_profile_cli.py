"""The command line: help, exit codes, machine-readable output, refusals before anything runs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def profile(*args: str, cwd: Path = ROOT, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "profile.py", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def tfopt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfopt", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_help_explains_the_lab_and_its_outputs():
    out = profile("--help")
    assert out.returncode == 0
    for phrase in ("--quick", "--out", "--config", "--variant", "--json", "initial.png"):
        assert phrase in out.stdout
    top = tfopt("--help")
    assert top.returncode == 0 and "exit codes" in top.stdout
    for command in ("profile", "tune", "compare", "env", "report"):
        assert command in top.stdout


def test_bad_config_key_is_named_and_exits_2(tmp_path):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"cpu": [1, 2]}))
    out = profile("--config", str(config), "--out", str(tmp_path / "out"))
    assert out.returncode == 2
    assert "unknown config key 'cpu' (did you mean 'cpus'?)" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "out" / "run_data.csv").exists()  # refused before anything ran


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cpus", str((os.cpu_count() or 1) + 1)], "more than this machine"),
        (["--memory", "100M"], "below the 512 MiB"),
        (["--workload", "no_such_module:factory", "--inputs", "x:y"], "cannot be found"),
        (["--workload", "savedmodel:/nowhere"], "no saved_model.pb"),
        (["--steps", "graph,turbo"], "unknown step(s) ['turbo']"),
        (["--variant", "broken"], "NAME=SPEC"),
    ],
)
def test_impossible_limits_and_bad_inputs_are_refused_up_front(tmp_path, args, message):
    out = profile(*args, "--out", str(tmp_path))
    assert out.returncode == 2, out.stderr
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "run_data.csv").exists()


def test_flags_a_config_file_would_override_are_refused_beside_it(tmp_path):
    config = tmp_path / "lab.json"
    config.write_text(json.dumps({"batch_size": [1, 32]}))
    out = profile("--config", str(config), "--cpus", "1", "--quick", "--out", str(tmp_path / "o"))
    assert out.returncode == 2
    assert f"--cpus, --quick cannot be combined with --config: set them in {config}" in out.stderr
    assert not (tmp_path / "o" / "run_data.csv").exists()


def test_compare_needs_two_variants():
    out = tfopt("compare", "--variant", "a=stock")
    assert out.returncode == 2 and "at least two --variant" in out.stderr


def test_env_json_is_machine_readable():
    out = tfopt("env", "--no-tensorflow", "--json")
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["cpu"]["logical_cores"] == os.cpu_count()
    assert record["limits"]["visible_cores"] == len(os.sched_getaffinity(0))
    assert "limits_backend" in record["limits"]


def test_with_json_stdout_holds_the_result_alone(monkeypatch, capfd):
    """What a library or a daemon writes to stdout mid-run (Ray's "(raylet) ..." lines) goes to
    stderr, at the file-descriptor level, so that `--json | jq` always parses."""
    from tfopt import cli

    def noisy(args) -> dict:
        os.write(1, b"(raylet) a daemon's message\n")
        print("a library's print", flush=True)
        return {"kind": "env", "ok": True}

    monkeypatch.setattr(cli, "_run_env", noisy)
    assert cli.main(["env", "--json"]) == 0
    out, err = capfd.readouterr()
    assert json.loads(out) == {"kind": "env", "ok": True}
    assert "(raylet) a daemon's message" in err and "a library's print" in err


def test_no_command_prints_help_and_exits_2():
    out = tfopt()
    assert out.returncode == 2 and "usage" in out.stdout.lower()


@pytest.mark.parametrize(("runs_done", "code", "word"), [(0, 2, "error"), (1, 1, "failed")])
def test_a_value_error_is_bad_usage_only_before_anything_ran(monkeypatch, capsys, runs_done,
                                                             code, word):  # fmt: skip
    from tfopt import cli

    def env_that_breaks(args):
        for _ in range(runs_done):
            args.progress.advance("a run", 0.0)
        raise ValueError("something is off")

    monkeypatch.setattr(cli, "_run_env", env_that_breaks)
    assert cli.main(["env", "--no-tensorflow"]) == code
    assert f"tfopt env: {word}: something is off" in capsys.readouterr().err
