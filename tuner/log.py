"""The trial log: one JSON line per finished trial, appended and flushed as each one ends, so a
crash or Ctrl-C loses nothing; a rerun with the same log reuses every finished trial.

The first line is a header naming the search space; a log written for another space is refused
rather than silently mixed in. Interrupted trials are recorded but never reused.
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
    def __init__(self, path: str | os.PathLike, space: Space) -> None:
        self.path = Path(path)
        self.space = space
        self.finished: dict[tuple[str, int], Trial] = {}
        if self.path.exists() and self.path.stat().st_size > 0:
            self._load()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._append({"kind": "header", "format": FORMAT, "space": space.as_dict()})

    def _load(self) -> None:
        lines = self.path.read_text().splitlines()
        header = json.loads(lines[0])
        if header.get("kind") != "header" or header.get("format") != FORMAT:
            raise ValueError(f"{self.path} is not a tuner trial log (format {FORMAT})")
        if header["space"] != self.space.as_dict():
            raise ValueError(
                f"{self.path} was written for the space {header['space']}, not "
                f"{self.space.as_dict()}: use another log file"
            )
        for line in lines[1:]:
            if not line.strip():
                continue
            try:
                trial = Trial.from_dict(json.loads(line))
            except (ValueError, KeyError):
                continue  # a line cut short by a crash: that trial simply runs again
            if trial.status is not TrialStatus.INTERRUPTED:
                self.finished[(self.space.key(trial.config), trial.repeat)] = trial

    def lookup(self, config: dict, repeat: int) -> Trial | None:
        return self.finished.get((self.space.key(config), repeat))

    def append(self, trial: Trial) -> None:
        self._append({"kind": "trial", **trial.as_dict()})

    def _append(self, record: dict) -> None:
        with self.path.open("a") as out:
            out.write(json.dumps(record) + "\n")
            out.flush()
            os.fsync(out.fileno())
