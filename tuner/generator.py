"""The seeds' for-loop API: the loop body runs once per forked child.

::

    from tuner import nelder_mead
    from tuner.tf import set_threading

    for attempt in nelder_mead(vertex=[22, 2]):
        set_threading(attempt)
        model = build()          # built after the threading is set
        print(attempt)
        print(measure(model))    # the last number printed is this attempt's objective

How it works: the parent runs the search; for each attempt it forks, and the child returns into
the ``for`` loop holding that attempt. When the body ends, the loop asks for the next attempt,
which brings the child back here: it reads its value (``tuner.report(value)`` if called, else the
last line it printed, which must be a number), sends it to the parent and exits with
``os._exit`` (code after the loop never runs in a child). A body that raises or leaves the loop is
a failed trial. The parent's loop body never runs, unless ``replay_best=True`` asks for one last
pass with the best attempt in the parent (which then starts TensorFlow's runtime in the parent).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

from tuner import worker
from tuner.log import TrialLog
from tuner.outcome import TrialOutcome
from tuner.process import ChildEnd, fork_here
from tuner.runner import Result, Study, env_knobs
from tuner.space import Int, Space
from tuner.strategies.nelder_mead import NelderMead
from tuner.tf import check_knobs


class _ChildSide(BaseException):
    """Carries a forked child out of the search, back to the generator, which yields to it."""

    def __init__(self, end: ChildEnd, config: dict) -> None:
        super().__init__()
        self.end, self.config = end, config


def nelder_mead(
    vertex: Sequence[int],
    bounds: Sequence[tuple[int, int]] | None = None,
    *,
    names: Sequence[str] | None = None,
    budget: int | None = None,
    repeats: int = 1,
    timeout: float | None = None,
    cpus: float | None = None,
    memory: int | str | None = None,
    log: str | None = None,
    replay_best: bool = False,
    verbose: bool = True,
) -> Generator[list[int], None, Result]:
    """Yield attempts (lists of ints like ``vertex``) into forked children; see the module doc.

    ``bounds`` defaults to ``1 .. max(2 * v, 2 * cores)`` per coordinate. ``names`` written
    like environment variables go into each child's environment; knobs read when TensorFlow
    loads (``OMP_NUM_THREADS``) are refused once it is imported, as forked children would
    ignore them. The parent ends by printing the best attempt and its value, and returns
    ``tuner.runner.Result`` as the generator's return value.
    """
    _check_fork_is_possible()
    space = _vertex_space(vertex, bounds, names)
    check_knobs(space.params, "fork")
    start = dict(zip(space.params, vertex, strict=True))
    study = Study(
        space,
        NelderMead(space, start=start),
        _fork_executor(timeout, cpus, memory),
        budget=budget,
        repeats=repeats,
        log=TrialLog(log, space, NelderMead.name, seed=None) if log else None,
        verbose=verbose,
    )
    try:
        result = study.run()
    except _ChildSide as child:
        yield from _child_pass(child.end, list(child.config.values()))
    _announce(result)
    if replay_best and result.best_config is not None:
        yield list(result.best_config.values())
    return result


def kamerton(
    cb: Callable[[list[int]], Any], vertex: Sequence[int], **options: Any
) -> Generator[list[int], None, Result]:
    """Kamerton's form: ``cb(attempt)`` (e.g. `tuner.tf.set_threading`) runs before each body.

    Takes `nelder_mead`'s options and, like it, returns the `tuner.runner.Result`.
    """
    search = nelder_mead(vertex, **options)
    with contextlib.closing(search):  # a body that fails in a child must close the search
        while True:
            try:
                attempt = next(search)
            except StopIteration as stop:
                return stop.value
            cb(attempt)
            yield attempt


def _check_fork_is_possible() -> None:
    """The body must run in a forked copy of this very program: not possible in a notebook."""
    if "ipykernel" in sys.modules:
        raise RuntimeError(
            "the for-loop API forks this process, which a Jupyter kernel cannot survive; use "
            "tuner.minimize with an objective defined in an importable module (spawn mode)"
        )


def _vertex_space(
    vertex: Sequence[int], bounds: Sequence[tuple[int, int]] | None, names: Sequence[str] | None
) -> Space:
    if isinstance(vertex, (str, bytes)) or not isinstance(vertex, Sequence) or not vertex:
        raise TypeError(f"vertex must be a list of integers such as [22, 2], got {vertex!r}")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in vertex):
        raise ValueError(f"vertex coordinates must be positive integers, got {list(vertex)!r}")
    cores = os.cpu_count() or 1
    bounds = bounds or [(1, max(2 * v, 2 * cores)) for v in vertex]
    names = names or [f"x{i}" for i in range(len(vertex))]
    if not len(bounds) == len(names) == len(vertex):
        raise ValueError("vertex, bounds and names must have the same length")
    return Space({n: Int(lo, hi) for n, (lo, hi) in zip(names, bounds, strict=True)})


def _fork_executor(timeout, cpus, memory) -> Callable[[dict], TrialOutcome]:
    limits = {"cpus": cpus, "memory": memory}

    def execute(config: dict) -> TrialOutcome:
        outcome = fork_here(timeout=timeout, limits=limits, env=env_knobs(config))
        if isinstance(outcome, ChildEnd):
            raise _ChildSide(outcome, config)
        return outcome

    return execute


def _child_pass(end: ChildEnd, attempt: list[int]) -> Iterator[list[int]]:
    """In the child: hand the attempt to the loop body once, then report and exit."""
    captured = _capture_stdout()
    failure = _guard_child(end, captured)
    try:
        yield attempt
    except GeneratorExit:
        failure("the loop body did not finish: it raised or left the loop (break/return)")
    end.finish(_body_record(captured))


def _capture_stdout():
    """Send fd 1 to a temporary file, so the body's last printed line can be read back."""
    sys.stdout.flush()
    captured = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives until the child exits
    os.dup2(captured.fileno(), 1)
    return captured


def _guard_child(end: ChildEnd, captured) -> Callable[[str], None]:
    """If the body's exception escapes to the top, or the script ends inside the child, the
    child still reports (with the traceback) and exits without running the rest."""
    details: list[str] = []

    def fail(reason: str) -> None:
        tail = _tail(captured)
        end.finish(worker.record("fail", reason="\n".join([reason, *details, tail]).strip()))

    def hook(kind, exc, tb) -> None:
        details.append("".join(traceback.format_exception(kind, exc, tb)))
        sys.__excepthook__(kind, exc, tb)

    sys.excepthook = hook
    atexit.register(fail, "the loop body ended the program")
    return fail


def _body_record(captured) -> dict:
    if worker.reported() is not None:
        return worker.record("complete", payload=worker.reported())
    lines = [line.strip() for line in _read(captured).splitlines() if line.strip()]
    if not lines:
        return worker.record("fail", reason="the loop body printed nothing and did not report()")
    try:
        return worker.checked(float(lines[-1]))
    except ValueError:
        return worker.record(
            "fail", reason=f"the loop body's last line of output is not a number: {lines[-1]!r}"
        )


def _read(captured) -> str:
    sys.stdout.flush()
    captured.seek(0)
    return captured.read()


def _tail(captured) -> str:
    text = _read(captured).strip()
    return f"output ends with: {text[-500:]}" if text else ""


def _announce(result: Result) -> None:
    if result.best_config is None:
        print("no attempt produced a value", flush=True)
        return
    attempt = list(result.best_config.values())
    spread = result.best_spread
    print(
        f"best attempt {attempt}: {result.best_value:.6g} (min {spread['min']:.6g}, "
        f"max {spread['max']:.6g})",
        flush=True,
    )
