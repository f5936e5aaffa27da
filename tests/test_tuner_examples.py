"""The examples run as users would run them."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_example(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip


def test_the_non_tensorflow_example_finds_a_setting():
    done = run_example("tune_zlib.py")
    assert done.returncode == 0, done.stderr
    assert " bytes with {'level': " in done.stdout
    assert "settings measured" in done.stdout


@pytest.mark.slow  # forks a few real g2p models: ~20-40 s
def test_the_g2p_example_tunes_real_threading():
    done = run_example("tune_g2p_threading.py", "--budget", "3", "--words", "64")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "[2, 2]"  # the body's own print, passed through
    assert lines[-1].startswith("best attempt inter=")
    assert done.stderr.count("trial ") >= 3
