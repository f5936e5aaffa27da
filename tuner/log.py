"""The trial log: one JSON line per finished trial, appended and flushed as each one ends, so a
crash or Ctrl-C loses nothing; a rerun with the same log reuses every finished trial.

The first line is a header naming the search space, the strategy, its seed and, when the caller
gives one, the objective's key (whatever changes what the objective measures: workload, sizes,
limits, environment...); a log written for another space, by another strategy or for another
objective is refused, naming the difference, rather than silently mixed in. A rerun reads the
seed back (`TrialLog.seed`), so a seeded strategy asks for the same configurations again.
Interrupted trials are recorded but never reused.

Every append starts on a fresh line, so a line cut short by a crash never swallows the next
trial; opening a log drops such a cut last line (saying so on stderr: that trial runs again) and
refuses any other broken line, naming the file and the line.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tuner.outcome import TrialStatus
from tuner.space import Space
from tuner.trial import Trial

FORMAT = 1


class TrialLog:
    """The log of one search by ``strategy`` (a strategy's name) over ``space``.

    A new log records ``seed`` in its header; an existing one keeps the seed it was started with,
    which ``self.seed`` then holds (None in logs written before seeds were recorded). ``key``
    (JSON data) identifies the objective; an existing log with another key is refused.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        space: Space,
        strategy: str,
        seed: int | None,
        key: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.space, self.strategy, self.seed = space, strategy, seed
        self.key = json.loads(json.dumps(key)) if key is not None else None  # as the log holds it
        self.finished: dict[tuple[str, int], Trial] = {}
        if self.path.exists() and self.path.stat().st_size > 0:
            self._load()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._append(
                {"kind": "header", "format": FORMAT, "space": space.as_dict(),
                 "strategy": strategy, "seed": seed, "key": self.key}
            )  # fmt: skip

    def _load(self) -> None:
        data = self.path.read_bytes()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):  # no newline at the end: the last line was cut short by a crash
            cut = data.count(b"\n") + 1
            print(f"{self.path} line {cut} was cut short; dropped, that trial runs again",
                  file=sys.stderr)  # fmt: skip
            os.truncate(self.path, complete)
        lines = data[:complete].decode(errors="replace").split("\n")[:-1]
        self._read_header(self._parse(lines[0], 1) if lines else {})
        for number, line in enumerate(lines[1:], start=2):
            if line.strip():
                self._keep(self._parse(line, number), number)

    def _parse(self, line: str, number: int) -> dict:
        try:
            data = json.loads(line)
        except ValueError as err:
            raise ValueError(f"{self.path} line {number} is not a JSON record: {err}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{self.path} line {number} is not a JSON object")
        return data

    def _keep(self, data: dict, number: int) -> None:
        try:
            trial = Trial.from_dict(data)
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{self.path} line {number} is not a trial: {err!r}") from None
        if trial.status is not TrialStatus.INTERRUPTED:
            self.finished[(self.space.key(trial.config), trial.repeat)] = trial

    def _read_header(self, header: dict) -> None:
        """Refuse a log of another kind, space, strategy or objective; take its seed."""
        if header.get("kind") != "header" or header.get("format") != FORMAT:
            raise ValueError(f"{self.path} is not a tuner trial log (format {FORMAT})")
        self._check_key(header.get("key"))
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

    def _check_key(self, logged: Any) -> None:
        if logged == self.key:
            return
        if not isinstance(logged, dict) or not isinstance(self.key, dict):
            differences = f"logged {logged!r}, now {self.key!r}"
        else:
            names = sorted(k for k in {*logged, *self.key} if logged.get(k) != self.key.get(k))
            differences = "; ".join(
                f"{k}: logged {logged.get(k)!r}, now {self.key.get(k)!r}" for k in names
            )
        raise ValueError(
            f"{self.path} was written for another objective ({differences}): its trials do not "
            "measure this one; use another log file"
        )

    def lookup(self, config: dict, repeat: int) -> Trial | None:
        return self.finished.get((self.space.key(config), repeat))

    def append(self, trial: Trial) -> None:
        self._append({"kind": "trial", **trial.as_dict()})

    def _append(self, record: dict) -> None:
        with self.path.open("ab+") as out:
            out.seek(0, os.SEEK_END)
            fresh = out.tell() == 0 or _last_byte(out) == b"\n"
            out.write((b"" if fresh else b"\n") + json.dumps(record).encode() + b"\n")
            out.flush()
            os.fsync(out.fileno())


def _last_byte(handle) -> bytes:
    handle.seek(-1, os.SEEK_END)
    byte = handle.read(1)
    handle.seek(0, os.SEEK_END)
    return byte
