"""cgroup v1: a trial cgroup per controller (cpu, memory, cpuset), nested under this process's own.

``--cpus`` becomes ``cpu.cfs_quota_us`` over a 100 ms period, ``--memory`` becomes
``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes``, so swap cannot stretch it), and
``--cpuset`` becomes ``cpuset.cpus``. The child joins its groups itself, before the trial runs.
For a forked child, pages the child shares with the parent stay charged to the parent's cgroup: the
cap applies to what the trial allocates.
"""

from __future__ import annotations

import os
from pathlib import Path

from tuner.limits import cgroupfs
from tuner.limits.base import Backend, Confinement, Limits
from tuner.limits.cgroupfs import CONTROLLER_OF, PERIOD_US


class CgroupV1Confinement(Confinement):
    def __init__(self, limits: Limits, root: Path) -> None:
        super().__init__(backend=CgroupV1Backend.name, limits=limits)
        self.dirs: dict[str, Path] = {}
        try:
            for limit, controller in CONTROLLER_OF.items():
                if limits.as_dict()[limit] is not None:
                    parent = cgroupfs.v1_dir(controller, root)
                    if parent is None:
                        raise OSError(f"no cgroup v1 {controller} hierarchy under {root}")
                    self.dirs[controller] = cgroupfs.make_trial_dir(parent)
            self._configure()
        except OSError:
            self.close()
            raise

    def _configure(self) -> None:
        limits = self.limits
        if "cpu" in self.dirs and limits.cpus is not None:
            cgroupfs.write(self.dirs["cpu"] / "cpu.cfs_period_us", PERIOD_US)
            cgroupfs.write(self.dirs["cpu"] / "cpu.cfs_quota_us", round(limits.cpus * PERIOD_US))
            self.enforced["cpus"] = "cpu.cfs_quota_us"
        if "memory" in self.dirs and limits.memory_bytes is not None:
            self._cap_memory(self.dirs["memory"], limits.memory_bytes)
        if "cpuset" in self.dirs:
            cpuset = self.dirs["cpuset"]
            cgroupfs.write(cpuset / "cpuset.mems", cgroupfs.read(cpuset.parent / "cpuset.mems"))
            cgroupfs.write(cpuset / "cpuset.cpus", limits.cpuset)
            self.enforced["cpuset"] = "cpuset.cpus"

    def _cap_memory(self, directory: Path, memory: int) -> None:
        cgroupfs.write(directory / "memory.limit_in_bytes", memory)
        self.enforced["memory"] = "memory.limit_in_bytes"
        swap = directory / "memory.memsw.limit_in_bytes"
        if swap.exists():
            cgroupfs.write(swap, memory)
            self.enforced["memory"] += " + memory.memsw.limit_in_bytes"

    def enter_child(self) -> None:
        for directory in self.dirs.values():
            cgroupfs.write(directory / "cgroup.procs", os.getpid())

    def oom_killed(self) -> bool:
        if "memory" not in self.dirs:
            return False
        control = cgroupfs.read(self.dirs["memory"] / "memory.oom_control") or ""
        counts = dict(line.split() for line in control.splitlines() if len(line.split()) == 2)
        return int(counts.get("oom_kill", 0)) > 0

    def stop(self) -> None:
        """Kill every process in the trial's cgroups: a trial's own session does not escape."""
        for directory in self.dirs.values():
            cgroupfs.kill_all(directory)

    def close(self) -> None:
        for directory in self.dirs.values():
            cgroupfs.remove(directory)
        self.dirs = {}


class CgroupV1Backend(Backend):
    name = "cgroup_v1"

    def __init__(self, root: str | Path = cgroupfs.ROOT) -> None:
        self.root = Path(root)

    def unavailable_reason(self) -> str | None:
        for controller in ("cpu", "memory", "cpuset"):
            directory = cgroupfs.v1_dir(controller, self.root)
            if directory is None:
                return f"no cgroup v1 '{controller}' hierarchy under {self.root}"
            if not os.access(directory, os.W_OK):
                return f"cannot create cgroups under {directory} (not writable)"
        return None

    def open(self, limits: Limits) -> Confinement:
        return CgroupV1Confinement(limits, self.root)
