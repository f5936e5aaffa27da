"""Tandem rounds: the workers of one round run at the same time and take turns sweeping.

Configurations that cannot share a process (another build, env knob or thread count) used to be
measured one worker after the other, so each round's ratio also held whatever the machine did in
between: on a shared VM a neighbour's burst of a few seconds lands on one side only. In a tandem
round every side's worker is started at once; each builds and warms up on its own, then they
pass a turn around a ring, and only the holder of the turn runs timed sweeps (two per turn, the
first turn one: A BB AA BB ..., as ABBA inside one process). The others block reading a pipe, so
the timed sweeps never overlap, and a burst or drift lasting longer than a turn hits every side.

Parent side: `run_together` starts the workers (each gets ``{"dir", "side", "sides"}`` in its
task) and, when one fails, tells the others to give up at once instead of waiting for it.
Worker side: `Baton.turns` yields once per sweep this worker may run. Messages are JSON lines on
one named pipe per side, in a private folder removed after the round.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import json
import os
import select
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

SWEEPS_PER_TURN = 2
J = TypeVar("J")  # a job
R = TypeVar("R")  # what running it gives


class TandemError(RuntimeError):
    """A tandem partner failed or the turn protocol broke: this worker's sweeps are unpaired."""


def pipe_path(folder: str | Path, side: int) -> Path:
    return Path(folder) / f"side{side}"


def send(folder: str | Path, side: int, message: dict) -> None:
    """Write one message to ``side``'s pipe without blocking (it holds a few KiB)."""
    fd = os.open(pipe_path(folder, side), os.O_RDWR | os.O_NONBLOCK)
    try:
        os.write(fd, (json.dumps(message) + "\n").encode())
    finally:
        os.close(fd)


class Baton:
    """This worker's end of a tandem: side ``side`` of ``sides``, pipes in ``folder``."""

    def __init__(self, folder: str, side: int, sides: int):
        if not 0 <= side < sides or sides < 2:
            raise TandemError(f"tandem side {side} of {sides}: need 0 <= side < sides, sides >= 2")
        self.folder, self.side, self.sides = folder, side, sides
        # read-write: opening never blocks, and the pipe never reads end-of-file
        self.fd = os.open(pipe_path(folder, side), os.O_RDWR)
        self.buffer = b""
        self.turn_times: list[tuple[float, float]] = []
        self.waited = 0.0

    @classmethod
    def from_task(cls, spec: dict | None) -> Baton | None:
        return cls(spec["dir"], int(spec["side"]), int(spec["sides"])) if spec else None

    def close(self) -> None:
        os.close(self.fd)

    def turns(self, count: int) -> Iterator[None]:
        """Yield once for each sweep this side runs, at least ``count`` of them. Every side keeps
        taking its turns until all have their count, so all sides sweep over the same span."""
        next_side = (self.side + 1) % self.sides
        done: set[int] = set()
        swept, first = 0, self.side == 0
        if first:
            for _ in range(self.sides - 1):
                self._expect("ready")
        else:
            send(self.folder, 0, {"ready": self.side})
        while True:
            if not first:
                message = self._expect("turn", "stop")
                if "stop" in message:
                    if next_side != message["stop"]:
                        send(self.folder, next_side, message)
                    return
                done = set(message["turn"])
            start = time.monotonic()
            for _ in range(1 if first else SWEEPS_PER_TURN):
                yield
                swept += 1
            self.turn_times.append((start, time.monotonic()))
            first = False
            if swept >= count:
                done.add(self.side)
            if len(done) == self.sides:
                send(self.folder, next_side, {"stop": self.side})
                return
            send(self.folder, next_side, {"turn": sorted(done)})

    def record(self) -> dict:
        """What the payload says of the tandem: the turns' start and end (monotonic clock, the
        same for every process on the machine) and the seconds spent waiting for the turn."""
        return {"side": self.side, "sides": self.sides, "turns": self.turn_times,
                "waited_s": self.waited}  # fmt: skip

    def _expect(self, *kinds: str) -> dict:
        message = self._receive()
        if "abandon" in message:
            raise TandemError(f"tandem round abandoned: {message['abandon']}")
        if not any(kind in message for kind in kinds):
            raise TandemError(f"tandem side {self.side} expected {kinds}, got {message}")
        return message

    def _receive(self) -> dict:
        started = time.monotonic()
        while b"\n" not in self.buffer:
            select.select([self.fd], [], [])
            self.buffer += os.read(self.fd, 4096)
        line, self.buffer = self.buffer.split(b"\n", 1)
        self.waited += time.monotonic() - started
        return json.loads(line)


def run_together(
    jobs: list[J],
    execute: Callable[..., R],
    finish: Callable[[J, R], R],
    failed: Callable[[R], str | None],
    stop: Callable[[], object],
) -> list[R]:
    """Run ``execute(job, tandem=spec)`` for every job at once, in threads, as one tandem, and
    ``finish(job, result)`` each as it ends (saving it: an interruption loses nothing finished).
    When one ends with ``failed(result)`` naming why, the others are told to give up instead of
    waiting for its turn. On Ctrl-C, ``stop()`` kills the workers; finished ones are still kept.
    Returns what ``finish`` returned, in job order."""
    finished: dict[int, R] = {}
    with (
        tempfile.TemporaryDirectory(prefix="tfopt-tandem-") as folder,
        _pipes(folder, len(jobs)),
        futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool,
    ):
        running = {pool.submit(execute, job, tandem={"dir": folder, "side": side,
                                                      "sides": len(jobs)}): side
                   for side, job in enumerate(jobs)}  # fmt: skip
        try:
            _collect(running, jobs, folder, finish, failed, finished)
        except KeyboardInterrupt:
            _stop(running, jobs, finish, failed, stop, finished)
            raise
    return [finished[side] for side in range(len(jobs))]


@contextlib.contextmanager
def _pipes(folder: str, sides: int) -> Iterator[None]:
    """One named pipe per side, held open here for the whole round: a message written to a pipe
    that no process holds open is lost (a side may say "ready" before the other opened its own)."""
    held = []
    try:
        for side in range(sides):
            os.mkfifo(pipe_path(folder, side), 0o600)
            held.append(os.open(pipe_path(folder, side), os.O_RDWR))
        yield
    finally:
        for fd in held:
            os.close(fd)


def _collect(running: dict[futures.Future, int], jobs: list[J], folder: str,
             finish: Callable[[J, R], R], failed: Callable[[R], str | None],
             finished: dict[int, R]) -> None:  # fmt: skip
    for future in futures.as_completed(running):
        side = running[future]
        result = future.result()
        finished[side] = finish(jobs[side], result)
        reason = failed(result)
        if reason is None:
            continue
        for other in set(running.values()) - finished.keys():
            with contextlib.suppress(OSError):
                send(folder, other, {"abandon": f"side {side} failed: {reason}"})


def _stop(running: dict[futures.Future, int], jobs: list[J], finish: Callable[[J, R], R],
          failed: Callable[[R], str | None], stop: Callable[[], object],
          finished: dict[int, R]) -> None:  # fmt: skip
    """Kill every worker still running (again until all have ended: a second Ctrl-C meanwhile
    only repeats the kill) and keep those that completed; a killed one is measured on rerun."""
    pending = {future: side for future, side in running.items() if side not in finished}
    while pending:
        try:
            stop()
            done, _ = futures.wait(pending, timeout=0.2)
            for future in done:
                side, result = pending.pop(future), future.result()
                if failed(result) is None:
                    finished[side] = finish(jobs[side], result)
        except KeyboardInterrupt:
            continue
