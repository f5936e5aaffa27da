"""Tandem rounds: the workers of one round run at the same time and take turns sweeping.

Configurations that cannot share a process (another build, env knob or thread count) used to be
measured one worker after the other, so each round's ratio also held whatever the machine did in
between: on a shared VM a neighbour's burst of a few seconds lands on one side only. In a tandem
round every side's worker is started at once; each builds and warms up on its own, then the
parent hands a turn round the ring, and only the holder of the turn sweeps (two sweeps per
turn, the first turn one: A BB AA BB ..., as ABBA inside one process; more while a side of quick
sweeps follows a long turn, see `Baton.turns`; a worker's first sweeps calibrate its count, the
last of them timed). The others block reading a pipe, so the sweeps never overlap a partner's,
and a burst or drift lasting longer than a turn hits every side.

Parent side: `run_together` starts the workers (each gets ``{"dir", "side", "sides"}`` in its
task) and conducts: the first turn once every side is ready, the next to the next side when a
turn ends, "stop" when every side has its sweeps. A side whose worker ends early (its model did
not build, it crashed) leaves the ring; the others go on without it.
Worker side: `Baton.turns` yields once per sweep this worker may run. Messages are JSON lines on
named pipes (one per side, one to the parent) in a private folder removed after the round.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import functools
import json
import os
import select
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from tuner.process import stop_in_flight

SWEEPS_PER_TURN = 2
CONDUCTOR = "conductor"  # the parent's pipe
J = TypeVar("J")  # a job
R = TypeVar("R")  # what running it gives


class TandemError(RuntimeError):
    """The turn protocol broke: this worker's sweeps cannot be paired."""


def pipe_path(folder: str | Path, side: int | str) -> Path:
    return Path(folder) / (side if isinstance(side, str) else f"side{side}")


def send(folder: str | Path, to: int | str, message: dict) -> None:
    """Write one message to ``to``'s pipe without blocking (it holds a few KiB)."""
    fd = os.open(pipe_path(folder, to), os.O_RDWR | os.O_NONBLOCK)
    try:
        os.write(fd, (json.dumps(message) + "\n").encode())
    finally:
        os.close(fd)


class Inbox:
    """The reading end of one pipe: one JSON message per line."""

    def __init__(self, path: Path):
        # read-write: opening never blocks, and the pipe never reads end-of-file
        self.fd = os.open(path, os.O_RDWR)
        self.buffer = b""

    def close(self) -> None:
        os.close(self.fd)

    def receive(self) -> dict:
        while b"\n" not in self.buffer:
            select.select([self.fd], [], [])
            self.buffer += os.read(self.fd, 4096)
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)


class Baton:
    """This worker's end of a tandem: side ``side`` of ``sides``, pipes in ``folder``."""

    def __init__(self, folder: str, side: int, sides: int):
        if not 0 <= side < sides or sides < 2:
            raise TandemError(f"tandem side {side} of {sides}: need 0 <= side < sides, sides >= 2")
        self.folder, self.side, self.sides = folder, side, sides
        self.inbox = Inbox(pipe_path(folder, side))
        self.turn_times: list[tuple[float, float]] = []
        self.waited = 0.0
        self.left: list[int] = []

    @classmethod
    def from_task(cls, spec: dict | None) -> Baton | None:
        return cls(spec["dir"], int(spec["side"]), int(spec["sides"])) if spec else None

    def close(self) -> None:
        self.inbox.close()

    def turns(self, count: Callable[[], int]) -> Iterator[None]:
        """Yield once for each sweep this side runs, at least ``count()`` of them (calibrating,
        a worker learns how many it needs). Every side keeps taking its turns until all have
        their count, so all sides sweep over the same span. A turn is two sweeps, or, while
        this side still needs sweeps, up to half as long as the longest last turn of the others
        (``match``): a side of quick sweeps beside a slow one then has its count in a few turns
        instead of drawing the round out to as many turns as it has sweeps (half, so that turns
        never grow turn after turn)."""
        swept = 0
        send(self.folder, CONDUCTOR, {"ready": self.side})
        while True:
            message = self._expect("turn", "stop")
            if "stop" in message:
                self.left = message["stop"]["left"]
                return
            start = time.monotonic()
            for _ in range(message["turn"]):
                yield
                swept += 1
            while swept < count() and time.monotonic() - start < message.get("match", 0) / 2:
                yield
                swept += 1
            ended = time.monotonic()
            self.turn_times.append((start, ended))
            send(self.folder, CONDUCTOR, {"done": self.side, "enough": swept >= count(),
                                          "seconds": ended - start})  # fmt: skip

    def record(self) -> dict:
        """What the payload says of the tandem: the turns' start and end (monotonic clock, the
        same for every process on the machine), the seconds spent waiting for the turn, and the
        sides that left the round early."""
        return {"side": self.side, "sides": self.sides, "turns": self.turn_times,
                "waited_s": self.waited, "left": self.left}  # fmt: skip

    def _expect(self, *kinds: str) -> dict:
        started = time.monotonic()
        message = self.inbox.receive()
        self.waited += time.monotonic() - started
        if not any(kind in message for kind in kinds):
            raise TandemError(f"tandem side {self.side} expected {kinds}, got {message}")
        return message


class Conductor:
    """The parent's part: who is in the ring, who is ready, who holds the turn."""

    def __init__(self, folder: str, sides: int):
        self.folder = folder
        self.living = set(range(sides))
        self.ready: set[int] = set()
        self.enough: set[int] = set()  # sides that have swept their count
        self.holder: int | None = None
        self.last = -1  # the side that had the last turn
        self.turn_seconds: dict[int, float] = {}  # how long each side's last turn lasted
        self.stopped = False
        self.left: list[int] = []

    def heard(self, message: dict) -> None:
        if "ready" in message:
            self.ready.add(message["ready"])
        elif "done" in message:
            self.enough |= {message["done"]} if message["enough"] else set()
            self.turn_seconds[message["done"]] = message.get("seconds", 0.0)
            self.holder = None
        self._go_on()

    def ended(self, side: int, failed: bool) -> None:
        """Side ``side``'s worker ended: it leaves the ring (its turn, if it held one, passes)."""
        self.living.discard(side)
        self.left += [side] if failed else []
        if self.holder == side:
            self.holder = None
        self._go_on()

    def _go_on(self) -> None:
        if self.stopped or self.holder is not None or not self.living <= self.ready:
            return
        if self.living <= self.enough:
            for side in self.living:
                send(self.folder, side, {"stop": {"left": sorted(self.left)}})
            self.stopped = True
            return
        after = sorted(self.living, key=lambda side: (side <= self.last, side))
        self.holder = after[0]
        longest = max((seconds for side, seconds in self.turn_seconds.items()
                       if side != self.holder and side in self.living), default=0.0)  # fmt: skip
        send(self.folder, self.holder, {"turn": 1 if self.last < 0 else SWEEPS_PER_TURN,
                                        "match": longest})  # fmt: skip
        self.last = self.holder


def run_together(
    jobs: list[J],
    execute: Callable[..., R],
    finish: Callable[[J, R], R],
    failed: Callable[[R], str | None],
    stop: Callable[[], object],
) -> list[R]:
    """Run ``execute(job, tandem=spec)`` for every job at once, in threads, as one tandem, and
    ``finish(job, result)`` each as it ends (saving it: an interruption loses nothing finished).
    One that ends with ``failed(result)`` naming why leaves the ring; the others go on. On
    Ctrl-C, ``stop()`` kills the workers; finished ones are still kept. Returns what ``finish``
    returned, in job order."""
    finished: dict[int, R] = {}
    with (
        tempfile.TemporaryDirectory(prefix="tfopt-tandem-") as folder,
        _pipes(folder, len(jobs)) as inbox,
        futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool,
    ):
        running: dict[futures.Future, int] = {}
        for side, job in enumerate(jobs):
            spec = {"dir": folder, "side": side, "sides": len(jobs)}
            future = pool.submit(execute, job, tandem=spec)
            future.add_done_callback(functools.partial(_say_ended, folder, side))
            running[future] = side
        try:
            _conduct(Conductor(folder, len(jobs)), inbox, running, jobs, finish, failed, finished)
        except KeyboardInterrupt:
            pending = {future: side for future, side in running.items() if side not in finished}

            def keep(side: int, result: R) -> None:
                if failed(result) is None:
                    finished[side] = finish(jobs[side], result)

            stop_in_flight(pending, keep, stop)
            raise
    return [finished[side] for side in range(len(jobs))]


@contextlib.contextmanager
def _pipes(folder: str, sides: int) -> Iterator[Inbox]:
    """One named pipe per side and the parent's, all held open here for the whole round (a
    message written to a pipe that no process holds open is lost: a side may be told to stop
    before it opened its own); yields the parent's."""
    held = []
    try:
        for name in [*range(sides), CONDUCTOR]:
            os.mkfifo(pipe_path(folder, name), 0o600)
            held.append(Inbox(pipe_path(folder, name)))
        yield held[-1]
    finally:
        for inbox in held:
            inbox.close()


def _conduct(conductor: Conductor, inbox: Inbox, running: dict[futures.Future, int],
             jobs: list[J], finish: Callable[[J, R], R], failed: Callable[[R], str | None],
             finished: dict[int, R]) -> None:  # fmt: skip
    by_side = {side: future for future, side in running.items()}
    while len(finished) < len(jobs):
        message = inbox.receive()
        if "ended" not in message:
            conductor.heard(message)
            continue
        side = message["ended"]
        result = by_side[side].result()
        finished[side] = finish(jobs[side], result)  # saved, failed or not
        conductor.ended(side, failed(result) is not None)


def _say_ended(folder: str, side: int, _: futures.Future) -> None:
    with contextlib.suppress(OSError):  # the round is over already (interrupted)
        send(folder, CONDUCTOR, {"ended": side})
