"""Search strategies behind one ask/tell interface (`tuner.strategies.base.Strategy`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from tuner.space import Space
from tuner.strategies.base import Strategy
from tuner.worker import resolve

#: name -> "module:Class"; adding a strategy means adding one module and one line here.
STRATEGIES = {
    "nelder-mead": "tuner.strategies.nelder_mead:NelderMead",
    "grid": "tuner.strategies.grid:Grid",
    "random": "tuner.strategies.random:Random",
}


def make_strategy(
    strategy: str | Strategy,
    space: Space,
    seed: int | None = None,
    start: Mapping[str, Any] | None = None,
) -> Strategy:
    if isinstance(strategy, Strategy):
        return strategy
    return strategy_class(strategy)(space, seed=seed, start=start)


def strategy_class(name: str) -> type[Strategy]:
    """The strategy registered as ``name``."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}")
    return cast(type[Strategy], resolve(STRATEGIES[name]))
