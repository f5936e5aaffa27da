"""What confines *this* process: visible cores against the cgroup's CPU quota and memory cap.

The classic trap this shows: ``docker run --cpus=1`` on a many-core host leaves every core
visible, and TensorFlow sizes its thread pools to the visible cores, not to the quota.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from tuner.limits import cgroupfs

#: cgroup v1 reports "no memory limit" as a huge page-aligned number.
_UNLIMITED = 2**62


@dataclass(frozen=True)
class Confines:
    machine_cores: int
    visible_cores: int  # len(sched_getaffinity): what thread pools size themselves to
    affinity: str
    cgroup_version: str | None  # "v1", "v2" or None
    cpu_quota_cores: float | None  # CFS quota / period, None without a quota
    memory_limit: int | None  # bytes, None without a cap
    cpuset: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def current(root: str | Path = cgroupfs.ROOT) -> Confines:
    """The confines of the calling process, e.g. for an environment record.

    >>> current().visible_cores >= 1
    True
    """
    root = Path(root)
    cores = sorted(os.sched_getaffinity(0))
    version, quota, memory, cpuset = _cgroup_view(root)
    return Confines(
        machine_cores=os.cpu_count() or len(cores),
        visible_cores=len(cores),
        affinity=_ranges(cores),
        cgroup_version=version,
        cpu_quota_cores=quota,
        memory_limit=memory,
        cpuset=cpuset,
    )


def _cgroup_view(root: Path) -> tuple[str | None, float | None, int | None, str | None]:
    cpu, memory = cgroupfs.v1_dir("cpu", root), cgroupfs.v1_dir("memory", root)
    if cpu is not None or memory is not None:
        return (
            "v1",
            _v1_quota(cpu, root),
            _v1_memory(memory, root),
            _read_opt(cgroupfs.v1_dir("cpuset", root), "cpuset.cpus"),
        )
    unified, mount = cgroupfs.v2_dir(root), cgroupfs.v2_mount(root)
    if unified is not None and mount is not None and (
        cgroupfs.read(unified.parent / "cgroup.controllers") is not None
    ):
        chain = cgroupfs.ancestors(unified, mount)
        cpuset = _read_opt(unified, "cpuset.cpus.effective")
        return "v2", _v2_quota(chain), _v2_memory(chain), cpuset
    return None, None, None, None


def _v1_quota(directory: Path | None, root: Path) -> float | None:
    if directory is None:
        return None
    quotas = []
    for level in cgroupfs.ancestors(directory, root / "cpu"):
        quota = cgroupfs.read(level / "cpu.cfs_quota_us")
        period = cgroupfs.read(level / "cpu.cfs_period_us")
        if quota and period and int(quota) > 0:
            quotas.append(int(quota) / int(period))
    return min(quotas, default=None)


def _v1_memory(directory: Path | None, root: Path) -> int | None:
    if directory is None:
        return None
    caps = [
        int(value)
        for level in cgroupfs.ancestors(directory, root / "memory")
        if (value := cgroupfs.read(level / "memory.limit_in_bytes")) and int(value) < _UNLIMITED
    ]
    return min(caps, default=None)


def _v2_quota(chain: list[Path]) -> float | None:
    quotas = []
    for level in chain:
        quota, _, period = (cgroupfs.read(level / "cpu.max") or "max").partition(" ")
        if quota != "max":
            quotas.append(int(quota) / int(period))
    return min(quotas, default=None)


def _v2_memory(chain: list[Path]) -> int | None:
    caps = [
        int(v) for level in chain if (v := cgroupfs.read(level / "memory.max")) not in (None, "max")
    ]
    return min(caps, default=None)


def _read_opt(directory: Path | None, name: str) -> str | None:
    return None if directory is None else cgroupfs.read(directory / name)


def _ranges(cores: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2,5"``."""
    spans: list[list[int]] = []
    for core in cores:
        if spans and core == spans[-1][1] + 1:
            spans[-1][1] = core
        else:
            spans.append([core, core])
    return ",".join(f"{a}-{b}" if a != b else f"{a}" for a, b in spans)


def current_json() -> dict:
    """`current()` as JSON data, e.g. for a spawned worker: ``tuner.limits:current_json``."""
    return current().as_dict()
