"""A simulated executor with a known truth: what the lab's statistics are tested on.

No process runs; each job's sweeps come from a seeded noise model shaped like a shared cloud
VM: a per-process offset (core placement, memory layout, a neighbour for the process's lifetime),
per-sweep noise, rare 2x bursts lasting a few sweeps, and a slow drift over (virtual) time that
every process running then shares. The true seconds per sweep of each configuration are given,
so a decision can be checked against them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..jobs import Job
from ..measure import MIN_SWEEPS, abba
from ..records import OK, RunRecord
from ..rounds import Budget, Rounds, run_rounds
from ..stats import Comparison

Truth = Callable[[dict], float]  # a job's config -> its true seconds per sweep


@dataclass(frozen=True)
class NoiseModel:
    process_cv: float = 0.12
    sweep_cv: float = 0.04
    burst_rate: float = 0.003  # chance per sweep that a burst starts
    burst_sweeps: int = 8  # how long a burst lasts
    burst_factor: float = 2.0
    drift: float = 0.08  # amplitude of the slow drift (relative)
    drift_period: float = 900.0  # seconds of virtual time per drift cycle
    overhead: float = 4.0  # seconds a process spends before its first timed sweep
    # How much slower a configuration runs in a process that measures others too (their garbage,
    # caches, turns) than in a process of its own: the same for every side of a shared process.
    shared_cost: float = 0.0

    def process(self, rng: np.random.Generator, truths: list[float], sweeps: int, at: float,
                processes: int = 1) -> tuple[list[list[float]], float]:  # fmt: skip
        """One process measuring ``truths`` (one per side, alternated ABBA) for ``sweeps`` sweeps
        per side, starting at virtual time ``at``: each side's sweeps and the time it ended.
        ``processes=len(truths)``: a tandem round instead, each side in a process of its own
        (its own offset) but all taking turns on one timeline (bursts and drift shared)."""
        sides = np.asarray(abba(len(truths), sweeps))
        if processes == 1:
            values = np.asarray(truths)[sides] * math.exp(rng.normal(0.0, self.process_cv))
        else:
            offsets = np.exp(rng.normal(0.0, self.process_cv, processes))
            values = (np.asarray(truths) * offsets)[sides]
        values = values * np.exp(rng.normal(0.0, self.sweep_cv, len(sides)))
        starts = rng.random(len(sides)) < self.burst_rate
        bursting = np.convolve(starts, np.ones(self.burst_sweeps))[: len(sides)] > 0
        values = values * np.where(bursting, self.burst_factor, 1.0)
        elapsed = np.cumsum(values)
        values = values * self.drift_at(at + self.overhead + elapsed - values)
        ended = at + self.overhead + float(values.sum())
        return [values[sides == side].tolist() for side in range(len(truths))], ended

    def drift_at(self, now):
        return 1.0 + self.drift * np.sin(2 * np.pi * np.asarray(now) / self.drift_period)


class SimulatedExecutor:
    """Runner/compare/lab accept it in place of `LocalExecutor`; ``truth`` gives each config's
    true seconds per sweep. Deterministic: a job's noise is seeded by its key and ``seed``, the
    drift by the virtual clock, which advances by each job's simulated wall time."""

    def __init__(self, truth: Truth, noise: NoiseModel | None = None, seed: int = 0):
        self.truth, self.noise, self.seed = truth, noise or NoiseModel(), seed
        self.clock = 0.0

    def execute(self, job: Job, cpuset: str | None = None, gpu: str | None = None) -> RunRecord:
        config = job.perm.config
        sides = config.get("sides") or [{"label": job.label, "options": {}}]
        truths = [self.truth({**config, **side["options"], "variant": side.get("variant",
                                                                             config["variant"])})
                  for side in sides]  # fmt: skip
        if len(sides) > 1:
            truths = [truth * (1 + self.noise.shared_cost) for truth in truths]
        duration = config["duration"] or 1.0
        sweeps = config["repeats"] or max(MIN_SWEEPS, math.ceil(duration / sum(truths)))
        rng = np.random.default_rng([self.seed, _stable(job.perm.run_id), job.worker])
        values, ended = self.noise.process(rng, truths, sweeps, self.clock)
        wall = ended - self.clock
        self.clock = ended
        payload = _payload(values[0], config["sizes"])
        if config.get("sides"):
            payload.update(schema=2, sides={side["label"]: _payload(v, config["sizes"])
                                            for side, v in zip(sides, values, strict=True)})
        return RunRecord(
            run_id=job.perm.run_id, worker=job.worker, label=job.label, status=OK,
            params=job.perm.run_params, payload=payload,
            wall_time=wall, backend="simulated",
            folder=f"{job.folder.parent.name}/{job.folder.name}",
        )  # fmt: skip

    def can_tandem(self, configs: list[Mapping[str, Any]]) -> bool:
        """Every job is simulated on its own: turn-taking is not modelled."""
        return False

    def trial_options(self, config: Mapping[str, Any]) -> dict:
        raise NotImplementedError("the simulated executor runs no tuner trials")


def _payload(sweeps: list[float], sizes: list[int]) -> dict:
    """Sweeps split over the input sizes in proportion to their size, as a worker reports them."""
    total = sum(sizes)
    latencies = {str(size): [v * size / total for v in sweeps] for size in sizes}
    return {"schema": 1, "sweeps": sweeps, "latencies": latencies, "warmup": [],
            "items_per_sweep": total, "unit": "items", "tensorflow": "simulated"}  # fmt: skip


def _stable(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)


def simulated_comparison(
    true_speedup: float,
    budget: Budget,
    *,
    shared: bool = False,
    tandem: bool = False,
    sweeps: int = 20,
    seconds: float = 0.015,
    noise: NoiseModel | None = None,
    seed: int = 0,
    alpha: float = 0.05,
    threshold: float = 0.05,
) -> tuple[Comparison, Rounds]:
    """``b`` against ``a`` (b is ``true_speedup`` times faster) through the real decision loop,
    with neither files nor processes: thousands run in seconds. ``shared``: both in one process
    per round (ABBA), else one process each per round, in the round's random order, or with
    ``tandem`` all at once taking turns (`tfopt.tandem`)."""
    noise = noise or NoiseModel()
    truths = {"a": seconds, "b": seconds / true_speedup}
    rng = np.random.default_rng(seed)
    clock = [0.0]

    def measure(round_: int, order: list[str]) -> dict[str, float | None]:
        if tandem and not shared:
            values, clock[0] = noise.process(rng, [truths[k] for k in order], sweeps, clock[0],
                                             processes=len(order))  # fmt: skip
            return {k: float(np.median(v)) for k, v in zip(order, values, strict=True)}
        groups = [order] if shared else [[label] for label in order]
        medians: dict[str, float | None] = {}
        for group in groups:
            values, clock[0] = noise.process(rng, [truths[k] for k in group], sweeps, clock[0])
            medians.update({k: float(np.median(v)) for k, v in zip(group, values, strict=True)})
        return medians

    rounds = run_rounds(["a", "b"], measure, lambda _: [("a", "b")], budget, alpha=alpha,
                        threshold=threshold, seed=seed, clock=lambda: clock[0])  # fmt: skip
    result = rounds.comparison(("a", "b"), alpha, threshold)
    if result is None:
        raise RuntimeError("no simulated round completed")
    return result, rounds
