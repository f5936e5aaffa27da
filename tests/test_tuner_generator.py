"""The seeds' for-loop API, run as real scripts (and a real REPL) in subprocesses."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SEED_STYLE = """
import os
from tuner import nelder_mead

for attempt in nelder_mead(vertex=[6, 2], bounds=[(1, 12), (1, 8)], verbose=False):
    print(attempt)
    print((attempt[0] - 3) ** 2 + (attempt[1] - 5) ** 2 + 0.5)
print("after the loop", os.getpid())
"""


def run_script(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(source)
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def test_the_body_runs_in_children_and_the_parent_prints_the_best(tmp_path):
    done = run_script(tmp_path, SEED_STYLE)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "best attempt [3, 5]: 0.5 (min 0.5, max 0.5)"
    assert len(lines) == 2 and lines[1].startswith("after the loop")  # only once, in the parent


KAMERTON_STYLE = """
from tuner import kamerton

threads = {}

def set_threads(attempt):
    threads["inter"], threads["intra"] = attempt

for attempt in kamerton(cb=set_threads, vertex=[4, 4], bounds=[(1, 8), (1, 8)], verbose=False):
    print(abs(threads["inter"] - 2) + abs(threads["intra"] - 7))
"""


def test_the_callback_form_sets_each_attempt_before_the_body(tmp_path):
    done = run_script(tmp_path, KAMERTON_STYLE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("best attempt [2, 7]: 0")


FAILING_BODIES = """
from tuner import nelder_mead, report

for attempt in nelder_mead(vertex=[4, 2], bounds=[(1, 8), (1, 4)]):
    if attempt == [4, 2]:
        print("hello")                 # last line not a number
    elif attempt[0] > 5:
        raise RuntimeError("too many")
    else:
        report(attempt[0] + attempt[1])  # explicit, no stdout parsing
        print("not parsed")
print("after the loop")
"""


def test_bodies_that_fail_are_failed_trials_and_report_needs_no_stdout(tmp_path):
    done = run_script(tmp_path, FAILING_BODIES)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["best attempt [1, 1]: 2 (min 2, max 2)", "after the loop"]
    assert "last line of output is not a number: 'hello'" in done.stderr
    assert "the loop body did not finish" in done.stderr


REPLAY = """
import os, sys
from tuner import nelder_mead

for attempt in nelder_mead(vertex=[3], bounds=[(1, 6)], replay_best=True, verbose=False):
    with open(sys.argv[1], "a") as marks:
        marks.write(f"{attempt[0]} {os.getpid()}\\n")
    print(abs(attempt[0] - 2))
print("parent", os.getpid())
"""


def test_replay_best_runs_the_body_once_more_in_the_parent_only_when_asked(tmp_path):
    marks = tmp_path / "marks"
    done = run_script(tmp_path, REPLAY, str(marks))
    assert done.returncode == 0, done.stderr
    parent = done.stdout.split()[-1]
    in_parent = [line for line in marks.read_text().splitlines() if line.split()[1] == parent]
    assert in_parent == [f"2 {parent}"]


def test_the_loop_works_typed_into_the_repl():
    session = (
        "from tuner import nelder_mead\n"
        "for attempt in nelder_mead(vertex=[5], bounds=[(1, 9)], verbose=False):\n"
        "    print((attempt[0] - 7) ** 2)\n"
        "\n"
        "print('still here')\n"
    )
    done = subprocess.run(
        [sys.executable, "-i", "-q"], input=session, capture_output=True, text=True, cwd=ROOT,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["best attempt [7]: 0 (min 0, max 0)", "still here"]
