"""One search (`Study`): ask the strategy, run each trial through an executor, tell values back,
keep the best; `Result` is what it returns.

Noise handling: each configuration is measured ``repeats`` times and scored by the median; when
a configuration is about to take the lead, the incumbent is measured once more first, so a lucky
early measurement does not steer the search. When the search ends, the ``confirm`` leading
configurations (the finalists) are measured again in interleaved rounds, each round every
finalist once in a fresh random order, so all finalists see the same moments of a busy machine
and end with the same number of measurements. The best is the finalist with the lowest median
of those rounds: a configuration measured once, however lucky, never wins on that measurement.
Spreads stay with every evaluation.
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from tuner.limits import LimitsWarning
from tuner.log import TrialLog
from tuner.outcome import TrialOutcome, TrialStatus
from tuner.progress import Progress
from tuner.space import Space
from tuner.strategies import Strategy
from tuner.trial import Evaluation, Trial

Executor = Callable[[dict], TrialOutcome]


@dataclass
class Result:
    """``best_value`` and ``best_spread`` come from the finals' rounds (from the search's own
    measurements only when the finals were turned off or interrupted before one round ended);
    ``finalists`` are the re-measured leaders, best first."""

    best_config: dict | None
    best_value: float
    trials: list[Trial]
    evaluations: list[Evaluation]
    interrupted: bool = False
    best_spread: dict[str, float] = field(default_factory=dict)
    finalists: list[Evaluation] = field(default_factory=list)

    @property
    def evaluated(self) -> int:
        """Distinct configurations measured (the budget's unit)."""
        return len(self.evaluations)

    def as_dict(self) -> dict:
        return {
            "best_config": self.best_config,
            "best_value": self.best_value,
            "best_spread": self.best_spread,
            "interrupted": self.interrupted,
            "finalists": [e.as_dict() for e in self.finalists],
            "evaluations": [e.as_dict() for e in self.evaluations],
            "trials": [t.as_dict() for t in self.trials],
        }

    def __str__(self) -> str:
        failed = sum(t.status is not TrialStatus.COMPLETE for t in self.trials)
        stop = " (interrupted)" if self.interrupted else ""
        return (
            f"best {self.best_config} -> {self.best_value:.6g} after {self.evaluated} "
            f"configurations, {len(self.trials)} trials ({failed} failed){stop}"
        )


class Study:
    """One search: a strategy, an executor running trials, and optionally a log to resume from.

    ``confirm`` finalists are re-measured in ``rounds`` interleaved rounds (default: three, or
    ``repeats`` if more); ``confirm=0`` skips the finals and names the best by the search's
    medians. ``progress`` (or ``verbose=True`` for the default one) reports as trials end.
    """

    def __init__(
        self,
        space: Space,
        strategy: Strategy,
        executor: Executor,
        budget: int | None = None,
        repeats: int = 1,
        remeasure_incumbent: bool = True,
        confirm: int = 3,
        log: TrialLog | None = None,
        verbose: bool = False,
        rounds: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.space, self.strategy, self.executor = space, strategy, executor
        self.budget, self.repeats, self.confirm = budget, repeats, confirm
        self.rounds = rounds if rounds is not None else max(3, repeats)
        self.remeasure_incumbent, self.log = remeasure_incumbent, log
        self.progress = progress or (Progress() if verbose else None)
        self.trials: list[Trial] = []
        self.evaluations: dict[str, Evaluation] = {}
        self.finalists: list[Evaluation] = []
        self.interrupted = False
        self.warned: set[str] = set()
        self.stage = "search"

    def run(self) -> Result:
        if self.progress:
            self.progress.plan(self.space.size, self.strategy.name, self.budget, self.repeats)
        try:
            while self.budget is None or len(self.evaluations) < self.budget:
                config = self.strategy.ask()
                if config is None:
                    break
                self.strategy.tell(config, self.evaluate(config).value)
            self.run_finals()
        except KeyboardInterrupt:
            self.interrupted = True
        result = self.result()
        if self.progress:
            self.progress.winner(result.best_config, result.best_value, result.finalists)
        return result

    def run_finals(self) -> None:
        """Re-measure the leaders in interleaved rounds of random order (seeded like the search),
        so each finalist ends with ``rounds`` measurements taken side by side with the others'."""
        finite = [e for e in self.evaluations.values() if math.isfinite(e.value)]
        self.finalists = sorted(finite, key=lambda e: e.value)[: self.confirm]
        if not self.finalists or self.rounds < 1:
            return
        if self.progress:
            self.progress.finals(self.finalists, self.rounds)
        order = random.Random(self.strategy.seed)
        for number in range(1, self.rounds + 1):
            self.stage = f"finals, round {number} of {self.rounds}"
            for evaluation in order.sample(self.finalists, len(self.finalists)):
                repeat = len(evaluation.values) + len(evaluation.final)
                evaluation.final.append(self.trial(evaluation.config, repeat).value)

    def evaluate(self, config: dict) -> Evaluation:
        key = self.space.key(config)
        if key in self.evaluations:
            return self.evaluations[key]
        incumbent = self.incumbent()
        evaluation = self.evaluations[key] = Evaluation(config)
        self.stage = self._search_stage()
        for repeat in range(self.repeats):
            evaluation.values.append(self.trial(config, repeat).value)
        if self.remeasure_incumbent and incumbent and evaluation.value < incumbent.value:
            self.stage = "the leader again, before it loses the lead"
            incumbent.values.append(self.trial(incumbent.config, len(incumbent.values)).value)
        return evaluation

    def _search_stage(self) -> str:
        of = f" of {self.budget}" if self.budget is not None else ""
        return f"configuration {len(self.evaluations)}{of}"

    def incumbent(self) -> Evaluation | None:
        """The leader of the search: the lowest median of the search's own measurements."""
        finite = [e for e in self.evaluations.values() if math.isfinite(e.value)]
        return min(finite, key=lambda e: e.value, default=None)

    def best(self) -> Evaluation | None:
        """The finalist with the lowest median over the rounds every finalist completed; the
        search's leader only if no round was completed (finals off, or interrupted)."""
        rounds = min((len(e.final) for e in self.finalists), default=0)
        if rounds == 0:
            return self.incumbent()
        for evaluation in self.finalists:
            del evaluation.final[rounds:]  # an interrupted round: not equal evidence
        self.finalists.sort(key=lambda e: e.final_value)
        return self.finalists[0]

    def trial(self, config: dict, repeat: int) -> Trial:
        trial = self.log.lookup(config, repeat) if self.log else None
        if trial is None:
            trial = self._run(config, repeat)
        self.trials.append(trial)
        if self.progress:
            leader = self.incumbent() if not self.finalists else None
            self.progress.trial(trial, self.stage, leader)
        return trial

    def _run(self, config: dict, repeat: int) -> Trial:
        number = len(self.trials)
        try:
            outcome = self.executor(config)
        except KeyboardInterrupt:
            interrupted = TrialOutcome(TrialStatus.INTERRUPTED, reason="stopped by Ctrl-C")
            self._record(Trial.from_outcome(number, config, repeat, interrupted))
            raise
        trial = Trial.from_outcome(number, config, repeat, outcome)
        self._record(trial)
        self._warn(trial)
        return trial

    def _warn(self, trial: Trial) -> None:
        """Say once per study, not per trial, what the limits backend does not enforce."""
        new = [w for w in trial.warnings if w not in self.warned]
        if new:
            self.warned.update(new)
            message = f"limits backend {trial.backend!r}: " + "; ".join(new)
            warnings.warn(message, LimitsWarning, stacklevel=2)

    def _record(self, trial: Trial) -> None:
        if self.log:
            self.log.append(trial)

    def result(self) -> Result:
        best = self.best()
        judged_in_finals = best is not None and bool(best.final)
        return Result(
            best_config=best.config if best else None,
            best_value=(best.final_value if judged_in_finals else best.value) if best else math.inf,
            trials=list(self.trials),
            evaluations=list(self.evaluations.values()),
            interrupted=self.interrupted,
            best_spread=(best.final_spread if judged_in_finals else best.spread) if best else {},
            finalists=[e for e in self.finalists if e.final],
        )
