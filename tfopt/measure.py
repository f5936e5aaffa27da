"""The measuring loop, in phases: warmup, calibrate, measure. Runs inside a worker process.

One *sweep* calls the workload once on each input size (``loops`` times each when a model is
so fast that one call would drown in the timer's resolution: the loop's mean is the call's time).
Sweeps are the unit of repetition: every sweep gives one latency per size and one total, so size
curves and speedups come from the same timings. Concurrent requests (`concurrency_sweep`) are a
separate phase after the sweeps: rows per second with N threads calling the model at once.
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Clock = Callable[[], float]
# Yields once per sweep this process may run now (a tandem's turns, `tfopt.tandem`), until it
# has swept the count the callable gives (it may grow once calibrated) and the partners theirs.
Turns = Callable[[Callable[[], int]], Iterable[None]]

# A worker's value is the median of its timed sweeps: at least 3 of them, so that one sweep
# caught by a burst on the machine is never the value. The statistics use workers and rounds,
# not sweeps: more sweeps of a slow model (eager g2p sweeps for seconds) would buy little.
MIN_SWEEPS = 3
# With a duration, a timed sweep lasts at least this long (pyperf's calibration: the inner loop
# doubles until it does), so a call of microseconds is not measured by the timer's resolution.
MIN_SWEEP_SECONDS = 0.01
MAX_LOOPS = 1 << 22
# Each (batch size, concurrent requests) pair runs at least this long.
CONCURRENT_SECONDS = 0.05


def sweep(predict: Callable[[Any], Any], inputs: dict[int, Any], clock: Clock,
          loops: int = 1) -> dict[int, float]:  # fmt: skip
    """``loops`` calls per input size; seconds per call (the loop's mean)."""
    timings = {}
    for size, value in inputs.items():
        start = clock()
        for _ in range(loops):
            predict(value)
        timings[size] = (clock() - start) / loops
    return timings


def warmup(predict, inputs: dict[int, Any], sweeps: int, clock: Clock) -> list[float]:
    """Untimed-for-results sweeps (first calls trace, compile and fill caches); their totals."""
    return [sum(sweep(predict, inputs, clock).values()) for _ in range(sweeps)]


def calibrate_loops(run: Callable[[int], float],
                    minimum: float = MIN_SWEEP_SECONDS) -> tuple[int, float]:  # fmt: skip
    """The smallest power of two ``loops`` for which ``run(loops)`` lasts at least ``minimum``
    seconds (up to `MAX_LOOPS`), and the seconds that run lasted."""
    loops, seconds = 1, run(1)
    while loops < MAX_LOOPS and seconds < minimum - 1e-9:  # a float clock's rounding aside
        loops *= 2
        seconds = run(loops)
    return loops, seconds


Timings = dict[int, float]  # seconds per call, per input size


class Gate:
    """What a worker passes before each sweep after its warmup: in a tandem, the wait for its
    turn, so that its calibration too runs while the partners are idle; alone, nothing. It
    counts the sweeps, so the turns know when this worker has swept enough."""

    def __init__(self, turns: Turns | None = None):
        self.passed = 0
        self.needed = sys.maxsize  # never enough before the calibration sets the count
        self._turns = iter(turns(lambda: self.needed)) if turns else None

    @property
    def tandem(self) -> bool:
        return self._turns is not None

    def wait(self) -> bool:
        """Until this worker may sweep; False when its tandem has ended."""
        if self._turns is not None and next(self._turns, _ENDED) is _ENDED:
            return False
        self.passed += 1
        return True

    def require(self, sweeps: int) -> None:
        """``sweeps`` more, after those passed so far."""
        self.needed = self.passed + sweeps


_ENDED = object()


def calibrate(predicts: list, inputs: list[dict[int, Any]], duration: float, clock: Clock,
              minimum: int = MIN_SWEEPS,
              gate: Gate | None = None) -> tuple[list[int], int, list[Timings]]:  # fmt: skip
    """Each side's inner loop count (one sweep lasts `MIN_SWEEP_SECONDS`), how many sweeps of
    each side fill ``duration`` seconds, judged by the last calibrating sweep of each after the
    warmup (warmup sweeps may include tracing or compiling: they would underestimate it), and
    that last calibrating sweep of each side: a sweep at its loops, per size, like a timed one.
    Each calibrating sweep passes ``gate`` first."""
    gate = gate or Gate()
    sides = [_calibrate_side(p, i, clock, gate) for p, i in zip(predicts, inputs, strict=True)]
    seconds = sum(side_seconds for _, side_seconds, _ in sides)
    count = max(minimum, math.ceil(duration / seconds)) if seconds > 0 else minimum
    return [loops for loops, _, _ in sides], count, [timings for _, _, timings in sides]


def _calibrate_side(predict: Callable[[Any], Any], inputs: dict[int, Any], clock: Clock,
                    gate: Gate) -> tuple[int, float, Timings]:  # fmt: skip
    """`calibrate_loops` on whole sweeps: loops, the last sweep's seconds and its timings."""
    timings: Timings = {}

    def run(loops: int) -> float:
        if not gate.wait():
            raise RuntimeError("the tandem ended before this worker was calibrated")
        timings.clear()
        timings.update(sweep(predict, inputs, clock, loops))
        return loops * sum(timings.values())

    loops, seconds = calibrate_loops(run)
    return loops, seconds, timings


def abba(sides: int, sweeps: int) -> list[int]:
    """Which side each sweep measures, ``sweeps`` of each: A B B A A B B A... (one side: all
    A); three sides: A B C C B A... Every side sees the same moments, on average."""
    pattern = [*range(sides), *reversed(range(sides))] if sides > 1 else [0]
    return [pattern[i % len(pattern)] for i in range(sides * sweeps)]


def measure(predicts: list, inputs: list[dict[int, Any]], repeats: int, clock: Clock,
            loops: list[int] | None = None, gate: Gate | None = None,
            first: list[Timings] | None = None) -> list:  # fmt: skip
    """``repeats`` timed sweeps of each side, alternated ABBA -> per side, per-size latencies
    and per-sweep totals (seconds per call). ``first``: one sweep of each side already timed, in
    side order (the calibration's last): they open the ABBA order and count among the
    ``repeats``. In a tandem (``gate``), sweeps run as the turns come, still alternating ABBA,
    until the tandem ends: every side gets at least ``repeats``."""
    loops = loops or [1] * len(predicts)
    latencies: list[dict[int, list[float]]] = [{size: [] for size in side} for side in inputs]
    totals: list[list[float]] = [[] for _ in inputs]

    def record(side: int, timings: Timings) -> None:
        for size, seconds in timings.items():
            latencies[side][size].append(seconds)
        totals[side].append(sum(timings.values()))

    for side, timings in enumerate(first or []):
        record(side, timings)
    done = len(first or [])
    order: Iterable[int] = abba(len(predicts), repeats)[done:]
    if gate is not None and gate.tandem:
        gate.require(len(predicts) * repeats - done)
        order = _as_turns_come(gate, abba(len(predicts), 2), done)
    for side in order:
        record(side, sweep(predicts[side], inputs[side], clock, loops[side]))
    return [{"latencies": {str(s): v for s, v in lat.items()}, "sweeps": tot}
            for lat, tot in zip(latencies, totals, strict=True)]  # fmt: skip


def _as_turns_come(gate: Gate, cycle: list[int], done: int) -> Iterator[int]:
    """The side of each sweep the turns allow, going round ``cycle`` (one whole A B B A, whose
    first n sweeps hold every side) from position ``done``."""
    position = done
    while gate.wait():
        yield cycle[position % len(cycle)]
        position += 1


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
    turns: Turns | None = None,
) -> list[dict]:
    """`run_phases` for several configurations built in one process: each warmed up, then their
    timed sweeps alternated ABBA (``repeats`` each, or as many as fill ``duration`` together),
    so every side sees the same moments of the machine. With a duration, each side's inner loop
    is calibrated first (`calibrate`); its ``loops`` are in the result. ``turns``: a tandem's
    (`Turns`); every sweep after the warmup, calibrating or timed, waits for one (`Gate`)."""
    warm = [warmup(p, i, warmup_sweeps, clock) for p, i in zip(predicts, inputs, strict=True)]
    gate = Gate(turns)
    first = None
    if repeats is not None:
        loops, count = [1] * len(predicts), repeats
    else:
        loops, count, first = calibrate(predicts, inputs, duration or 1.0, clock, gate=gate)
    results = measure(predicts, inputs, count, clock, loops, gate, first)
    return [{**result, "warmup": w, "items_per_sweep": sum(i), "loops": n}
            for result, w, i, n in zip(results, warm, inputs, loops, strict=True)]  # fmt: skip


def concurrent_seconds(predict, value: Any, requests: int, calls: int,
                       clock: Clock = time.perf_counter) -> float:  # fmt: skip
    """Wall seconds for ``requests`` threads each making ``calls`` calls on ``value`` at once.
    Each thread's first call is untimed (a runtime may make a session per thread there)."""
    ready = threading.Barrier(requests + 1)

    def work() -> None:
        try:
            predict(value)
        except BaseException:
            ready.abort()
            raise
        ready.wait()
        for _ in range(calls):
            predict(value)

    with ThreadPoolExecutor(max_workers=requests) as pool:
        futures = [pool.submit(work) for _ in range(requests)]
        with contextlib.suppress(threading.BrokenBarrierError):  # a thread failed: raised below
            ready.wait()
        start = clock()
        errors = [future.exception() for future in futures]
        seconds = clock() - start
    failed = [error for error in errors if error is not None]
    if failed:  # the failing call's own error, not the barrier it broke for the others
        raise min(failed, key=lambda error: isinstance(error, threading.BrokenBarrierError))
    return seconds


def concurrency_sweep(predict, inputs: dict[int, Any], levels: list[int],
                      clock: Clock = time.perf_counter) -> dict:  # fmt: skip
    """Rows per second for every (input size, concurrent requests): ``{"rates": {size:
    {requests: rows/s}}, "calls": {size: {requests: calls per thread}}}``: each pair's calls
    per thread double until the pair lasts `CONCURRENT_SECONDS`; the run that did gives its rate
    (a slow model is timed once, not twice)."""
    rates: dict[str, dict[str, float]] = {}
    calls: dict[str, dict[str, int]] = {}
    for size, value in inputs.items():
        for requests in levels:
            def run(n: int, requests: int = requests, value: Any = value) -> float:
                return concurrent_seconds(predict, value, requests, n, clock)

            count, seconds = calibrate_loops(run, CONCURRENT_SECONDS)
            rate = requests * count * size / seconds if seconds > 0 else 0.0
            rates.setdefault(str(size), {})[str(requests)] = rate
            calls.setdefault(str(size), {})[str(requests)] = count
    return {"rates": rates, "calls": calls}
