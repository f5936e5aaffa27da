"""Zygotes: one long-lived process per (interpreter, environment) that imports heavy modules once
(``preload``, e.g. TensorFlow, never starting its runtime) and forks a fresh trial child per
request, so a trial skips the import and still starts with exactly the knobs of its environment.

The lab side (`Zygote`, `zygote_for`) keeps at most `MAX_IDLE` idle zygotes; `close_all` ends
them (also at exit). A zygote ends by itself when the process that started it ends (it watches
it through a pidfd and its control socket), killing the trial children it still has, and each
child dies with the zygote (parent-death signal): no process outlives the lab.

Protocol (``python -m tuner.zygote MODULE...``, its stdin a ``SOCK_SEQPACKET`` socket, one JSON
message per packet). The zygote first sends ``{"protocol": 1, "ready": true, "pid": N,
"import_seconds": S, "errors": {module: reason}}``. Each request is ``{"task": <a tuner.worker
spawn task>, "confinement": <base64 pickle of the trial's Confinement>, "affinity": [cores]}``
with three file descriptors attached: a reply socket, the write end of the result pipe and the
child's stderr. The zygote forks; the child joins its own process group and its confinement,
runs the task and writes its result record to the pipe (as a forked trial does); the reply socket
gets ``{"pid": N}`` at once and ``{"pid": N, "status": WAIT_STATUS, "maxrss": KIB}`` once the
child is reaped (anything left in its process group is killed first).
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
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from importlib import import_module

from tuner import worker
from tuner.child import STOP_SIGNALS, as_trial_child, setup_failure, write_and_exit

PROTOCOL = 1
#: Idle zygotes kept beyond this many are ended, least recently used first (each holds the
#: preloaded modules in memory).
MAX_IDLE = 4
_START_TIMEOUT = 300.0
_MESSAGE = 1 << 20


class ZygoteError(RuntimeError):
    """A zygote could not be started or could not fork (the trial then starts as usual)."""


# --- the lab's side ------------------------------------------------------------------------------


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
                [python, "-m", "tuner.zygote", str(os.getpid()), *self.preload],
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
            message = _loads(self.control.recv(_MESSAGE)) if ready else None
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
            started = _loads(reply.recv(_MESSAGE))
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
        message = _loads(reply.recv(_MESSAGE))
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


def _loads(data: bytes) -> dict | None:
    try:
        message = json.loads(data) if data else None
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def dumps_confinement(confinement: object) -> str:
    try:
        return base64.b64encode(pickle.dumps(confinement, protocol=4)).decode()
    except Exception as exc:
        raise ZygoteError(f"the trial's confinement cannot be sent to a zygote: {exc}") from None


# --- the zygote's side ---------------------------------------------------------------------------


class _Server:
    def __init__(self, control: socket.socket, lab_pid: int, import_seconds: float) -> None:
        self.control, self.import_seconds = control, import_seconds
        self.lab = os.pidfd_open(lab_pid)
        self.children: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, reply)

    def serve(self) -> None:
        try:
            while True:
                watched: list[socket.socket | int] = [self.control, self.lab, *self.children]
                ready, _, _ = select.select(watched, [], [])
                if self.lab in ready or (self.control in ready and not self._request()):
                    return
                for pidfd in ready:
                    if pidfd in self.children:
                        self._reap(pidfd)
        finally:
            self._kill_children()

    def _request(self) -> bool:
        """Fork for one request; False when the lab closed the control socket."""
        data, fds, _, _ = socket.recv_fds(self.control, _MESSAGE, 3)
        if not data:
            return False
        reply = socket.socket(fileno=fds[0])
        try:
            pid = os.fork()
        except OSError as exc:
            pid = -1
            _send(reply, {"error": f"fork failed: {exc}"})
        if pid == 0:
            reply.close()
            self._child(_loads(data) or {}, fds[1], fds[2])
        os.close(fds[1])
        os.close(fds[2])
        if pid < 0:
            reply.close()
            return True
        with contextlib.suppress(OSError):  # the child may have done it, or already exited
            os.setpgid(pid, pid)
        self.children[os.pidfd_open(pid)] = (pid, reply)
        _send(reply, {"pid": pid})
        return True

    def _child(self, request: dict, result_fd: int, stderr_fd: int) -> None:
        """The trial child: never returns."""
        result = worker.record("fail", reason="the child failed before running the trial")
        try:
            self._close_inherited()
            os.setpgid(0, 0)
            as_trial_child()
            signal.signal(signal.SIGINT, signal.default_int_handler)
            if request.get("affinity"):
                os.sched_setaffinity(0, request["affinity"])
            pickle.loads(base64.b64decode(request["confinement"])).enter_child()
            os.dup2(stderr_fd, 2)
            os.close(stderr_fd)
            worker.set_start("zygote", self.import_seconds)
            result = worker.run_task(request["task"])
        except BaseException as exc:  # noqa: B036 - the child must always reach os._exit
            result = setup_failure(exc)
        finally:
            write_and_exit(result_fd, result)

    def _close_inherited(self) -> None:
        self.control.close()
        os.close(self.lab)
        for pidfd, (_, reply) in self.children.items():
            os.close(pidfd)
            reply.close()

    def _reap(self, pidfd: int) -> None:
        """As `tuner.process` reaps: wait (leaving a zombie, so the group id stays ours), kill
        what the child left in its group, reap, and report."""
        pid, reply = self.children.pop(pidfd)
        os.close(pidfd)
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        _, status, rusage = os.wait4(pid, 0)
        _send(reply, {"pid": pid, "status": status, "maxrss": rusage.ru_maxrss})
        reply.close()

    def _kill_children(self) -> None:
        for pidfd in list(self.children):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.children[pidfd][0], signal.SIGKILL)
            self._reap(pidfd)


def _send(reply: socket.socket, message: dict) -> None:
    with contextlib.suppress(OSError):  # the lab's side gave up on this trial: nothing to tell
        reply.send(json.dumps(message).encode())


def _preload(modules: Sequence[str]) -> tuple[float, dict[str, str]]:
    """Import each module; an import error is kept for the record (the trial meets it again)."""
    errors = {}
    started = time.perf_counter()
    for name in modules:
        try:
            import_module(name)
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
    return time.perf_counter() - started, errors


def main(argv: Sequence[str]) -> int:
    lab_pid, *modules = argv
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # held by the lab while it started us
    control = socket.socket(fileno=os.dup(0))
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the lab stops us by closing the socket
    if os.getppid() != int(lab_pid):
        return 1  # the lab is already gone
    seconds, errors = _preload(modules)
    server = _Server(control, int(lab_pid), seconds)
    _send(control, {"protocol": PROTOCOL, "ready": True, "pid": os.getpid(),
                    "import_seconds": seconds, "errors": errors})  # fmt: skip
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
