"""A fork whose child returns into its caller's code: what lets a ``for`` loop's body run once
per child (`tuner.generator`).

The child leaves the trial machinery through one exception, `InChild`, raised where the fork
happened and caught by whoever asked for the fork, however many frames (a search, a study) lie
between; frames on the way may attach what the child will need (``carried``). The parent gets
the trial's `TrialOutcome` as from any other trial.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from tuner.child import setup_failure, write_and_exit
from tuner.limits import Limits, as_limits, choose_backend
from tuner.limits.base import Backend, Confinement, check_timeout
from tuner.outcome import TrialOutcome
from tuner.process.fork import ForkedTrial, check_fork_safe


class ChildEnd:
    """Held by the child of `fork_point`: ``finish`` sends its result and exits."""

    def __init__(self, write_fd: int) -> None:
        self.write_fd = write_fd

    def finish(self, record: dict) -> NoReturn:
        write_and_exit(self.write_fd, record)


class InChild(BaseException):
    """Raised in the child of `fork_point` (never in the parent), carrying it out to the caller.

    ``end`` is how the child reports and exits; ``carried`` holds what frames on the way out
    attached for the caller (the for-loop API: the attempt and the files its output goes to).
    """

    def __init__(self, end: ChildEnd) -> None:
        super().__init__()
        self.end = end
        self.carried: dict[str, Any] = {}


def fork_point(
    timeout: float | None = None,
    limits: Limits | Mapping | None = None,
    env: Mapping[str, str] | None = None,
    backend: str | Backend | None = None,
) -> TrialOutcome:
    """Fork with the tuner's care around it; the parent gets the trial's `TrialOutcome`.

    The child (confined, in its own process group, ``env`` applied) raises `InChild` from here
    and must end with ``InChild.end.finish(record)``, which the parent waits for.
    """
    check_timeout(timeout)
    limits = as_limits(limits)
    confinement = choose_backend(limits, "fork", backend).open(limits)
    try:
        check_fork_safe()
        outcome = _ForkPoint(env, confinement).execute(timeout)
    except InChild:
        raise  # the child: its confinement belongs to the parent
    except BaseException:
        confinement.close()
        raise
    confinement.close()
    return outcome


class _ForkPoint(ForkedTrial):
    """A forked trial whose child returns to the caller instead of running a target."""

    def __init__(self, env: Mapping[str, str] | None, confinement: Confinement) -> None:
        super().__init__(None, (), {}, dict(env or {}), confinement)

    def _child(self, write_fd: int) -> None:
        try:
            self._setup_child()
        except BaseException as exc:  # noqa: B036 - the child must always reach os._exit
            write_and_exit(write_fd, setup_failure(exc))
        raise InChild(ChildEnd(write_fd))
