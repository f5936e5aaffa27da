"""A cheap real workload for the harness's reliability tests: pure-Python arithmetic timed by the
real worker in real forked processes, so one measured run takes a fraction of a second.
``CHEAP_WORKLOAD_SLEEP`` (seconds, in the run's env) makes each call that much slower, for
tests that need runs still in flight."""

import os
import time


def make_model():
    pause = float(os.environ.get("CHEAP_WORKLOAD_SLEEP", "0"))

    def predict(numbers: list[int]) -> int:
        time.sleep(pause)
        return sum(n * n for n in numbers)

    return predict


def make_inputs(size: int, seed: int) -> list[int]:
    return list(range(seed, seed + 200 * size))
