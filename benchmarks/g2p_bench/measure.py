"""Timing loops (warmup, then rounds until a time budget); `report` summarizes their samples.

Times are the process's CPU time (`time.process_time`), not wall time: the worker is pinned to
one core with one thread everywhere, and on a shared machine wall time also counts the slices
other processes get on that core. Cache and memory-bandwidth contention still show.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """How long to measure: at least `min_rounds` and `min_time` seconds, at most `max_rounds`."""

    min_time: float
    min_rounds: int
    max_rounds: int


clock = time.process_time

FULL = Budget(min_time=1.0, min_rounds=2, max_rounds=50)
QUICK = Budget(min_time=0.2, min_rounds=1, max_rounds=5)


def timed_rounds(run: Callable[[], object], budget: Budget) -> list[float]:
    """Seconds per call of `run`, after one untimed warmup call (tracing, compiling, caches)."""
    run()
    times: list[float] = []
    while len(times) < budget.max_rounds and (
        len(times) < budget.min_rounds or sum(times) < budget.min_time
    ):
        start = clock()
        run()
        times.append(clock() - start)
    return times


def throughput(predict: Callable[[list[str]], object], words: list[str], budget: Budget) -> dict:
    """Words per second of whole calls on `words`, one sample per round."""
    rates = [len(words) / seconds for seconds in timed_rounds(lambda: predict(words), budget)]
    return {"words": len(words), "words_per_s": {"samples": rates}}


def single_words(
    predict: Callable[[list[str]], object], words: list[str], budget: Budget
) -> tuple[dict, dict]:
    """Batch-1 throughput (words/s per round) and latency (ms per call) from the same calls."""
    rounds: list[list[float]] = []  # the first is timed_rounds' warmup

    def one_round() -> None:
        calls = []
        for word in words:
            start = clock()
            predict([word])
            calls.append(clock() - start)
        rounds.append(calls)

    rates = [len(words) / seconds for seconds in timed_rounds(one_round, budget)]
    return (
        {"words": len(words), "words_per_s": {"samples": rates}},
        {"words": len(words), "ms": {"samples": [s * 1e3 for calls in rounds[1:] for s in calls]}},
    )
