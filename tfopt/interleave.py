"""Randomized paired rounds on the Runner: round k runs worker k of every configuration, in a
seeded random order, and the adaptive loop (`tfopt.rounds`) decides when to stop.

Runs are keyed by content as everywhere else, so a rerun replays the finished rounds from disk
(the same order, the same values, the same decisions) and goes on from there.
"""

from __future__ import annotations

from collections.abc import Callable

from .jobs import Job
from .records import RunRecord
from .rounds import Budget, Pair, Rounds, run_rounds
from .runner import Runner, labelled, records_of
from .summary import replicates


def measure_rounds(
    runner: Runner,
    configs: dict[str, dict],
    tag: str,
    budget: Budget,
    wanted: Callable[[Rounds], list[Pair]],
    *,
    alpha: float,
    threshold: float,
    seed: int = 0,
) -> tuple[dict[str, list[RunRecord]], Rounds]:
    """Every completed record per label, and the rounds (values, orders, why they stopped)."""
    perms, folders = labelled(runner, configs, tag)

    def measure(round_: int, order: list[str]) -> dict[str, float | None]:
        jobs = [Job(perms[label], round_, label, folders[label]) for label in order]
        runner.run(lambda: jobs)
        return {label: replicates(_round_records(label, round_)).get(round_) for label in order}

    def _round_records(label: str, round_: int) -> list[RunRecord]:
        return [r for r in records_of(folders[label], perms[label]) if r.worker == round_]

    rounds = run_rounds(list(configs), measure, wanted, budget, alpha=alpha, threshold=threshold,
                        seed=seed, note=runner.progress.note)  # fmt: skip
    runner.progress.note(f"{tag}: {rounds.stopped}")
    records = {label: [r for r in records_of(folders[label], perm) if r.worker < len(rounds.orders)]
               for label, perm in perms.items()}  # fmt: skip
    return records, rounds


def against_first(labels: list[str]) -> Callable[[Rounds], list[Pair]]:
    """Every label against the first (compare's reference)."""
    return lambda _: [(labels[0], other) for other in labels[1:]]
