"""A cheap real workload for the harness's reliability tests: pure-Python arithmetic timed by the
real worker in real forked processes, so one measured run takes a fraction of a second.
``CHEAP_WORKLOAD_SLEEP`` (seconds, in the run's env) makes each call that much slower, for
tests that need runs still in flight; with ``CHEAP_WORKLOAD_MARKS`` (a folder) such a call first
leaves ``sleeping-<pid>`` there, the event a test waits for before it interrupts the run."""

import os
import time
from pathlib import Path


def make_model():
    pause = float(os.environ.get("CHEAP_WORKLOAD_SLEEP", "0"))
    marks = os.environ.get("CHEAP_WORKLOAD_MARKS")

    def predict(numbers: list[int]) -> int:
        if pause and marks:
            (Path(marks) / f"sleeping-{os.getpid()}").touch()
        time.sleep(pause)
        return sum(n * n for n in numbers)

    return predict


def make_inputs(size: int, seed: int) -> list[int]:
    return list(range(seed, seed + 200 * size))
