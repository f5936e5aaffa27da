"""The measuring loop, in phases: warmup, calibrate, measure. Runs inside a worker process.

One *sweep* calls the workload once on each input size. Sweeps are the unit of repetition: every
sweep gives one latency per size and one total, so size curves and speedups come from the same
timings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

Clock = Callable[[], float]

# With 3 sweeps on each side, Mann-Whitney U's smallest two-sided p is 0.1: no step could ever
# count as significant. 5 a side allow p = 0.008.
MIN_SWEEPS = 5


def sweep(predict: Callable[[Any], Any], inputs: dict[int, Any], clock: Clock) -> dict[int, float]:
    """One call per input size; seconds per call."""
    timings = {}
    for size, value in inputs.items():
        start = clock()
        predict(value)
        timings[size] = clock() - start
    return timings


def warmup(predict, inputs: dict[int, Any], sweeps: int, clock: Clock) -> list[float]:
    """Untimed-for-results sweeps (first calls trace, compile and fill caches); their totals."""
    return [sum(sweep(predict, inputs, clock).values()) for _ in range(sweeps)]


def calibrate(predict, inputs: dict[int, Any], duration: float, clock: Clock,
              minimum: int = MIN_SWEEPS) -> int:  # fmt: skip
    """How many sweeps fill ``duration`` seconds, judged by one sweep after the warmup (warmup
    sweeps may include tracing or compiling, so they would underestimate the count)."""
    seconds = sum(sweep(predict, inputs, clock).values())
    return max(minimum, math.ceil(duration / seconds)) if seconds > 0 else minimum


def measure(predict, inputs: dict[int, Any], repeats: int, clock: Clock) -> dict:
    """``repeats`` timed sweeps -> per-size latencies and per-sweep totals (seconds)."""
    latencies: dict[int, list[float]] = {size: [] for size in inputs}
    totals = []
    for _ in range(repeats):
        timings = sweep(predict, inputs, clock)
        for size, seconds in timings.items():
            latencies[size].append(seconds)
        totals.append(sum(timings.values()))
    return {"latencies": {str(s): v for s, v in latencies.items()}, "sweeps": totals}


def run_phases(
    predict,
    inputs: dict[int, Any],
    *,
    warmup_sweeps: int,
    repeats: int | None,
    duration: float | None,
    clock: Clock = time.perf_counter,
) -> dict:
    """Warmup, calibrate (when a duration is given instead of a count), measure."""
    warm = warmup(predict, inputs, warmup_sweeps, clock)
    count = repeats if repeats is not None else calibrate(predict, inputs, duration or 1.0, clock)
    result = measure(predict, inputs, count, clock)
    return {**result, "warmup": warm, "items_per_sweep": sum(inputs)}
