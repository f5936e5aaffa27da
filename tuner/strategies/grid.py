"""Exhaustive grid: every configuration once, in the space's order. The baseline of record."""

from __future__ import annotations

from tuner.strategies.base import GeneratorStrategy, Search


class Grid(GeneratorStrategy):
    name = "grid"

    def search(self) -> Search:
        yield from self.space.grid()
