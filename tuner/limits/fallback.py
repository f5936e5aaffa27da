"""Last resort when no cgroup can be made: CPU affinity and an address-space rlimit.

Neither is what ``docker run`` enforces, so every trial records warnings saying so (and a search
warns once, with `tuner.limits.LimitsWarning`):

- ``cpuset`` is enforced exactly, by ``sched_setaffinity``;
- ``cpus`` is approximated by pinning to ``ceil(cpus)`` cores: there is no CFS quota, so a
  fractional ``cpus`` gets whole cores;
- ``memory`` caps the *growth of the address space* (``RLIMIT_AS`` = size now + memory), not
  resident memory: exceeding it raises ``MemoryError`` in the trial instead of an OOM kill, and
  libraries that reserve large virtual ranges may fail earlier than under a real cap.
"""

from __future__ import annotations

import math
import os
import resource

from tuner.limits.base import Backend, Confinement, Limits, parse_cpuset


class FallbackConfinement(Confinement):
    def __init__(self, limits: Limits) -> None:
        super().__init__(backend=FallbackBackend.name, limits=limits)
        self.cores = self._cores()
        if limits.cpuset is not None:
            self.enforced["cpuset"] = "sched_setaffinity"
        if limits.cpus is not None:
            self.enforced["cpus"] = f"sched_setaffinity to {len(self.cores)} cores"
            self.warnings.append(
                f"cpus={limits.cpus} approximated by pinning to {len(self.cores)} whole cores: "
                "no CPU quota is enforced"
            )
        if limits.memory is not None:
            self.enforced["memory"] = "RLIMIT_AS (address-space growth)"
            self.warnings.append(
                "memory caps address-space growth (RLIMIT_AS), not resident memory: exceeding "
                "it raises MemoryError rather than an OOM kill"
            )

    def _cores(self) -> list[int]:
        allowed = sorted(os.sched_getaffinity(0))
        if self.limits.cpuset is not None:
            allowed = sorted(parse_cpuset(self.limits.cpuset))
        if self.limits.cpus is not None:
            allowed = allowed[: math.ceil(self.limits.cpus)]
        return allowed

    def enter_child(self) -> None:
        if self.limits.cpus is not None or self.limits.cpuset is not None:
            os.sched_setaffinity(0, self.cores)
        if self.limits.memory_bytes is not None:
            cap = _address_space() + self.limits.memory_bytes
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _address_space() -> int:
    """This process's current virtual size in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


class FallbackBackend(Backend):
    name = "fallback"

    def unavailable_reason(self) -> str | None:
        return None

    def open(self, limits: Limits) -> Confinement:
        return FallbackConfinement(limits)
