"""The function API, `minimize`: a search whose trials run in child processes, one per trial,
under the given limits (the search itself, and how it handles noise, is `tuner.study.Study`)."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tuner import worker
from tuner.limits import Backend, Limits
from tuner.log import TrialLog
from tuner.outcome import TrialOutcome
from tuner.process import run_in_child, start_method_given
from tuner.progress import Progress
from tuner.space import Space
from tuner.strategies import Strategy, make_strategy, strategy_class
from tuner.study import Result, Study
from tuner.tf import check_knobs


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
    start_method: str | None = None,
    start: Mapping[str, Any] | None = None,
    seed: int | None = None,
    remeasure_incumbent: bool = True,
    confirm: int = 3,
    backend: str | Backend | None = None,
    python: str | None = None,
    env: Mapping[str, str] | None = None,
    verbose: bool = True,
    rounds: int | None = None,
    unit: str = "",
    preload: Sequence[str] | None = None,
    mode: str | None = None,
) -> Result:
    """Minimise ``objective(config) -> float`` over ``space``, one child process per trial.

    ``space`` maps knob names to `tuner.Int` / `tuner.Choice`. Knobs named like environment
    variables (all capitals) are also exported to the child's environment, on top of ``env``: a
    base environment for every trial, e.g. ``{"TF_ENABLE_ONEDNN_OPTS": "0"}`` (a knob of the
    same name wins; for forked trials, load-time knobs are refused in either once TensorFlow
    is imported, see `tuner.tf.check_knobs`). ``backend`` (a name or a `tuner.limits.Backend`)
    forces the limits backend, as in `tuner.run_in_child`. ``budget`` caps the number of
    distinct configurations, each measured ``repeats`` times (median decides); the
    ``confirm`` best are then re-measured in ``rounds`` interleaved rounds (three, or
    ``repeats`` if more) and the best is the one with the lowest median there (``confirm=0``
    skips that: the search's medians decide). A trial that raises, times out, crashes, is
    OOM-killed or returns NaN or an infinity fails, scores +inf, and the search goes on. ``log``
    is a JSONL file written as trials finish; rerunning with it skips finished trials (and, with
    ``seed=None``, reuses the seed it recorded; a log written by another strategy is refused).
    ``log_key`` (JSON data) says what the objective measures (workload, sizes, limits...): a log
    written under another key is refused, naming what differs.
    What a limits backend does not enforce is warned about once (`tuner.limits.LimitsWarning`).
    Ctrl-C stops the search and returns what finished, with ``result.interrupted`` set.
    ``preload`` forks each trial from a zygote that imported those modules once, as in
    `tuner.run_in_child`. ``start_method`` is ``"fork"`` or ``"spawn"`` as there; by default
    spawn for a ``"module:function"`` objective or on macOS, else fork (``mode=`` is its older
    spelling). Progress goes to stderr as trials end (``verbose=False`` silences it), values
    shown in ``unit`` (``"s"`` scales seconds: 0.0732 s shows as 73.2 ms).

    >>> import tuner
    >>> r = tuner.minimize(lambda c: (c["x"] - 3) ** 2, {"x": tuner.Int(0, 10)})
    >>> r.best_config, r.best_value
    ({'x': 3}, 0.0)
    """
    worker.check_not_loading_main()
    space = Space(space)
    _check_counts(budget=budget, repeats=repeats, confirm=confirm, rounds=rounds)
    limits = Limits(cpus=cpus, memory=memory, cpuset=cpuset)
    start_method = start_method_given(start_method, mode) or default_start_method(objective)
    base_env = {str(k): str(v) for k, v in (env or {}).items()}
    check_knobs([*space.params, *base_env], start_method)

    def executor(config: dict) -> TrialOutcome:
        return run_in_child(
            objective, config, start_method=start_method, timeout=timeout, limits=limits,
            env={**base_env, **env_knobs(config)}, python=python, backend=backend,
            preload=preload,
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
        rounds=rounds,
        progress=Progress(unit) if verbose else None,
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


def default_start_method(objective: Any) -> str:
    """Spawn for a ``"module:function"`` objective and on macOS (where forking a process that
    runs system frameworks is unsafe); fork otherwise, in a Jupyter kernel too: the child runs
    only the objective, prints through plain file descriptors and leaves with ``os._exit``,
    never touching the kernel's sockets (`tuner.process.fork.plain_std_streams`)."""
    return "spawn" if isinstance(objective, str) or sys.platform == "darwin" else "fork"


def _check_counts(**counts: int | None) -> None:
    """budget and rounds may be None (no cap, the default); confirm may be 0 (no finals)."""
    for name, count in counts.items():
        if count is None and name in ("budget", "rounds"):
            continue
        least = 0 if name == "confirm" else 1
        if isinstance(count, bool) or not isinstance(count, int) or count < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {count!r}")
