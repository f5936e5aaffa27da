"""Every bad input is refused before anything runs: a clear message naming the problem, exit 2,
no traceback, and nothing measured (no run folder, no run_data.csv)."""

import json
import os
from pathlib import Path

import pytest

from tests.in_process import tfopt
from tfopt.workloads.base import load_callable

CHEAP = {"workload": "tests.cheap_workload:make_model",
         "inputs": "tests.cheap_workload:make_inputs", "sizes": [1], "warmup": 0,
         "repeats": 3, "workers": 1}  # fmt: skip
LAB = ["profile", "--workload", CHEAP["workload"], "--inputs", CHEAP["inputs"], "--quick"]


def refused(argv, out: Path, capsys) -> str:
    assert tfopt(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert not (out / "runs").exists() and not (out / "run_data.csv").exists()
    return err


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lab.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ('"timeout": Infinity', "config key 'timeout': expected a positive finite number"),
        ('"cpus": 0.001', "below 0.01, the smallest CPU quota the kernel allows"),
        ('"duration": NaN, "repeats": null', "config key 'duration'"),
        ('"duration": Infinity, "repeats": null', "config key 'duration'"),
        ('"env": {"A=B": "1"}', "config key 'env.A=B': expected a variable name without '='"),
        ('"env": {"": "1"}', "config key 'env.': expected a variable name"),
        ('"env": {"A": "x\\u0000y"}', "config key 'env.A': expected a value without NUL"),
        ('"mem_trace": {"top": "x"}', "config key 'mem_trace.top': expected an integer >= 0"),
        ('"cpus": []', "config key 'cpus': expected at least one value"),
        ('"env": {"A": ["1", "2"]}, "exclude": [{"env.A": "1"}, {"env.A": "2"}]',
         "exclude rules drop every permutation"),
    ],
)  # fmt: skip
def test_a_bad_config_value_is_refused_before_anything_runs(tmp_path, capsys, changes, message):
    body = json.dumps(CHEAP)[:-1] + ", " + changes + "}"
    out = tmp_path / "out"
    err = refused(["profile", "--config", config_file(tmp_path, body), "--out", out], out, capsys)
    assert message in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--workers=-1"], "--workers: expected an integer >= 1, got -1"),
        (["--steps="], "--steps: expected at least one name"),
        (["--tune-budget=-1"], "--tune-budget: expected an integer >= 1, got -1"),
        (["--warmup=-2"], "--warmup: expected an integer >= 0, got -2"),
        (["--duration=nan"], "config key 'duration'"),
        (["--variant", "c=docker:bad;ref"], "'bad;ref' is not a Docker image reference"),
    ],
)
def test_a_bad_flag_is_refused_before_anything_runs(tmp_path, capsys, flags, message):
    out = tmp_path / "out"
    assert message in refused([*LAB, *flags, "--out", out], out, capsys)


def test_a_config_that_is_a_directory_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    err = refused(["profile", "--config", tmp_path, "--out", out], out, capsys)
    assert f"config file {tmp_path} is not a file" in err


def test_an_out_that_is_a_file_is_refused(tmp_path, capsys):
    out = tmp_path / "results"
    out.write_text("")
    config = config_file(tmp_path, json.dumps(CHEAP))
    assert tfopt(["profile", "--config", config, "--out", out]) == 2
    assert f"--out {out} is a file, not a folder" in capsys.readouterr().err


def test_a_read_only_out_is_refused(tmp_path, capsys, small_filesystem):
    out = small_filesystem("size=64m,ro") / "results"
    config = config_file(tmp_path, json.dumps(CHEAP))
    assert tfopt(["profile", "--config", config, "--out", out]) == 2
    assert f"--out {out} cannot be written: Read-only file system" in capsys.readouterr().err


def test_a_full_out_is_refused(tmp_path, capsys, small_filesystem):
    out = small_filesystem("size=64m") / "results"
    out.mkdir()
    (out / "filler").write_bytes(b"\0" * (60 * 1024**2))
    config = config_file(tmp_path, json.dumps(CHEAP))
    assert tfopt(["profile", "--config", config, "--out", out]) == 2
    assert f"--out {out} cannot be written: No space left on device" in capsys.readouterr().err


def test_a_workload_naming_no_callable_is_a_clear_error():
    """Resolved where it runs (the worker): a missing name or a non-callable is named as such."""
    with pytest.raises(ValueError, match="'os:no_such': os has no callable named 'no_such'"):
        load_callable("os:no_such", "workload")
    with pytest.raises(ValueError, match="os has no callable named 'sep'"):
        load_callable("os:sep", "workload")
    assert load_callable("os.path:join", "inputs") is os.path.join
