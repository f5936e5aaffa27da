"""The zygote process (`tuner.zygote` is the lab's side): ``python -m tuner.zygote_server LAB_PID
MODULE...`` imports the modules once, then forks a trial child per request and reaps it.

Protocol (its stdin a ``SOCK_SEQPACKET`` socket, one JSON message per packet). The zygote first
sends ``{"protocol": 1, "ready": true, "pid": N, "import_seconds": S, "errors": {module:
reason}}``. Each request is ``{"task": <a tuner.worker spawn task>, "confinement": <base64 pickle
of the trial's Confinement>, "affinity": [cores]}`` with three file descriptors attached: a reply
socket, the write end of the result pipe and the child's stderr. The zygote forks; the child joins
its own process group and its confinement, runs the task and writes its result record to the pipe
(as a forked trial does); the reply socket gets ``{"pid": N}`` at once and ``{"pid": N, "status":
WAIT_STATUS, "maxrss": KIB}`` once the child is reaped (anything left in its process group is
killed first). The zygote ends when the lab closes the control socket or the lab's process ends
(watched through a pidfd), killing the children it still has.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pickle
import select
import signal
import socket
import sys
import time
from collections.abc import Sequence
from importlib import import_module

from tuner import worker
from tuner.child import STOP_SIGNALS, as_trial_child, setup_failure, write_and_exit

PROTOCOL = 1
#: The largest message either side reads.
MESSAGE_BYTES = 1 << 20


def loads(data: bytes) -> dict | None:
    """One message; None for an empty packet (the other side closed) or one that is not a dict."""
    try:
        message = json.loads(data) if data else None
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


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
        data, fds, _, _ = socket.recv_fds(self.control, MESSAGE_BYTES, 3)
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
            self._child(loads(data) or {}, fds[1], fds[2])
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
