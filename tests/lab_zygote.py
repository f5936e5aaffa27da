"""A process that imports TensorFlow once, then runs each requested lab in a forked child.

The reliability tests start many real labs and kill them at chosen moments; forked from here, a
lab and its forked workers find TensorFlow already imported (no runtime started), so each lab
costs a fraction of a second instead of a TensorFlow import per worker.

Protocol, one JSON line each way: ``{"argv": [...], "log": PATH, "signal": N | null,
"after": SECONDS, "once": {"glob": PATTERN, "count": N} | null}`` -> ``{"pid": N,
"exit": CODE | null, "killed_by": N | null, "sent": BOOL}``. The lab's stdout and stderr go to
``log``; with ``signal``, it is sent ``after`` seconds unless the lab already ended (``sent`` says
whether it was). With ``once``, those seconds count from the moment ``count`` files match the
glob, so a kill lands at a point of the lab's progress rather than of the machine's speed.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import sys
import time

import tensorflow  # noqa: F401  (imported once, here, for every lab forked below)
from tfopt.cli import main


def serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(run_lab(request)), flush=True)


def run_lab(request: dict) -> dict:
    pid = os.fork()
    if pid == 0:
        _lab(request["argv"], request["log"])
    status, sent = None, False
    if request.get("signal"):
        if request.get("once"):
            status = _wait_for_files(pid, request["once"]["glob"], request["once"]["count"])
        deadline = time.monotonic() + request["after"]
        while status is None and time.monotonic() < deadline:
            status = _poll(pid)
            time.sleep(0.005)
        if status is None:
            os.kill(pid, request["signal"])
            sent = True
    if status is None:
        status = os.waitpid(pid, 0)[1]
    return {
        "pid": pid,
        "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "killed_by": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "sent": sent,
    }


def _wait_for_files(pid: int, pattern: str, count: int) -> int | None:
    """Wait until ``count`` files match ``pattern`` or the lab ends (then its status)."""
    while len(glob.glob(pattern)) < count:
        status = _poll(pid)
        if status is not None:
            return status
        time.sleep(0.01)
    return None


def _poll(pid: int) -> int | None:
    done, status = os.waitpid(pid, os.WNOHANG)
    return status if done else None


def _lab(argv: list[str], log: str) -> None:
    code = 1
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        code = main(argv)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    serve()
