"""Zygotes: one long-lived process per (interpreter, environment) that imports heavy modules once
(``preload``, e.g. TensorFlow, never starting its runtime) and forks a fresh trial child per
request, so a trial skips the import and still starts with exactly the knobs of its environment.

The lab side (`Zygote`, `zygote_for`) keeps at most `MAX_IDLE` idle zygotes; `close_all` ends
them (also at exit). A zygote ends by itself when the process that started it ends (it watches
it through a pidfd and its control socket), killing the trial children it still has, and each
child dies with the zygote (parent-death signal): no process outlives the lab.

The zygote process itself, and the protocol between the two, are in `tuner.zygote_server`
(``python -m tuner.zygote_server LAB_PID MODULE...``).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import pickle
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence

from tuner.child import STOP_SIGNALS
from tuner.zygote_server import MESSAGE_BYTES, loads

#: Idle zygotes kept beyond this many are ended, least recently used first (each holds the
#: preloaded modules in memory).
MAX_IDLE = 4
_START_TIMEOUT = 300.0


class ZygoteError(RuntimeError):
    """A zygote could not be started or could not fork (the trial then starts as usual)."""


class Zygote:
    """A running zygote: ``fork`` sends it one trial; ``close`` ends it and its children."""

    def __init__(self, python: str, env: Mapping[str, str], preload: Sequence[str]) -> None:
        self.python, self.preload = python, tuple(preload)
        self.busy, self.last_used = 0, time.monotonic()
        self._send_lock = threading.Lock()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - kept until close()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # a stop that lands inside Popen would lose the started process: held until we have it
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self.proc = subprocess.Popen(
                [python, "-m", "tuner.zygote_server", str(os.getpid()), *self.preload],
                stdin=theirs.fileno(), stdout=subprocess.DEVNULL, stderr=self._stderr,
                env=dict(env),
                start_new_session=True,  # the terminal's Ctrl-C reaches the lab alone
            )  # fmt: skip
        except OSError as exc:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            ours.close()
            raise ZygoteError(f"the zygote ({python}) could not start: {exc}") from None
        finally:
            theirs.close()
        self.control = ours
        self.ready = self._wait_ready(held)
        self.import_seconds = float(self.ready.get("import_seconds") or 0.0)

    def _wait_ready(self, held: set) -> dict:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a stop sent meanwhile lands here
            ready, _, _ = select.select([self.control], [], [], _START_TIMEOUT)
            message = loads(self.control.recv(MESSAGE_BYTES)) if ready else None
        except BaseException:  # Ctrl-C while it imports: do not wait for the import
            self.proc.kill()
            self.close()
            raise
        if not message or not message.get("ready"):
            self.close()
            raise ZygoteError(f"the zygote ({self.python}) did not start{self._stderr_tail()}")
        return message

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        tail = self._stderr.read().decode(errors="replace")[-2000:].strip()
        return f"; stderr ends with:\n{tail}" if tail else ""

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def fork(self, request: dict, result_fd: int, stderr_fd: int) -> tuple[int, socket.socket]:
        """Ask for one trial child; its pid and the socket its exit will be reported on."""
        reply, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with self._send_lock, theirs:  # closed at once: a zygote that dies means EOF here
                socket.send_fds(self.control, [json.dumps(request).encode()],
                                [theirs.fileno(), result_fd, stderr_fd])  # fmt: skip
            started = loads(reply.recv(MESSAGE_BYTES))
        except OSError as exc:
            reply.close()
            raise ZygoteError(f"the zygote is gone: {exc}") from None
        if not started or "pid" not in started:
            reply.close()
            error = (started or {}).get("error", "it ended")
            raise ZygoteError(f"the zygote could not fork: {error}{self._stderr_tail()}")
        return started["pid"], reply

    def close(self) -> None:
        """End the zygote (it kills the trial children it still has) and reap it."""
        with contextlib.suppress(OSError):
            self.control.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


def wait_exit(reply: socket.socket) -> tuple[int | None, int]:
    """The child's wait status and peak RSS in bytes, once its zygote reaped it; ``(None, 0)``
    if the zygote ended first. Blocks; Ctrl-C passes through."""
    with reply:
        message = loads(reply.recv(MESSAGE_BYTES))
    if not message or "status" not in message:
        return None, 0
    return message["status"], int(message.get("maxrss") or 0) * 1024


_ZYGOTES: dict[tuple, Zygote] = {}
_FAILED: dict[tuple, str] = {}
_POOL_LOCK = threading.Lock()


def zygote_for(python: str, env: Mapping[str, str], preload: Sequence[str]) -> Zygote:
    """The zygote of this interpreter, full environment and preload, started on first use
    (blocking until its imports are done); mark it busy until `release`. A zygote that failed
    to start is not tried again: ZygoteError, with the first failure's reason."""
    key = (python, tuple(sorted(env.items())), tuple(preload))
    with _POOL_LOCK:
        if key in _FAILED:
            raise ZygoteError(_FAILED[key])
        zygote = _ZYGOTES.get(key)
        if zygote is None or not zygote.alive:
            try:
                zygote = _ZYGOTES[key] = Zygote(python, env, preload)
            except ZygoteError as exc:
                _FAILED[key] = str(exc)
                raise
        zygote.busy += 1
        _end_idle(keep=zygote)
    return zygote


def release(zygote: Zygote) -> None:
    with _POOL_LOCK:
        zygote.busy -= 1
        zygote.last_used = time.monotonic()


def _end_idle(keep: Zygote) -> None:
    idle = sorted((z.last_used, key) for key, z in _ZYGOTES.items() if not z.busy and z is not keep)
    for _, key in idle[: max(0, len(_ZYGOTES) - MAX_IDLE)]:
        _ZYGOTES.pop(key).close()


def close_all() -> int:
    """End every zygote of this process (their trial children too); returns how many."""
    with _POOL_LOCK:
        zygotes = list(_ZYGOTES.values())
        _ZYGOTES.clear()
        _FAILED.clear()
    for zygote in zygotes:
        zygote.close()
    return len(zygotes)


atexit.register(close_all)


def dumps_confinement(confinement: object) -> str:
    try:
        return base64.b64encode(pickle.dumps(confinement, protocol=4)).decode()
    except Exception as exc:
        raise ZygoteError(f"the trial's confinement cannot be sent to a zygote: {exc}") from None
