"""What a search says while it runs (on stderr): what it will do, each trial, the finals, the
winner. Values carry the objective's unit; seconds are scaled (``0.0732 s`` is ``73.2 ms``).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

from tuner.outcome import TrialStatus
from tuner.trial import Evaluation, Trial

_SECOND_SCALES = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))


def format_value(value: float, unit: str = "") -> str:
    """``value`` with its unit; seconds in the largest unit that keeps the number >= 1."""
    if unit == "s" and math.isfinite(value) and value != 0:
        scale, name = next(((s, n) for s, n in _SECOND_SCALES if abs(value) >= s), (1e-9, "ns"))
        return f"{value / scale:.4g} {name}"
    return f"{value:.6g} {unit}".rstrip()


def describe_config(config: dict) -> str:
    """``inter=2 intra=1``: knob names and values, as a user would type them."""
    return " ".join(f"{name}={value}" for name, value in config.items())


class Progress:
    """Prints a study's progress; ``describe`` turns a configuration into text."""

    def __init__(self, unit: str = "", describe: Callable[[dict], str] = describe_config) -> None:
        self.unit, self.describe = unit, describe

    def say(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def value(self, value: float) -> str:
        return format_value(value, self.unit)

    def plan(self, size: int, strategy: str, budget: int | None, repeats: int) -> None:
        most = f", measuring at most {budget}" if budget is not None else ""
        each = f", each {repeats} times" if repeats > 1 else ""
        self.say(f"tuning: {strategy} over {size:,} configurations{most}{each}")

    def trial(self, trial: Trial, stage: str, best: Evaluation | None) -> None:
        if trial.status is TrialStatus.COMPLETE:
            outcome = self.value(trial.value)
        else:
            outcome = trial.status.value
        reason = f" ({trial.reason.splitlines()[0]})" if trial.reason else ""
        resumed = " [from log]" if trial.resumed else ""
        lead = f"; best so far {self.value(best.value)}" if best is not None else ""
        self.say(
            f"trial {trial.number} ({stage}): {self.describe(trial.config)} -> "
            f"{outcome}{reason}{resumed}{lead}"
        )

    def finals(self, finalists: list[Evaluation], rounds: int) -> None:
        names = "; ".join(self.describe(e.config) for e in finalists)
        self.say(
            f"finals: the best {len(finalists)} re-measured in {rounds} interleaved rounds, "
            f"so the winner is judged on equal evidence: {names}"
        )

    def winner(self, config: dict | None, value: float, finalists: list[Evaluation]) -> None:
        if config is None:
            self.say("no configuration produced a value")
            return
        for rank, evaluation in enumerate(finalists, 1):
            spread = evaluation.final_spread
            self.say(
                f"  {rank}. {self.describe(evaluation.config)}: median "
                f"{self.value(evaluation.final_value)} (min {self.value(spread['min'])}, "
                f"max {self.value(spread['max'])}, {len(evaluation.final)} rounds)"
            )
        self.say(f"best: {self.describe(config)} at {self.value(value)}")
