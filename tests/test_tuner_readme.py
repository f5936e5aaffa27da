"""The README's tuner examples, run as written: each ```python block of its tuner section is
saved as a script and run in a fresh folder."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tuner_examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The forking tuner") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def run_example(source: str, folder: Path) -> subprocess.CompletedProcess:
    script = folder / "example.py"
    script.write_text(source)
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=folder, timeout=900
    )


def test_the_tuner_section_shows_the_for_loop_then_the_function_api():
    for_loop, function_api = tuner_examples()
    assert "for attempt in nelder_mead(" in for_loop
    assert "tuner.minimize(" in function_api


@pytest.mark.slow  # imports TensorFlow, starts its runtime in ~15 forked children: ~20-40 s
def test_the_for_loop_example_runs_as_written(tmp_path):
    done = run_example(tuner_examples()[0], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "measured [2, 2]"  # the body's own output, shown
    best = r"best attempt inter=\d intra=\d: [\d.]+ [mµ]?s \(min .*, max .*\)"
    assert re.fullmatch(best, lines[-1])
    assert "finals: the best 3 re-measured in 3 interleaved rounds" in done.stderr


@pytest.mark.slow  # spawn mode: every trial imports TensorFlow afresh (~3 s each, ~15 trials)
def test_the_function_api_example_runs_as_written(tmp_path):
    done = run_example(tuner_examples()[1], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("{'inter': ")
    log = (tmp_path / "results" / "trials.jsonl").read_text().splitlines()
    trials = [json.loads(line) for line in log[1:]]
    assert trials and all(t["status"] == "complete" for t in trials)
    assert "trial 0 (configuration 1 of 4): " in done.stderr
