"""Process groups, the result pipe and ``wait4``: the system calls every child trial ends with."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Callable
from typing import Any


def read_until_eof(fd: int, deadline: float | None) -> bytes | None:
    """Everything the child writes until it closes its end; None if the deadline passes first."""
    chunks: list[bytes] = []
    while True:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def set_group(pid: int) -> None:
    """Also set the group from the parent, so a kill right after fork cannot miss the child."""
    with contextlib.suppress(OSError):  # the child already did it (or already exec'd)
        os.setpgid(pid, pid)


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def reap(pid: int) -> tuple[int, Any]:
    """Wait for the child, kill anything it left in its group, then reap it.

    The exited child stays a zombie until ``wait4``, so its group id cannot be reused by an
    unrelated process while we kill the group. Ctrl-C meanwhile is re-raised once it is reaped.
    """
    waited: list = []
    interrupted = wait_through_ctrl_c(
        pid, lambda: os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    )
    kill_group(pid)
    interrupted |= wait_through_ctrl_c(pid, lambda: waited.append(os.wait4(pid, 0)))
    if interrupted:
        raise KeyboardInterrupt
    _, status, rusage = waited[0]
    return status, rusage


def wait_through_ctrl_c(pid: int, wait: Callable[[], Any]) -> bool:
    """Run ``wait`` to completion even through Ctrl-C (killing the child); True if interrupted."""
    interrupted = False
    while True:
        try:
            wait()
            return interrupted
        except KeyboardInterrupt:
            interrupted = True
            kill_group(pid)
