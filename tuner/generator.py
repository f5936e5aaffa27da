"""The for-loop API of Intel's Forking Tuner: the loop body runs once per forked child.

::

    from tuner import nelder_mead
    from tuner.tf import set_threading

    for attempt in nelder_mead(vertex=[22, 2], names=["inter", "intra"]):
        set_threading(attempt)
        model = build()          # built after the threading is set
        print(attempt)           # shown (the body's output passes through)
        print(measure(model))    # the last number printed is this attempt's objective, in seconds

How it works: the parent runs the search; for each attempt it forks, and the child leaves the
search (`tuner.process.tunnel`) and returns into the ``for`` loop holding that attempt. When the
body ends, the loop asks for the next attempt, which brings the child back here: it reads its
value (``tuner.report(value)`` if called, else the last line it printed, which must be a number),
sends it to the parent and exits with ``os._exit`` (code after the loop never runs in a child).
A body that raises or leaves the loop is a failed trial. The parent's loop body never runs, unless
``replay_best=True`` asks for one last pass with the best attempt in the parent (which then
starts TensorFlow's runtime in the parent).

The body prints into files the parent made before forking; when a trial ends the parent prints
what the body printed (all but the line taken as the objective), so the output reaches whatever
the parent's own streams reach: a terminal, a pipe, or a Jupyter notebook's cell, whose kernel
the child never touches (it leaves with ``os._exit`` before any code of the kernel runs again).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import IO, Any

from tuner import worker
from tuner.log import TrialLog
from tuner.outcome import TrialOutcome
from tuner.process.tunnel import ChildEnd, InChild, fork_point
from tuner.progress import Progress, describe_config, format_value
from tuner.runner import Result, Study, env_knobs
from tuner.space import Int, Space
from tuner.strategies.nelder_mead import NelderMead
from tuner.tf import check_knobs


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
    unit: str = "s",
) -> Generator[list[int], None, Result]:
    """Yield attempts (lists of ints like ``vertex``) into forked children; see the module doc.

    ``bounds`` defaults to ``1 .. max(2 * v, 2 * cores)`` per coordinate. ``names`` label the
    coordinates in progress and in the final line (else attempts show as lists); names written
    like environment variables go into each child's environment, and knobs read when TensorFlow
    loads (``OMP_NUM_THREADS``) are refused once it is imported, as forked children would
    ignore them. ``unit`` is the objective's (seconds by default, as ``timeit`` gives; shown
    scaled, e.g. 73.2 ms; ``""`` for none). The parent ends by printing the best attempt and its
    value, and returns ``tuner.runner.Result`` as the generator's return value.
    """
    space = _vertex_space(vertex, bounds, names)
    check_knobs(space.params, "fork")
    start = dict(zip(space.params, vertex, strict=True))
    describe = describe_config if names else _as_attempt
    study = Study(
        space,
        NelderMead(space, start=start),
        _fork_executor(timeout, cpus, memory),
        budget=budget,
        repeats=repeats,
        log=TrialLog(log, space, NelderMead.name, seed=None) if log else None,
        progress=Progress(unit, describe) if verbose else None,
    )
    try:
        result = study.run()
    except InChild as child:  # a forked child, out of the search: it runs the loop body
        config, output = child.carried["config"], child.carried["output"]
        yield from _child_pass(child.end, list(config.values()), output)
    _announce(result, describe, unit)
    if replay_best and result.best_config is not None:
        yield list(result.best_config.values())
    return result


def kamerton(
    cb: Callable[[list[int]], Any], vertex: Sequence[int], **options: Any
) -> Generator[list[int], None, Result]:
    """The Forking Tuner's ``kamerton`` form (named after its tuning fork): ``cb(attempt)``
    (e.g. `tuner.tf.set_threading`) runs before each body.

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


def _as_attempt(config: dict) -> str:
    return str(list(config.values()))


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


class _Output:
    """Two files the parent makes before a fork: the child's stdout and stderr go there, and
    the parent prints them when the trial ends."""

    def __init__(self) -> None:
        self.out: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in relay()
        self.err: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in relay()

    def capture(self) -> None:
        """In the child: file descriptors 1 and 2 into the files, and Python's streams onto
        them (a Jupyter kernel's streams would write to its sockets)."""
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os.dup2(self.out.fileno(), 1)
        os.dup2(self.err.fileno(), 2)
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives until exit
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives until exit

    def printed(self) -> str:
        """In the child: what the body printed so far."""
        sys.stdout.flush()
        self.out.seek(0)
        return self.out.read().decode(errors="replace")

    def keep_only(self, text: str) -> None:
        """In the child: leave ``text`` as the stdout the parent will print."""
        self.out.seek(0)
        self.out.truncate()
        self.out.write(text.encode())
        self.out.flush()

    def relay(self) -> None:
        """In the parent: print what the child left, then drop the files."""
        for source, stream in ((self.out, sys.stdout), (self.err, sys.stderr)):
            source.seek(0)
            text = source.read().decode(errors="replace")
            source.close()
            if text:
                stream.write(text)
                stream.flush()


def _fork_executor(timeout, cpus, memory) -> Callable[[dict], TrialOutcome]:
    limits = {"cpus": cpus, "memory": memory}

    def execute(config: dict) -> TrialOutcome:
        output = _Output()
        try:
            outcome = fork_point(timeout=timeout, limits=limits, env=env_knobs(config))
        except InChild as child:  # the child takes its attempt and output files to the body
            child.carried.update(config=config, output=output)
            raise
        except BaseException:
            output.relay()
            raise
        output.relay()
        return outcome

    return execute


def _child_pass(end: ChildEnd, attempt: list[int], output: _Output) -> Iterator[list[int]]:
    """In the child: hand the attempt to the loop body once, then report and exit."""
    output.capture()
    failure = _guard_child(end, output)
    try:
        yield attempt
    except GeneratorExit:
        failure("the loop body did not finish: it raised or left the loop (break/return)")
    end.finish(_body_record(output))


def _guard_child(end: ChildEnd, output: _Output) -> Callable[[str], None]:
    """If the body's exception escapes to the top, or the script ends inside the child, the
    child still reports (with the traceback) and exits without running the rest."""
    details: list[str] = []

    def fail(reason: str) -> None:
        tail = _tail(output.printed())
        end.finish(worker.record("fail", reason="\n".join([reason, *details, tail]).strip()))

    def hook(kind, exc, tb) -> None:
        details.append("".join(traceback.format_exception(kind, exc, tb)))
        sys.__excepthook__(kind, exc, tb)

    sys.excepthook = hook
    atexit.register(fail, "the loop body ended the program")
    return fail


def _body_record(output: _Output) -> dict:
    """The trial's record; the body's printed lines but the one taken as the value stay in
    ``output`` for the parent to print."""
    printed = output.printed()
    if worker.reported() is not None:
        return worker.checked(worker.reported())
    lines = printed.splitlines(keepends=True)
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not filled:
        return worker.record("fail", reason="the loop body printed nothing and did not report()")
    last = lines[filled[-1]].strip()
    try:
        value = float(last)
    except ValueError:
        return worker.record(
            "fail", reason=f"the loop body's last line of output is not a number: {last!r}"
        )
    output.keep_only("".join(lines[: filled[-1]] + lines[filled[-1] + 1 :]))
    return worker.checked(value)


def _tail(text: str) -> str:
    text = text.strip()
    return f"output ends with: {text[-500:]}" if text else ""


def _announce(result: Result, describe: Callable[[dict], str], unit: str) -> None:
    if result.best_config is None:
        print("no attempt produced a value", flush=True)
        return
    spread = result.best_spread
    value, low, high = (
        format_value(v, unit) for v in (result.best_value, spread["min"], spread["max"])
    )
    attempt = describe(result.best_config)
    print(f"best attempt {attempt}: {value} (min {low}, max {high})", flush=True)
