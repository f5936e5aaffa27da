"""The trial log: one JSON line per finished trial, appended and flushed as each one ends, so a
crash or Ctrl-C loses nothing; a rerun with the same log reuses every finished trial.

The first line is a header naming the search space, the strategy and its seed; a log written for
another space or by another strategy is refused rather than silently mixed in, and a rerun reads
the seed back (`TrialLog.seed`), so a seeded strategy asks for the same configurations again.
Interrupted trials are recorded but never reused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tuner.outcome import TrialStatus
from tuner.space import Space
from tuner.trial import Trial

FORMAT = 1


class TrialLog:
    """The log of one search by ``strategy`` (a strategy's name) over ``space``.

    A new log records ``seed`` in its header; an existing one keeps the seed it was started with,
    which ``self.seed`` then holds (None in logs written before seeds were recorded).
    """

    def __init__(
        self, path: str | os.PathLike, space: Space, strategy: str, seed: int | None
    ) -> None:
        self.path = Path(path)
        self.space, self.strategy, self.seed = space, strategy, seed
        self.finished: dict[tuple[str, int], Trial] = {}
        if self.path.exists() and self.path.stat().st_size > 0:
            self._load()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._append(
                {"kind": "header", "format": FORMAT, "space": space.as_dict(),
                 "strategy": strategy, "seed": seed}
            )  # fmt: skip

    def _load(self) -> None:
        lines = self.path.read_text().splitlines()
        self._read_header(json.loads(lines[0]))
        for line in lines[1:]:
            if not line.strip():
                continue
            try:
                trial = Trial.from_dict(json.loads(line))
            except (ValueError, KeyError):
                continue  # a line cut short by a crash: that trial simply runs again
            if trial.status is not TrialStatus.INTERRUPTED:
                self.finished[(self.space.key(trial.config), trial.repeat)] = trial

    def _read_header(self, header: dict) -> None:
        """Refuse a log of another kind, space or strategy; take its seed."""
        if header.get("kind") != "header" or header.get("format") != FORMAT:
            raise ValueError(f"{self.path} is not a tuner trial log (format {FORMAT})")
        if header["space"] != self.space.as_dict():
            raise ValueError(
                f"{self.path} was written for the space {header['space']}, not "
                f"{self.space.as_dict()}: use another log file"
            )
        logged = header.get("strategy", self.strategy)  # older logs did not name it
        if logged != self.strategy:
            raise ValueError(
                f"{self.path} was written by the {logged!r} strategy, not {self.strategy!r}: "
                f"resume with strategy={logged!r} or use another log file"
            )
        self.seed = header.get("seed")

    def lookup(self, config: dict, repeat: int) -> Trial | None:
        return self.finished.get((self.space.key(config), repeat))

    def append(self, trial: Trial) -> None:
        self._append({"kind": "trial", **trial.as_dict()})

    def _append(self, record: dict) -> None:
        with self.path.open("a") as out:
            out.write(json.dumps(record) + "\n")
            out.flush()
            os.fsync(out.fileno())
