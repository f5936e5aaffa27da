"""A periodic memory trace for a worker's run log: RSS, peak RSS and top Python allocations.

Python allocation tracing (tracemalloc) slows Python code, so it runs while the model is built and
warmed up (where memory grows) and is stopped before the timed sweeps; RSS and peak keep being
logged throughout.
"""

from __future__ import annotations

import logging
import threading
import tracemalloc
from pathlib import Path

log = logging.getLogger("tfopt.memtrace")


def rss_and_peak(status: Path = Path("/proc/self/status")) -> tuple[int, int]:
    """Current and peak resident set size in bytes (VmRSS, VmHWM)."""
    values = {}
    for line in status.read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


class MemoryTrace:
    """Logs a snapshot every ``interval`` seconds from a daemon thread, and on demand."""

    def __init__(self, interval: float = 5.0, top: int = 5):
        self.interval, self.top = interval, top
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memtrace", daemon=True)

    def __enter__(self) -> MemoryTrace:
        if self.top:
            tracemalloc.start()
        self.snapshot("start")
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        self.snapshot("end")
        self.stop_tracing()

    def stop_tracing(self) -> None:
        if tracemalloc.is_tracing():
            tracemalloc.stop()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.snapshot("periodic")

    def snapshot(self, label: str) -> None:
        rss, peak = rss_and_peak()
        log.info("memory %s: rss=%.1f MiB peak=%.1f MiB", label, rss / 2**20, peak / 2**20)
        if not tracemalloc.is_tracing():
            return
        stats = tracemalloc.take_snapshot().statistics("lineno")[: self.top]
        for rank, stat in enumerate(stats, 1):
            log.info("memory %s top %d: %s", label, rank, stat)
