"""The ask/tell interface every search strategy implements (one strategy per module).

The runner *asks* for a configuration, measures it in a child process, and *tells* the value
back; strategies never run anything themselves, so all state stays in the parent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator, Mapping
from typing import Any, ClassVar

from tuner.space import Space

#: A search written as a generator: it yields configurations and is sent their values.
Search = Generator[dict, float, None]


class Strategy(ABC):
    """Subclass, set ``name``, implement ``ask`` and ``tell``; register in ``STRATEGIES``."""

    name: ClassVar[str]

    def __init__(
        self, space: Space, seed: int | None = None, start: Mapping[str, Any] | None = None
    ) -> None:
        self.space = space
        self.seed = seed
        self.start = space.validate(start) if start is not None else None

    @abstractmethod
    def ask(self) -> dict | None:
        """The next configuration to measure, or None when the search is over."""

    @abstractmethod
    def tell(self, config: dict, value: float) -> None:
        """The measured value (lower is better; +inf for a failed trial) of the last ``ask``."""


class GeneratorStrategy(Strategy):
    """A strategy whose search reads top to bottom as a generator (see `Search`)."""

    def __init__(self, space: Space, seed: int | None = None, start=None) -> None:
        super().__init__(space, seed, start)
        self._search = self.search()
        self._pending: dict | None = None
        self._started = False

    @abstractmethod
    def search(self) -> Search:
        """Yield configurations; each ``yield`` evaluates to the value measured for it."""

    def ask(self) -> dict | None:
        if not self._started:
            self._started = True
            self._pending = self._advance(None)
        return self._pending

    def tell(self, config: dict, value: float) -> None:
        if self._pending is None or self.space.key(config) != self.space.key(self._pending):
            raise ValueError(
                f"tell() got {config!r}, but the pending configuration is {self._pending!r}"
            )
        self._pending = self._advance(value)

    def _advance(self, value: float | None) -> dict | None:
        """The next configuration: the first one (``value`` None), or the one after ``value``."""
        try:
            return next(self._search) if value is None else self._search.send(value)
        except StopIteration:
            return None
