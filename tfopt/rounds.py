"""Randomized paired rounds with an adaptive budget: the decision loop, free of files and
processes, so the same code decides a real comparison and thousands of simulated ones.

Round k measures every configuration once (one worker process each, in a seeded random order,
or one process for configurations that share it). After ``min_rounds``, rounds are added until
every comparison that matters is *decisive* (its 95% CI narrower than +/- threshold/2, or wholly
beyond or inside the threshold band), or the round or time budget ends; a comparison still open
then reads "inconclusive". The loop never stops because a p-value crossed alpha: stopping on
significance inflates false wins; stopping on precision does not (tests/test_rounds.py checks
both on the simulated executor).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .stats import Comparison, compare

Pair = tuple[str, str]  # (before, after): speedup of ``after`` over ``before``
MeasureRound = Callable[[int, list[str]], dict[str, float | None]]


@dataclass(frozen=True)
class Budget:
    """How many rounds at least and at most, and how long to keep adding them."""

    min_rounds: int = 8  # fewer: early looks at a CI of few, noisy rounds call more A/A wrong
    max_rounds: int = 80
    seconds: float | None = None

    def __post_init__(self) -> None:
        if not 2 <= self.min_rounds <= self.max_rounds:
            raise ValueError(
                f"rounds: need 2 <= min_rounds <= max_rounds, got {self.min_rounds}, "
                f"{self.max_rounds}"
            )


@dataclass
class Rounds:
    """Replicate values (seconds) by label and round, the order each round ran in, why the
    loop stopped, and how each round's sides were measured (`tfopt.interleave.layout`)."""

    values: dict[str, dict[int, float]] = field(default_factory=dict)
    orders: list[list[str]] = field(default_factory=list)
    stopped: str = ""
    layout: str = ""

    def add(self, round_: int, measured: dict[str, float | None]) -> None:
        for label, value in measured.items():
            if value is not None:
                self.values.setdefault(label, {})[round_] = value

    def comparison(self, pair: Pair, alpha: float, threshold: float) -> Comparison | None:
        before, after = (self.values.get(label, {}) for label in pair)
        if not before or not after:
            return None
        return compare(before, after, alpha=alpha, threshold=threshold)


def round_order(labels: list[str], round_: int, seed: int) -> list[str]:
    """The order of round ``round_``: a seeded shuffle, the same on every rerun."""
    order = list(labels)
    random.Random(f"{seed}:{round_}").shuffle(order)
    return order


def run_rounds(
    labels: list[str],
    measure: MeasureRound,
    wanted: Callable[[Rounds], list[Pair]],
    budget: Budget,
    *,
    alpha: float = 0.05,
    threshold: float = 0.05,
    seed: int = 0,
    clock: Callable[[], float] = time.monotonic,
    note: Callable[[str], None] = lambda _: None,
) -> Rounds:
    """Measure rounds until every pair ``wanted`` names is decisive or the budget ends."""
    rounds, started = Rounds(), clock()
    for round_ in range(budget.max_rounds):
        order = round_order(labels, round_, seed)
        rounds.orders.append(order)
        rounds.add(round_, measure(round_, order))
        if round_ + 1 < budget.min_rounds:
            continue
        open_ = _open_pairs(rounds, wanted(rounds), alpha, threshold)
        if not open_:
            rounds.stopped = f"decisive after {round_ + 1} rounds"
            return rounds
        note(waiting_for(round_ + 1, *open_[0], threshold))
        if budget.seconds is not None and clock() - started >= budget.seconds:
            rounds.stopped = f"time budget ({budget.seconds:.0f} s) spent after {round_ + 1} rounds"
            return rounds
    rounds.stopped = f"round budget ({budget.max_rounds}) spent"
    return rounds


def _open_pairs(rounds: Rounds, pairs: list[Pair], alpha: float,
                threshold: float) -> list[tuple[Pair, Comparison | None]]:  # fmt: skip
    """Pairs still undecided, widest CI first; a pair with too few values is open too."""
    open_ = []
    for pair in pairs:
        result = rounds.comparison(pair, alpha, threshold)
        if result is not None and result.decisive:
            continue
        if result is not None or all(rounds.values.get(label) for label in pair):
            open_.append((pair, result))
    return sorted(open_, key=lambda item: -(item[1].half_width if item[1] else float("inf")))


def waiting_for(rounds_done: int, pair: Pair, result: Comparison | None, threshold: float) -> str:
    """``round 7: b vs a 1.03x, 95% CI 0.97-1.10, want +/-2.5%``: what the loop waits for."""
    want = f"want +/-{threshold / 2:.1%} or a CI clear of the {threshold:.0%} band"
    if result is None:
        return f"round {rounds_done}: {pair[1]} vs {pair[0]}: too few rounds yet, {want}"
    low, high = result.ci95
    return (f"round {rounds_done}: {pair[1]} vs {pair[0]} {result.speedup:.3f}x, 95% CI "
            f"{low:.3f}-{high:.3f} (+/-{result.half_width:.1%}), {want}")  # fmt: skip
