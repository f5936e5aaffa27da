"""The for-loop API (nelder_mead, kamerton), run as real scripts (and a real REPL) in
subprocesses."""

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.procfs import children_of

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
    *attempts, best, after = done.stdout.splitlines()
    assert best == "best attempt [3, 5]: 500 ms (min 500 ms, max 500 ms)"  # seconds, scaled
    assert after.startswith("after the loop")  # only once, in the parent
    assert len(attempts) > 3  # the body's own prints pass through, one per trial ...
    assert all(re.fullmatch(r"\[\d+, \d+\]", line) for line in attempts)  # ... not the values


NAMED = """
from tuner import nelder_mead

for attempt in nelder_mead(vertex=[6, 2], bounds=[(1, 12), (1, 8)], names=["inter", "intra"]):
    print("measuring", attempt)
    print(((attempt[0] - 3) ** 2 + (attempt[1] - 5) ** 2 + 0.5) / 1000)
"""


def test_named_knobs_and_units_label_the_progress_and_the_best(tmp_path):
    done = run_script(tmp_path, NAMED)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "best attempt inter=3 intra=5: 500 µs (min 500 µs, max 500 µs)"
    assert "measuring [6, 2]" in lines
    trials = [line for line in done.stderr.splitlines() if line.startswith("trial ")]
    assert trials[0] == "trial 0 (configuration 1): inter=6 intra=2 -> 18.5 ms"
    assert "finals: the best 3 re-measured in 3 interleaved rounds" in done.stderr


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


KAMERTON_RESULT = """
from tuner import kamerton

seen = []
search = kamerton(cb=seen.append, vertex=[4], bounds=[(1, 8)], verbose=False)
try:
    while True:
        attempt = next(search)
        assert seen[-1] is attempt  # the callback ran on this very attempt
        print(abs(attempt[0] - 6))
except StopIteration as stop:
    result = stop.value
print("returned", result.best_config, result.best_value)
"""


def test_the_callback_form_returns_the_result_as_the_generator_value(tmp_path):
    done = run_script(tmp_path, KAMERTON_RESULT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "best attempt [6]: 0 s (min 0 s, max 0 s)",
        "returned {'x0': 6} 0.0",
    ]


LOAD_TIME_KNOB = """
import tensorflow  # loaded here, so a forked child can no longer change what it read at load
from tuner import nelder_mead

try:
    for attempt in nelder_mead(vertex=[2, 2], names=["inter", "OMP_NUM_THREADS"]):
        print(attempt[0])
except ValueError as exc:
    print(exc)
"""


def test_load_time_knobs_are_refused_once_tensorflow_is_imported(tmp_path):
    done = run_script(tmp_path, LOAD_TIME_KNOB)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("OMP_NUM_THREADS is read when TensorFlow loads")
    assert "trial " not in done.stderr  # refused before any child ran


FAILING_BODIES = """
from tuner import nelder_mead, report

for attempt in nelder_mead(vertex=[4, 2], bounds=[(1, 8), (1, 4)], unit=""):
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
    lines = done.stdout.splitlines()
    assert lines[-2:] == ["best attempt [1, 1]: 2 (min 2, max 2)", "after the loop"]
    assert set(lines[:-2]) == {"hello", "not parsed"}  # a failed or reported body's output, too
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
    assert done.stdout.splitlines() == ["best attempt [7]: 0 s (min 0 s, max 0 s)", "still here"]


class Terminal:
    """An interactive Python at a real pseudo-terminal, read with a deadline so that a test that
    goes wrong fails instead of hanging (the deadline bounds the wait, it asserts nothing)."""

    def __init__(self) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child becomes the interpreter, with the terminal as its own
            try:
                os.chdir(ROOT)
                os.execv(sys.executable, [sys.executable, "-i", "-q"])
            finally:
                os._exit(127)
        self.output, self.mark = "", 0
        self.status: int | None = None

    def __enter__(self) -> "Terminal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def type(self, *lines: str) -> None:
        for line in lines:
            os.write(self.fd, line.encode() + b"\n")

    def expect(self, text: str, seconds: float = 120) -> bool:
        """Read until ``text`` appears after what earlier calls found; False if it never does."""
        deadline = time.monotonic() + seconds
        while (found := self.output.find(text, self.mark)) < 0:
            chunk = self._read(deadline - time.monotonic())
            if not chunk:
                return False
            self.output += chunk
        self.mark = found + len(text)
        return True

    def _read(self, seconds: float) -> str:
        ready, _, _ = select.select([self.fd], [], [], max(0.0, seconds))
        try:
            return os.read(self.fd, 65536).decode(errors="replace") if ready else ""
        except OSError:  # EIO: every process holding the terminal has closed it
            return ""

    def close(self) -> int:
        """The interpreter's exit code, once it has ended (killed, with its children, if it does
        not end within the deadline)."""
        if self.status is None:
            if not self.expect("never printed", seconds=30):
                for pid in [*children_of(self.pid), self.pid]:
                    os.kill(pid, signal.SIGKILL)
            os.close(self.fd)
            self.status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.status


def typed_loop(*body: str) -> list[str]:
    return [
        "from tuner import nelder_mead",
        "for attempt in nelder_mead(vertex=[4], bounds=[(1, 9)]):",
        *(f"    {line}" for line in body),
        "",
    ]


def finish_session(terminal: Terminal) -> str:
    """After the loop: one best line, the prompt back, no child left, a command that runs once."""
    assert terminal.expect("best attempt "), terminal.output
    assert terminal.expect("\n>>> "), terminal.output  # the parent's prompt came back
    assert children_of(terminal.pid) == []  # every trial's child was reaped
    terminal.type("print(6 * 7)")
    assert terminal.expect("\n42\r\n>>> "), terminal.output
    terminal.type("exit()")
    assert terminal.close() == 0
    assert terminal.output.count("best attempt") == 1
    assert terminal.output.splitlines().count("42") == 1  # read and run by the parent alone
    return terminal.output


def test_the_loop_works_typed_at_an_interactive_terminal():
    with Terminal() as terminal:
        assert terminal.expect(">>> "), terminal.output
        terminal.type(*typed_loop("print(attempt)", "print((attempt[0] - 7) ** 2)"))
        output = finish_session(terminal)
    assert "best attempt [7]: 0 s (min 0 s, max 0 s)" in output


def test_bodies_that_raise_at_a_terminal_fail_their_trials_and_the_parent_goes_on():
    with Terminal() as terminal:
        assert terminal.expect(">>> "), terminal.output
        terminal.type(
            *typed_loop(
                "print(attempt)",
                "if attempt[0] % 2:",
                "    raise ValueError('odd ' + 'attempt')",
                "print((attempt[0] - 8) ** 2)",
            )
        )
        output = finish_session(terminal)
    assert "best attempt [8]: 0 s (min 0 s, max 0 s)" in output
    verdicts = [line.split(" -> ")[1] for line in output.splitlines() if line.startswith("trial ")]
    failed = [i for i, verdict in enumerate(verdicts) if verdict.startswith("fail")]
    assert failed and failed[0] < len(verdicts) - 1  # trials went on after a failure
    assert all("the loop body did not finish" in verdicts[i] for i in failed)
    assert "odd attempt" not in output  # no child ever reached the REPL's error display
