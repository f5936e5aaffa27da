"""``run_in_child``: one function in one child process, started as the caller asks (forked,
spawned, or forked by a zygote) under the chosen limits backend."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tuner.limits import Limits, as_limits, choose_backend
from tuner.limits.base import Backend, check_timeout
from tuner.outcome import TrialOutcome
from tuner.process.fork import ForkedTrial, check_fork_safe
from tuner.process.spawn import SpawnedTrial
from tuner.process.task import as_callable, spawn_task
from tuner.process.trial import ChildTrial
from tuner.process.zygote_client import wants_zygote, zygote_trial
from tuner.zygote import ZygoteError

MODES = ("fork", "spawn")


def run_in_child(
    target: Callable[..., Any] | str,
    *args: Any,
    mode: str = "fork",
    timeout: float | None = None,
    limits: Limits | Mapping | None = None,
    env: Mapping[str, str] | None = None,
    python: str | None = None,
    backend: str | Backend | None = None,
    kwargs: Mapping[str, Any] | None = None,
    preload: Sequence[str] | None = None,
) -> TrialOutcome:
    """Run ``target(*args, **kwargs)`` in a child process under ``limits``; return what happened.

    ``mode="fork"`` forks this process (cheap: heavy imports are already done); ``target`` is a
    callable or a ``"module:function"`` string. ``mode="spawn"`` starts ``python -m tuner.worker``
    (``python`` defaults to this interpreter), which sets ``env`` before importing the target, so
    knobs read at library load work; ``target`` must then be a ``"module:function"`` string or an
    importable module-level function. The target's return value comes back as JSON data in
    ``outcome.payload`` (and ``outcome.value`` if it is a number). Ctrl-C stops the child, reaps it,
    then raises ``KeyboardInterrupt``.

    ``preload`` (module names, e.g. ``["tensorflow"]``) forks the child from a zygote of
    ``python`` and this ``env`` instead (`tuner.zygote`): a process that imported those modules
    once, with ``env`` already set, so knobs read at library load still work in either mode; the
    child is confined, timed, killed and reaped as any other. Where no zygote can serve the
    trial (its arguments are not JSON, a launching limits backend, the zygote failed to start)
    it starts as ``mode`` says; so does a forked one where this process has already imported
    every preloaded module (a plain fork is as cheap). `tuner.worker.start_info` tells the
    child how it began.

    >>> run_in_child(pow, 2, 10).value
    1024.0
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    check_timeout(timeout)
    env = {str(k): str(v) for k, v in (env or {}).items()}
    limits = as_limits(limits)
    chosen = choose_backend(limits, mode, backend)
    with chosen.open(limits) as confinement:
        run: ChildTrial
        if preload and wants_zygote(preload, mode, chosen):
            with contextlib.suppress(ZygoteError):  # no zygote: start as the mode says
                run = zygote_trial(target, args, dict(kwargs or {}), env, python, mode,
                                   preload, confinement)  # fmt: skip
                return run.execute(timeout)
        if mode == "fork":
            check_fork_safe()
            run = ForkedTrial(as_callable(target), args, dict(kwargs or {}), env, confinement)
        else:
            task = spawn_task(target, args, dict(kwargs or {}), env)
            run = SpawnedTrial(task, python or sys.executable, env, confinement)
        return run.execute(timeout)
