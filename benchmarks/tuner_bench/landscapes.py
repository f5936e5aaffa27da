"""Objective landscapes for judging search strategies without running a model.

`ThreadingLandscape` is a synthetic latency model shaped like TensorFlow threading on a CPU: more
intra-op threads speed an op up until the cores run out, independent ops overlap up to the graph's
branch count, every thread costs synchronisation, and oversubscribing the cores costs context
switches. `RecordedLandscape` replays a grid measured on real hardware (``tests/data/``).
Both add seeded multiplicative noise, as a busy machine does.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

from tuner.space import Int, Space


class Landscape:
    space: Space

    def true_value(self, config: dict) -> float:
        raise NotImplementedError

    def noisy(self, noise: float, seed: int):
        """An objective returning the true value times (1 + noise * N(0, 1))."""
        rng = random.Random(seed)

        def objective(config: dict) -> float:
            return self.true_value(config) * max(0.05, 1 + noise * rng.gauss(0, 1))

        return objective

    def optimum(self) -> float:
        return min(self.true_value(c) for c in self.space.grid())

    def gap(self, config: dict) -> float:
        """How far ``config`` is from the optimum, as a fraction of the optimum."""
        return self.true_value(config) / self.optimum() - 1


@dataclass
class ThreadingLandscape(Landscape):
    cores: int
    branches: int  # independent ops the graph can overlap
    work: float  # parallelisable work, core-seconds
    serial: float  # seconds no thread count changes
    sync: float  # seconds per extra intra-op thread
    switch: float  # seconds per oversubscribed thread
    max_inter: int = 16

    def __post_init__(self) -> None:
        self.space = Space(
            {"inter": Int(1, self.max_inter, log=True), "intra": Int(1, self.cores, log=True)}
        )

    @classmethod
    def random(cls, seed: int) -> ThreadingLandscape:
        rng = random.Random(seed)
        return cls(
            cores=rng.choice([16, 28, 32, 56]),
            branches=rng.choice([1, 2, 3, 4]),
            work=rng.uniform(0.5, 2.0),
            serial=rng.uniform(0.01, 0.1),
            sync=rng.uniform(0.0005, 0.004),
            switch=rng.uniform(0.002, 0.02),
        )

    def true_value(self, config: dict) -> float:
        inter, intra = config["inter"], config["intra"]
        active = min(inter, self.branches)
        threads = inter * intra
        compute = self.work / min(active * intra, self.cores)
        oversubscribed = max(0, threads - self.cores)
        return self.serial + compute + self.sync * (intra + inter) + self.switch * oversubscribed


class RecordedLandscape(Landscape):
    """A measured grid: ``{"space": {...}, "points": [{"config": {...}, "value": s}, ...]}``."""

    def __init__(self, path: str | Path) -> None:
        data = json.loads(Path(path).read_text())
        self.environment = data.get("environment", {})
        self.space = Space(
            {
                name: Int(spec["int"][0], spec["int"][1], log=spec.get("log", False))
                for name, spec in data["space"].items()
            }
        )
        self.values = {self.space.key(p["config"]): p["value"] for p in data["points"]}
        missing = [c for c in self.space.grid() if self.space.key(c) not in self.values]
        if missing:
            raise ValueError(f"{path} lacks {len(missing)} grid points, e.g. {missing[0]}")

    def true_value(self, config: dict) -> float:
        value = self.values[self.space.key(config)]
        return value if value is not None else math.inf
