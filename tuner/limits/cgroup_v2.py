"""cgroup v2: one trial cgroup under this process's own, with ``cpu.max``, ``memory.max`` and
``cpuset.cpus`` (and ``memory.swap.max = 0`` so swap cannot stretch the cap).

cgroup v2 lets a cgroup hand controllers to children only when it holds no processes itself. If
this process's cgroup holds processes and has not delegated the controllers yet, they are first
moved into a ``leaf`` child, the way container init systems do; the trial cgroups are its siblings.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from tuner.limits import cgroupfs
from tuner.limits.base import Backend, Confinement, Limits
from tuner.limits.cgroupfs import CONTROLLER_OF, PERIOD_US


class CgroupV2Confinement(Confinement):
    def __init__(self, limits: Limits, parent: Path) -> None:
        super().__init__(backend=CgroupV2Backend.name, limits=limits)
        self.dir = cgroupfs.make_trial_dir(parent)
        try:
            self._configure()
        except OSError:
            self.close()
            raise

    def _configure(self) -> None:
        limits = self.limits
        if limits.cpus is not None:
            cgroupfs.write(self.dir / "cpu.max", f"{round(limits.cpus * PERIOD_US)} {PERIOD_US}")
            self.enforced["cpus"] = "cpu.max"
        if limits.memory is not None:
            cgroupfs.write(self.dir / "memory.max", limits.memory)
            self.enforced["memory"] = "memory.max"
            if (self.dir / "memory.swap.max").exists():
                cgroupfs.write(self.dir / "memory.swap.max", 0)
                self.enforced["memory"] += " + memory.swap.max=0"
        if limits.cpuset is not None:
            cgroupfs.write(self.dir / "cpuset.cpus", limits.cpuset)
            self.enforced["cpuset"] = "cpuset.cpus"

    def enter_child(self) -> None:
        cgroupfs.write(self.dir / "cgroup.procs", os.getpid())

    def oom_killed(self) -> bool:
        events = cgroupfs.read(self.dir / "memory.events") or ""
        counts = dict(line.split() for line in events.splitlines() if len(line.split()) == 2)
        return int(counts.get("oom_kill", 0)) > 0

    def stop(self) -> None:
        """Kill every process in the trial's cgroup: a trial's own session does not escape."""
        cgroupfs.kill_all(self.dir)

    def close(self) -> None:
        cgroupfs.remove(self.dir)


class CgroupV2Backend(Backend):
    name = "cgroup_v2"

    def __init__(self, root: str | Path = cgroupfs.ROOT) -> None:
        self.root = Path(root)

    def unavailable_reason(self) -> str | None:
        mount = cgroupfs.v2_mount(self.root)
        if mount is None:
            return f"no cgroup v2 hierarchy under {self.root}"
        available = set((cgroupfs.read(mount / "cgroup.controllers") or "").split())
        missing = sorted(set(CONTROLLER_OF.values()) - available)
        if missing:
            return f"the cgroup v2 hierarchy at {mount} lacks the {', '.join(missing)} controllers"
        own = cgroupfs.v2_dir(self.root) or mount
        if not os.access(own, os.W_OK):
            return f"cannot create cgroups under {own} (not writable)"
        return None

    def open(self, limits: Limits) -> Confinement:
        parent = cgroupfs.v2_dir(self.root)
        if parent is None:
            raise OSError(f"no cgroup v2 hierarchy under {self.root}")
        wanted = {CONTROLLER_OF[k] for k, v in limits.as_dict().items() if v is not None}
        delegate(parent, wanted, is_root=parent == cgroupfs.v2_mount(self.root))
        return CgroupV2Confinement(limits, parent)


def delegate(parent: Path, controllers: set[str], is_root: bool) -> None:
    """Enable ``controllers`` for ``parent``'s children, first emptying it into ``leaf/``."""
    enabled = set((cgroupfs.read(parent / "cgroup.subtree_control") or "").split())
    if controllers <= enabled:
        return
    if not is_root:
        _move_processes(parent, parent / "leaf")
    cgroupfs.write(
        parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(controllers))
    )


def _move_processes(source: Path, leaf: Path) -> None:
    leaf.mkdir(exist_ok=True)
    for pid in (cgroupfs.read(source / "cgroup.procs") or "").split():
        with contextlib.suppress(ProcessLookupError):  # it may have exited meanwhile
            cgroupfs.write(leaf / "cgroup.procs", pid)
