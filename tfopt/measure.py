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


def calibrate(predicts: list, inputs: list[dict[int, Any]], duration: float, clock: Clock,
              minimum: int = MIN_SWEEPS) -> int:  # fmt: skip
    """How many sweeps (of each side) fill ``duration`` seconds, judged by one sweep of each
    after the warmup (warmup sweeps may include tracing or compiling, so they would
    underestimate the count)."""
    seconds = sum(sum(sweep(p, i, clock).values()) for p, i in zip(predicts, inputs, strict=True))
    return max(minimum, math.ceil(duration / seconds)) if seconds > 0 else minimum


def abba(sides: int, sweeps: int) -> list[int]:
    """Which side each sweep measures, ``sweeps`` of each: A B B A A B B A... (one side: all
    A); three sides: A B C C B A... Every side sees the same moments, on average."""
    pattern = [*range(sides), *reversed(range(sides))] if sides > 1 else [0]
    return [pattern[i % len(pattern)] for i in range(sides * sweeps)]


def measure(predicts: list, inputs: list[dict[int, Any]], repeats: int, clock: Clock) -> list:
    """``repeats`` timed sweeps of each side, alternated ABBA -> per side, per-size latencies
    and per-sweep totals (seconds)."""
    latencies = [{size: [] for size in side} for side in inputs]
    totals: list[list[float]] = [[] for _ in inputs]
    for side in abba(len(predicts), repeats):
        timings = sweep(predicts[side], inputs[side], clock)
        for size, seconds in timings.items():
            latencies[side][size].append(seconds)
        totals[side].append(sum(timings.values()))
    return [{"latencies": {str(s): v for s, v in lat.items()}, "sweeps": tot}
            for lat, tot in zip(latencies, totals, strict=True)]  # fmt: skip


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
    return run_sides([predict], [inputs], warmup_sweeps=warmup_sweeps, repeats=repeats,
                     duration=duration, clock=clock)[0]  # fmt: skip


def run_sides(
    predicts: list,
    inputs: list[dict[int, Any]],
    *,
    warmup_sweeps: int,
    repeats: int | None,
    duration: float | None,
    clock: Clock = time.perf_counter,
) -> list[dict]:
    """`run_phases` for several configurations built in one process: each warmed up, then their
    timed sweeps alternated ABBA (``repeats`` each, or as many as fill ``duration`` together),
    so every side sees the same moments of the machine."""
    warm = [warmup(p, i, warmup_sweeps, clock) for p, i in zip(predicts, inputs, strict=True)]
    count = repeats if repeats is not None else calibrate(predicts, inputs, duration or 1.0, clock)
    results = measure(predicts, inputs, count, clock)
    return [{**result, "warmup": w, "items_per_sweep": sum(i)}
            for result, w, i in zip(results, warm, inputs, strict=True)]  # fmt: skip
