"""A pure-Python workload for the run machinery's tests and benchmarks (engines, resume,
dispatch overhead): real worker processes measure it in milliseconds, with no model to build."""

from __future__ import annotations

import random


def make_model(batch_size: int = 1):
    """``predict(numbers)``: a sum of squares, ``batch_size`` times over."""

    def predict(numbers: list[float]) -> float:
        return sum(x * x for _ in range(batch_size) for x in numbers)

    return predict


def make_inputs(size: int, seed: int) -> list[float]:
    return [random.Random(seed).random() for _ in range(size * 1000)]
