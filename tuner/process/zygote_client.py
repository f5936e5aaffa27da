"""A trial forked by a zygote (`tuner.zygote`, ``preload``): the request sent to it, and the
child's end as the zygote reports it. Where no zygote can serve a trial it starts as usual."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tuner.limits.base import Backend, Confinement
from tuner.outcome import TrialOutcome
from tuner.process.reaping import wait_through_ctrl_c
from tuner.process.task import child_env, spawn_task
from tuner.process.trial import CapturedStderr
from tuner.zygote import Zygote, ZygoteError, dumps_confinement, release, wait_exit, zygote_for


def wants_zygote(preload: Sequence[str] | None, start_method: str, backend: Backend) -> bool:
    """A zygote serves confined children, and a forked one only where this process has not
    imported the modules itself (then a plain fork is as cheap)."""
    if not preload or backend.launches:
        return False
    return start_method == "spawn" or not all(name in sys.modules for name in preload)


def zygote_trial(
    target: Callable[..., Any] | str,
    args: tuple,
    kwargs: dict,
    env: dict[str, str],
    python: str | None,
    start_method: str,
    preload: Sequence[str],
    confinement: Confinement,
) -> ZygoteTrial:
    """The trial as a zygote's child, or ZygoteError where no zygote can run it."""
    try:
        task = spawn_task(target, args, kwargs, env)
    except TypeError as exc:
        raise ZygoteError(str(exc)) from None
    if start_method == "fork":  # the child finds what this process finds
        task["path"] += [p for p in sys.path if p and p not in task["path"]]
    request = {"task": task, "confinement": dumps_confinement(confinement),
               "affinity": sorted(os.sched_getaffinity(0))}  # fmt: skip
    interpreter = sys.executable if start_method == "fork" else python or sys.executable
    return ZygoteTrial(zygote_for(interpreter, child_env(env), preload), request, confinement)


class ZygoteTrial(CapturedStderr):
    """A child forked by a zygote: its result comes through our pipe as a forked child's does;
    its exit status and peak RSS from the zygote, which reaps it."""

    def __init__(self, zygote: Zygote, request: dict, confinement: Confinement) -> None:
        self.zygote, self.request, self.confinement = zygote, request, confinement

    def execute(self, timeout: float | None) -> TrialOutcome:
        try:
            return super().execute(timeout)
        finally:
            release(self.zygote)

    def start(self) -> tuple[int, int]:
        read_fd, write_fd = os.pipe()
        try:
            pid, self.reply = self.zygote.fork(self.request, write_fd, self.stderr.fileno())
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        return pid, read_fd

    def reap(self, pid: int) -> tuple[int | None, int]:
        ended: list = []
        try:
            interrupted = wait_through_ctrl_c(pid, lambda: ended.append(wait_exit(self.reply)))
        finally:
            self.reply.close()
        if interrupted:
            raise KeyboardInterrupt
        return ended[0]
