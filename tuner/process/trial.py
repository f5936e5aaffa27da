"""What every child trial shares, however it started: start it with the stop signals held, wait
for its result under the timeout, kill and reap it, and classify how it ended."""

from __future__ import annotations

import concurrent.futures as futures
import json
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from tuner import worker
from tuner.child import STOP_SIGNALS, flush_std_streams
from tuner.limits.base import Confinement
from tuner.outcome import TrialOutcome, TrialStatus
from tuner.process import reaping

_STDERR_TAIL = 4000
K = TypeVar("K")

#: pid -> the trial waiting for it, in whichever thread: what `stop_all_children` kills.
_LIVE: dict[int, ChildTrial] = {}
#: One child starts at a time: a child forked by one thread while another thread's new result pipe
#: still has its write end open here would inherit that end, and the other trial would then not
#: see its child's end of file until this child exits.
_STARTING = threading.Lock()


def stop_all_children() -> int:
    """Kill every trial child of this process now, from any thread; returns how many.

    Each trial then ends at once, as killed by SIGKILL, in the thread that waits for it: this is
    how a parallel lab stops its runs in flight on Ctrl-C or SIGTERM.
    """
    live = list(_LIVE.items())
    for pid, trial in live:
        trial.kill(pid)
    return len(live)


def stop_in_flight(pending: dict[futures.Future, K], keep: Callable[[K, Any], object],
                   kill: Callable[[], object] = stop_all_children) -> None:  # fmt: skip
    """On Ctrl-C or SIGTERM: ``kill()`` the runs in flight (``pending``: future -> its key),
    again until every one has ended, and ``keep(key, result)`` each that ended (one that
    completed before the kill is still saved). A second Ctrl-C meanwhile only repeats the kill."""
    pending = dict(pending)
    while pending:
        try:
            kill()  # again each time: a run may have started meanwhile
            done, _ = futures.wait(pending, timeout=0.2)
            for future in done:
                keep(pending.pop(future), future.result())
        except KeyboardInterrupt:
            continue


def _hold_stop_signals() -> set:
    """Hold Ctrl-C, SIGTERM and SIGHUP while a child starts; returns the mask to restore.

    A ``KeyboardInterrupt`` raised inside ``os.fork``'s at-fork callbacks is swallowed ("Exception
    ignored"), which would lose the stop; held, it arrives once the child is known and killable.
    """
    return signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def _release_stop_signals(held: set) -> None:
    signal.pthread_sigmask(signal.SIG_SETMASK, held)


class ChildTrial:
    """What forked and spawned trials share: waiting, killing, reaping and classifying."""

    confinement: Confinement

    def execute(self, timeout: float | None) -> TrialOutcome:
        flush_std_streams()
        start = time.monotonic()
        held = _hold_stop_signals()
        try:
            with _STARTING:
                pid, fd = self.start()
        except BaseException:
            _release_stop_signals(held)
            raise
        _LIVE[pid] = self
        try:
            return self._wait(pid, fd, start, timeout, held)
        finally:
            _LIVE.pop(pid, None)

    def _wait(
        self, pid: int, fd: int, start: float, timeout: float | None, held: set
    ) -> TrialOutcome:
        deadline = None if timeout is None else start + timeout
        try:
            _release_stop_signals(held)  # a stop sent while forking is raised here
            data = reaping.read_until_eof(fd, deadline)
        except BaseException:
            self.kill(pid)
            self.reap(pid)
            raise
        finally:
            os.close(fd)
        if data is None:
            self.kill(pid)
        status, peak_rss = self.reap(pid)
        outcome = self.classify(data, status, peak_rss, pid)
        outcome.wall_time = time.monotonic() - start
        return outcome

    def start(self) -> tuple[int, int]:
        raise NotImplementedError

    def reap(self, pid: int) -> tuple[int | None, int]:
        """The child's wait status and peak RSS in bytes, once it is reaped."""
        status, rusage = reaping.reap(pid)
        return status, rusage.ru_maxrss * 1024

    def kill(self, pid: int) -> None:
        """Kill the child's process group, then whatever the backend runs outside it."""
        reaping.kill_group(pid)
        self.confinement.stop()

    def result_record(self, data: bytes) -> dict | None:
        raise NotImplementedError

    def failure_detail(self) -> str:
        return ""

    def classify(
        self, data: bytes | None, wait_status: int | None, peak_rss: int, pid: int
    ) -> TrialOutcome:
        conf = self.confinement
        outcome = TrialOutcome(
            status=TrialStatus.FAIL,
            pid=pid,
            peak_rss=peak_rss,
            backend=conf.backend,
            enforced=dict(conf.enforced),
            warnings=list(conf.warnings),
        )
        record = self.result_record(data) if data else None
        if record is not None:
            _apply_record(outcome, record)
        elif data is None:
            outcome.status, outcome.reason = TrialStatus.TIMEOUT, "killed after the timeout"
        elif conf.oom_killed():
            outcome.status, outcome.reason = TrialStatus.OOM, "killed by the memory cap"
        else:
            outcome.status, outcome.reason = _ended_without_result(wait_status)
            outcome.reason += self.failure_detail()
        return outcome


class CapturedStderr(ChildTrial):
    """A child whose stderr goes to a file: its tail explains a child that died silently."""

    def execute(self, timeout: float | None) -> TrialOutcome:
        with tempfile.TemporaryFile() as self.stderr:
            return super().execute(timeout)

    def result_record(self, data: bytes) -> dict | None:
        lines = data.decode(errors="replace").strip().splitlines()
        return parse_record(lines[-1].encode()) if lines else None

    def failure_detail(self) -> str:
        self.stderr.seek(0)
        tail = self.stderr.read().decode(errors="replace")[-_STDERR_TAIL:].strip()
        return f"; stderr ends with:\n{tail}" if tail else ""


def parse_record(data: bytes) -> dict | None:
    try:
        record = json.loads(data)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("protocol") != worker.PROTOCOL:
        return None
    return record


def _apply_record(outcome: TrialOutcome, record: dict) -> None:
    outcome.status = TrialStatus(record.get("status", "fail"))
    outcome.payload = record.get("payload")
    outcome.value = record.get("value")
    outcome.reason = record.get("reason")
    outcome.pid = record.get("pid") or outcome.pid
    outcome.peak_rss = max(outcome.peak_rss or 0, record.get("peak_rss") or 0) or None


def _ended_without_result(wait_status: int | None) -> tuple[TrialStatus, str]:
    if wait_status is None:
        return TrialStatus.FAIL, "its zygote ended before reporting how it exited"
    if os.WIFSIGNALED(wait_status):
        sig = signal.Signals(os.WTERMSIG(wait_status))
        return TrialStatus.SIGNALLED, f"killed by {sig.name} before reporting a result"
    code = os.waitstatus_to_exitcode(wait_status)
    return TrialStatus.FAIL, f"exited with code {code} without reporting a result"
