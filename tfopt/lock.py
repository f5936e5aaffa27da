"""One lab per results folder: an exclusive lock (``fcntl`` record lock) on ``<out>/.tfopt.lock``,
which holds the owner's pid. The kernel releases the lock when the process ends, however it ends
(even ``kill -9``), so a stale lock file never blocks a rerun; unlike ``flock``, the lock is not
inherited by forked workers, so a worker outliving its lab cannot keep the folder locked.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from pathlib import Path

from .matrix import ConfigError

LOCK_NAME = ".tfopt.lock"
MIN_FREE_BYTES = 16 * 1024**2  # below this a run's logs and records may not fit


class FolderBusy(ConfigError):
    """Another live process holds the results folder."""


def hold_results_folder(out: Path) -> int:
    """Check ``out`` can take results and lock it for this process; returns the lock's fd
    (kept open for the life of the process). Refuses, naming the problem, a path that is a
    file, is not writable, is full, or is held by another lab (naming its pid)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise ConfigError(f"--out {out} cannot be written: {err.strerror or err}") from None
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno not in (errno.EACCES, errno.EAGAIN):
            os.close(fd)
            raise ConfigError(f"--out {out} cannot be locked: {err.strerror or err}") from None
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise FolderBusy(f"--out {out} is in use by another tfopt process (pid {holder}); "
                         "wait for it to finish or choose another --out") from None  # fmt: skip
    _claim(fd, out)
    return fd


def _claim(fd: int, out: Path) -> None:
    """Write our pid into the lock file, and make sure there is room for results."""
    try:
        if shutil.disk_usage(out).free < MIN_FREE_BYTES:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
    except OSError as err:
        os.close(fd)
        raise ConfigError(f"--out {out} cannot be written: {err.strerror or err}") from None
