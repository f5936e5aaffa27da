"""What every trial child does first and last, however it was started (forked here, spawned, or
forked by a zygote): die with its parent, take the default stop signals, and leave through
``os._exit`` after writing its result record."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
from collections.abc import Callable
from typing import NoReturn

from tuner import worker

#: Ctrl-C, SIGTERM and SIGHUP: held by a parent while a child starts, received by the child.
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
_PR_SET_PDEATHSIG = 1
_PRCTL: Callable[..., int] | None
try:  # resolved here, not in the child: dlopen after fork can deadlock on the loader's lock
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: no parent-death signal
    _PRCTL = None


def as_trial_child() -> None:
    """In the child: die with the process that started it (Linux ``PR_SET_PDEATHSIG``), so a lab
    killed with ``kill -9`` leaves no orphan measuring on; take the default SIGTERM/SIGHUP
    actions rather than the parent's handlers, and receive the signals the parent held."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


def setup_failure(exc: BaseException) -> dict:
    return worker.record("fail", reason=f"setting up the child: {worker.describe(exc)}")


def write_and_exit(write_fd: int, result: dict) -> NoReturn:
    try:
        flush_std_streams()
        data = json.dumps(result).encode()
        while data:
            data = data[os.write(write_fd, data) :]
    finally:
        os._exit(0)


def flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed or broken: nothing to keep
            stream.flush()
