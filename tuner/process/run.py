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

START_METHODS = ("fork", "spawn")


def start_method_given(start_method: str | None, mode: str | None) -> str | None:
    """The start method asked for: ``mode=`` is its older spelling, accepted where the two agree."""
    if start_method is not None and mode is not None and start_method != mode:
        raise TypeError(f"start_method={start_method!r} and mode={mode!r} disagree: mode is the "
                        f"older spelling of start_method, give one")  # fmt: skip
    return start_method if start_method is not None else mode


def run_in_child(
    target: Callable[..., Any] | str,
    *args: Any,
    start_method: str | None = None,
    timeout: float | None = None,
    limits: Limits | Mapping | None = None,
    env: Mapping[str, str] | None = None,
    python: str | None = None,
    backend: str | Backend | None = None,
    kwargs: Mapping[str, Any] | None = None,
    preload: Sequence[str] | None = None,
    mode: str | None = None,
) -> TrialOutcome:
    """Run ``target(*args, **kwargs)`` in a child process under ``limits``; return what happened.

    ``start_method="fork"`` (the default) forks this process (cheap: heavy imports are already
    done); ``target`` is a callable or a ``"module:function"`` string. ``start_method="spawn"``
    starts ``python -m tuner.worker`` (``python`` defaults to this interpreter), which sets ``env``
    before importing the target, so knobs read at library load work; ``target`` must then be a
    ``"module:function"`` string or an importable module-level function. ``mode=`` is the older
    spelling of ``start_method=``. The target's return value comes back as JSON data in
    ``outcome.payload`` (and ``outcome.value`` if it is a number). Ctrl-C stops the child, reaps it,
    then raises ``KeyboardInterrupt``.

    ``preload`` (module names, e.g. ``["tensorflow"]``) forks the child from a zygote of
    ``python`` and this ``env`` instead (`tuner.zygote`): a process that imported those modules
    once, with ``env`` already set, so knobs read at library load still work either way; the
    child is confined, timed, killed and reaped as any other. Where no zygote can serve the
    trial (its arguments are not JSON, a launching limits backend, the zygote failed to start)
    it starts by its ``start_method``; so does a forked one where this process has already
    imported every preloaded module (a plain fork is as cheap). `tuner.worker.start_info` tells
    the child how it began.

    >>> run_in_child(pow, 2, 10).value
    1024.0
    """
    start_method = start_method_given(start_method, mode) or "fork"
    if start_method not in START_METHODS:
        raise ValueError(f"start_method must be one of {START_METHODS}, got {start_method!r}")
    check_timeout(timeout)
    env = {str(k): str(v) for k, v in (env or {}).items()}
    limits = as_limits(limits)
    chosen = choose_backend(limits, start_method, backend)
    with chosen.open(limits) as confinement:
        run: ChildTrial
        if preload and wants_zygote(preload, start_method, chosen):
            with contextlib.suppress(ZygoteError):  # no zygote: start as asked
                run = zygote_trial(target, args, dict(kwargs or {}), env, python, start_method,
                                   preload, confinement)  # fmt: skip
                return run.execute(timeout)
        if start_method == "fork":
            check_fork_safe()
            run = ForkedTrial(as_callable(target), args, dict(kwargs or {}), env, confinement)
        else:
            task = spawn_task(target, args, dict(kwargs or {}), env)
            run = SpawnedTrial(task, python or sys.executable, env, confinement)
        return run.execute(timeout)
