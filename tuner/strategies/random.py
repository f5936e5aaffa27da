"""Uniform random sampling without replacement (seeded): the baseline any optimizer must beat."""

from __future__ import annotations

import random

from tuner.strategies.base import GeneratorStrategy, Search


class Random(GeneratorStrategy):
    name = "random"

    def search(self) -> Search:
        rng = random.Random(self.seed)
        seen: set[int] = set()
        while len(seen) < self.space.size:
            index = rng.randrange(self.space.size)
            if index not in seen:
                seen.add(index)
                yield self.space.at(index)
