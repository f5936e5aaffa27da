"""Reading and writing the cgroup filesystem: where this process's cgroups are, for v1 and v2."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000  # the CFS period docker run --cpus uses; the quota is cpus x this
CONTROLLER_OF = {"cpus": "cpu", "memory": "memory", "cpuset": "cpuset"}  # limit -> controller
_trial_counter = itertools.count()
TRIAL_PREFIX = "tfopt-trial-"


def own_paths(proc_file: str = "/proc/self/cgroup") -> dict[str, str]:
    """Controller -> this process's cgroup path; the v2 (unified) entry is under key ``""``."""
    paths = {}
    for line in Path(proc_file).read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            paths[controller] = path
    return paths


def v1_dir(controller: str, root: Path = ROOT) -> Path | None:
    """This process's directory in the v1 hierarchy of ``controller``, None if not mounted v1.

    Inside a container without a cgroup namespace the recorded path does not exist under the
    mount, whose root then is the container's own cgroup.
    """
    mount = root / controller
    if not (mount / "cgroup.procs").exists() or (mount / "cgroup.controllers").exists():
        return None
    path = own_paths().get(controller, "/").lstrip("/")
    return mount / path if (mount / path).is_dir() else mount


def v2_mount(root: Path = ROOT) -> Path | None:
    """The unified hierarchy: the root itself (pure v2) or ``unified/`` (hybrid)."""
    for candidate in (root, root / "unified"):
        if (candidate / "cgroup.controllers").exists():
            return candidate
    return None


def v2_dir(root: Path = ROOT) -> Path | None:
    mount = v2_mount(root)
    if mount is None:
        return None
    path = own_paths().get("", "/").lstrip("/")
    return mount / path if (mount / path).is_dir() else mount


def read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def write(path: Path, value: object) -> None:
    path.write_text(f"{value}\n")


def ancestors(directory: Path, mount: Path) -> list[Path]:
    """``directory`` and each parent up to ``mount``: a limit anywhere on the way applies."""
    chain = [directory]
    while chain[-1] != mount and mount in chain[-1].parents:
        chain.append(chain[-1].parent)
    return chain


def pids(directory: Path) -> list[int]:
    return [int(pid) for pid in (read(directory / "cgroup.procs") or "").split()]


def kill_all(directory: Path, attempts: int = 100) -> bool:
    """SIGKILL every process in a cgroup, whatever its process group or session, until it is
    empty (``cgroup.kill`` where the kernel has it, v2 since 5.14); True once empty."""
    kill_file = directory / "cgroup.kill"
    for _ in range(attempts):
        members = pids(directory)
        if not members:
            return True
        if kill_file.exists():
            with contextlib.suppress(OSError):
                write(kill_file, 1)
        for pid in members:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    return not pids(directory)


def remove(directory: Path, attempts: int = 50) -> None:
    """Kill what is left in a trial cgroup, then rmdir it (the kernel may report it busy for a
    moment after its last task)."""
    if directory.is_dir():
        kill_all(directory)
    for _ in range(attempts):
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)
    with contextlib.suppress(OSError):
        directory.rmdir()


def make_trial_dir(parent: Path) -> Path:
    """A new trial cgroup under ``parent``, after removing those a killed process left there."""
    remove_orphans(parent)
    directory = parent / trial_name()
    directory.mkdir()
    return directory


def remove_orphans(parent: Path) -> None:
    """Remove trial cgroups whose owner is gone: a process killed with ``kill -9`` cannot remove
    its own. Whatever they still hold is killed first."""
    for directory in parent.glob(f"{TRIAL_PREFIX}*"):
        owner = directory.name.removeprefix(TRIAL_PREFIX).split("-")[0]
        if owner.isdigit() and not _alive(int(owner)):
            remove(directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def trial_name() -> str:
    """A cgroup name unique to this process and trial."""
    return f"{TRIAL_PREFIX}{os.getpid()}-{next(_trial_counter)}"
