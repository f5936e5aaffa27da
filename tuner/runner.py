"""The parent side: ask the strategy, run trials in children, tell values back, keep the best.

Noise handling: each configuration is measured ``repeats`` times and scored by the median; when
a configuration is about to take the lead, the incumbent is measured once more first, so a lucky
early measurement does not keep the lead by chance; when the search ends, the ``confirm`` best
configurations are measured up to three times each before the winner is named. Spreads stay
with every evaluation.
"""

from __future__ import annotations

import math
import secrets
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tuner.limits import Backend, Limits, LimitsWarning
from tuner.log import TrialLog
from tuner.outcome import TrialOutcome, TrialStatus
from tuner.process import run_in_child
from tuner.space import Space
from tuner.strategies import Strategy, make_strategy, strategy_class
from tuner.tf import check_knobs
from tuner.trial import Evaluation, Trial

Executor = Callable[[dict], TrialOutcome]


@dataclass
class Result:
    best_config: dict | None
    best_value: float
    trials: list[Trial]
    evaluations: list[Evaluation]
    interrupted: bool = False
    best_spread: dict[str, float] = field(default_factory=dict)

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
    """One search: a strategy, an executor running trials, and optionally a log to resume from."""

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
    ) -> None:
        self.space, self.strategy, self.executor = space, strategy, executor
        self.budget, self.repeats, self.confirm = budget, repeats, confirm
        self.remeasure_incumbent, self.log, self.verbose = remeasure_incumbent, log, verbose
        self.trials: list[Trial] = []
        self.evaluations: dict[str, Evaluation] = {}
        self.interrupted = False
        self.warned: set[str] = set()

    def run(self) -> Result:
        try:
            while self.budget is None or len(self.evaluations) < self.budget:
                config = self.strategy.ask()
                if config is None:
                    break
                self.strategy.tell(config, self.evaluate(config).value)
            self.confirm_best()
        except KeyboardInterrupt:
            self.interrupted = True
        return self.result()

    def confirm_best(self) -> None:
        """Measure the leading configurations up to three times, so noise does not crown one."""
        wanted = max(3, self.repeats)
        ranked = sorted(self.evaluations.values(), key=lambda e: e.value)
        for evaluation in ranked[: self.confirm]:
            while math.isfinite(evaluation.value) and len(evaluation.values) < wanted:
                trial = self.trial(evaluation.config, len(evaluation.values))
                evaluation.values.append(trial.value)

    def evaluate(self, config: dict) -> Evaluation:
        key = self.space.key(config)
        if key in self.evaluations:
            return self.evaluations[key]
        incumbent = self.incumbent()
        evaluation = self.evaluations[key] = Evaluation(config)
        for repeat in range(self.repeats):
            evaluation.values.append(self.trial(config, repeat).value)
        if self.remeasure_incumbent and incumbent and evaluation.value < incumbent.value:
            incumbent.values.append(self.trial(incumbent.config, len(incumbent.values)).value)
        return evaluation

    def incumbent(self) -> Evaluation | None:
        finite = [e for e in self.evaluations.values() if math.isfinite(e.value)]
        return min(finite, key=lambda e: e.value, default=None)

    def trial(self, config: dict, repeat: int) -> Trial:
        trial = self.log.lookup(config, repeat) if self.log else None
        if trial is None:
            trial = self._run(config, repeat)
        self.trials.append(trial)
        self._say(trial)
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

    def _say(self, trial: Trial) -> None:
        if not self.verbose:
            return
        what = f"{trial.value:.6g}" if trial.status is TrialStatus.COMPLETE else trial.status.value
        reason = f" ({trial.reason.splitlines()[0]})" if trial.reason else ""
        resumed = " [from log]" if trial.resumed else ""
        print(f"trial {trial.number}: {trial.config} -> {what}{reason}{resumed}", file=sys.stderr)

    def result(self) -> Result:
        best = self.incumbent()
        return Result(
            best_config=best.config if best else None,
            best_value=best.value if best else math.inf,
            trials=list(self.trials),
            evaluations=list(self.evaluations.values()),
            interrupted=self.interrupted,
            best_spread=best.spread if best else {},
        )


def env_knobs(config: Mapping[str, Any]) -> dict[str, str]:
    """Knobs named like environment variables (``OMP_NUM_THREADS``) go into the child's env."""
    return {name: str(value) for name, value in config.items() if name.isupper()}


def minimize(
    objective: Callable[[dict], float] | str,
    space: Mapping[str, Any] | Space,
    strategy: str | Strategy = "nelder-mead",
    budget: int | None = None,
    repeats: int = 1,
    timeout: float | None = None,
    cpus: float | None = None,
    memory: int | str | None = None,
    log: str | None = None,
    *,
    log_key: Mapping[str, Any] | None = None,
    cpuset: str | None = None,
    mode: str | None = None,
    start: Mapping[str, Any] | None = None,
    seed: int | None = None,
    remeasure_incumbent: bool = True,
    confirm: int = 3,
    backend: str | Backend | None = None,
    python: str | None = None,
    env: Mapping[str, str] | None = None,
    verbose: bool = False,
) -> Result:
    """Minimise ``objective(config) -> float`` over ``space``, one child process per trial.

    ``space`` maps knob names to `tuner.Int` / `tuner.Choice`. Knobs named like environment
    variables (all capitals) are also exported to the child's environment, on top of ``env``: a
    base environment for every trial, e.g. ``{"TF_ENABLE_ONEDNN_OPTS": "0"}`` (a knob of the
    same name wins; in fork mode, load-time knobs are refused in either once TensorFlow is
    imported, see `tuner.tf.check_knobs`). ``backend`` (a name or a `tuner.limits.Backend`)
    forces the limits backend, as in `tuner.run_in_child`. ``budget`` caps the number of
    distinct configurations, each measured ``repeats`` times (median decides); the
    ``confirm`` best are measured at least three times at the end (0 turns that off). A trial
    that raises, times out, crashes or is OOM-killed scores +inf and the search goes on. ``log``
    is a JSONL file written as trials finish; rerunning with it skips finished trials (and, with
    ``seed=None``, reuses the seed it recorded; a log written by another strategy is refused).
    ``log_key`` (JSON data) says what the objective measures (workload, sizes, limits...): a log
    written under another key is refused, naming what differs.
    What a limits backend does not enforce is warned about once (`tuner.limits.LimitsWarning`).
    Ctrl-C stops the search and returns what finished, with ``result.interrupted`` set.

    >>> import tuner
    >>> r = tuner.minimize(lambda c: (c["x"] - 3) ** 2, {"x": tuner.Int(0, 10)})
    >>> r.best_config, r.best_value
    ({'x': 3}, 0.0)
    """
    space = Space(space)
    _check_counts(budget, repeats)
    limits = Limits(cpus=cpus, memory=memory, cpuset=cpuset)
    mode = mode or default_mode(objective)
    base_env = {str(k): str(v) for k, v in (env or {}).items()}
    check_knobs([*space.params, *base_env], mode)

    def executor(config: dict) -> TrialOutcome:
        return run_in_child(
            objective, config, mode=mode, timeout=timeout, limits=limits,
            env={**base_env, **env_knobs(config)}, python=python, backend=backend,
        )  # fmt: skip

    search, trial_log = _search_and_log(strategy, space, seed, start, log, log_key)
    study = Study(
        space,
        search,
        executor,
        budget=budget,
        repeats=repeats,
        remeasure_incumbent=remeasure_incumbent,
        confirm=confirm,
        log=trial_log,
        verbose=verbose,
    )
    return study.run()


def _search_and_log(
    strategy: str | Strategy,
    space: Space,
    seed: int | None,
    start: Mapping[str, Any] | None,
    log: str | None,
    log_key: Mapping[str, Any] | None = None,
) -> tuple[Strategy, TrialLog | None]:
    """The strategy and its trial log. A named strategy given no ``seed`` takes the one its log
    was started with; a new log records a seed chosen now, so a rerun asks for the same
    configurations. A strategy object keeps its own seed."""
    if isinstance(strategy, Strategy):
        trial_log = TrialLog(log, space, strategy.name, strategy.seed, log_key) if log else None
        return strategy, trial_log
    name = strategy_class(strategy).name  # an unknown name fails before the log is written
    trial_log = None
    if log:
        chosen = seed if seed is not None else secrets.randbits(32)
        trial_log = TrialLog(log, space, name, chosen, log_key)
        seed = trial_log.seed if seed is None else seed
    return make_strategy(name, space, seed=seed, start=start), trial_log


def default_mode(objective: Any) -> str:
    """Spawn for a ``"module:function"`` objective, in Jupyter and on macOS; fork otherwise."""
    unsafe_fork = sys.platform == "darwin" or "ipykernel" in sys.modules
    return "spawn" if isinstance(objective, str) or unsafe_fork else "fork"


def _check_counts(budget: int | None, repeats: int) -> None:
    for name, count in (("budget", budget), ("repeats", repeats)):
        if count is None and name == "budget":
            continue
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"{name} must be a positive integer, got {count!r}")
