"""Progress lines with an ETA, on stderr so ``--json`` output on stdout stays clean."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Counts finished units of work and estimates the rest from their mean duration.

    ``total`` changes as work is found (a config edit, a tuning step); ``expected`` is a floor
    set by a caller that knows the whole plan, so the ETA covers the phases not started yet.
    """

    def __init__(self, total: int, stream: TextIO | None = None, clock=time.monotonic):
        self.total, self.done, self.expected = total, 0, 0
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.started = clock()
        self._spent = 0.0

    def set_total(self, total: int) -> None:
        self.total = max(total, self.done)

    def eta(self) -> float | None:
        if not self.done:
            return None
        return self._spent / self.done * max(self.planned - self.done, 0)

    @property
    def planned(self) -> int:
        return max(self.total, self.expected)

    def advance(self, what: str, seconds: float, units: int = 1) -> None:
        self.done += units
        self._spent += seconds
        self.note(f"{what} ({seconds:.1f} s)")

    def note(self, message: str) -> None:
        eta = self.eta()
        elapsed = format_duration(self.clock() - self.started)
        eta_text = "ETA --:--" if eta is None else f"ETA {format_duration(eta)}"
        print(
            f"[{self.done}/{self.planned}] {message} | elapsed {elapsed} | {eta_text}",
            file=self.stream,
            flush=True,
        )
