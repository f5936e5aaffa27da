"""Live edits: a config file re-read when it changes, so edits add or drop pending permutations."""

from __future__ import annotations

from pathlib import Path

from .matrix_keys import ConfigError, Matrix
from .matrix_load import load


class LiveConfig:
    """A config file re-read when it changes, so edits add or drop pending permutations."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config: Matrix = load(self.path)
        self._stamp = self._current_stamp()
        self.last_error: str | None = None

    def _current_stamp(self) -> tuple[float, int]:
        stat = self.path.stat()
        return stat.st_mtime, stat.st_size

    def refresh(self) -> bool:
        """Reload if the file changed; a broken edit keeps the old config and sets last_error."""
        try:
            stamp = self._current_stamp()
        except FileNotFoundError:
            self.last_error = f"config file {self.path} disappeared; keeping the loaded config"
            return False
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            self.config = load(self.path)
        except ConfigError as err:
            self.last_error = f"ignoring the edit of {self.path}: {err}"
            return False
        self.last_error = None
        return True
