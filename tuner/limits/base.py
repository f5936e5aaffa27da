"""Per-trial resource limits and the interface every limits backend implements.

`Limits` says *what* to enforce, with the meaning of `docker run`'s flags:

- ``cpus``: a CFS quota in cores (``--cpus=1.5`` = 150 ms of CPU time per 100 ms period),
- ``memory``: a hard cap on the memory the trial may charge (``--memory=4G``), no swap beyond it,
- ``cpuset``: the cores the trial may run on (``--cpuset-cpus=0-1``), an alternative to a quota.

A *backend* says *how*. There are two kinds, and one interface covers both:

- **Confining** backends confine a child the tuner started itself, forked or spawned
  (cgroup v2, cgroup v1, fallback). Their `Confinement.enter_child` runs inside the child before
  the trial's code: right after ``fork()``, or just before ``exec`` for a spawned one.
- **Launching** backends start the worker themselves (``systemd-run --scope``, ``docker run``).
  They cannot confine a forked child (``launches = True``); for a spawned child the tuner builds the
  worker's command line, ``[python, "-m", "tuner.worker"]``, and `Confinement.command` rewrites it,
  e.g. into ``["docker", "run", "-i", "--rm", "--cpus=1", image, "python", "-m", "tuner.worker"]``.

The spawned worker's protocol (see `tuner.worker`): the task is one JSON object on the worker's
stdin, the result is one JSON line on its stdout (the target's own prints go to stderr). Any
launcher that forwards stdin and stdout therefore carries the protocol unchanged.

How to add a backend (one module under ``tuner/limits/``):

1. Subclass `Backend`: set ``name``, implement ``unavailable_reason()`` (``None`` when usable here,
   else a sentence saying why not) and ``open(limits)`` returning your `Confinement`.
2. Subclass `Confinement` and override only the hooks you need: ``enter_child`` (confining),
   ``command`` (launching), ``oom_killed``, ``stop`` (kill what a plain kill of
   the launcher process would leave running, e.g. a container) and ``close`` (clean up).
   Fill ``enforced`` (limit name -> mechanism) and ``warnings`` (what is only approximated).
3. Register it in ``tuner/limits/__init__.py``'s ``BACKENDS`` as ``"name": "module:Class"``.
4. Add it to the contract tests in ``tests/test_tuner_limits.py``.

The runner calls, per trial: ``backend.open(limits)`` -> ``command`` (spawn) -> start the child ->
``enter_child`` (in the child) -> wait -> ``stop`` (only on timeout or Ctrl-C) -> ``oom_killed``
-> ``close``. A confinement is used for exactly one trial. A trial forked by a zygote
(`tuner.zygote`) gets a pickled copy of its confinement and calls ``enter_child`` there, so a
confining backend's confinement must pickle (plain attributes such as paths do).
"""

from __future__ import annotations

import math
import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, cast

#: Below this a Python child cannot even import the standard library and report back.
MIN_MEMORY = 64 * 1024**2
#: The kernel refuses a CFS quota under 1 ms per 100 ms period (EINVAL): 0.01 cores.
MIN_CPUS = 0.01

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_memory(memory: int | str) -> int:
    """Bytes from ``4G``, ``512M``, ``1.5g``, ``300MiB`` or a plain integer (docker's units)."""
    if isinstance(memory, bool) or not isinstance(memory, (int, str)):
        raise TypeError(f"memory must be bytes (int) or a size like '4G', got {memory!r}")
    if isinstance(memory, int):
        return memory
    match = _MEMORY_RE.match(memory)
    if not match:
        raise ValueError(f"memory {memory!r} is not a size like '4G', '512M' or a byte count")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.lower()])


def format_memory(size: float) -> str:
    """``4294967296`` -> ``"4 GiB"``, ``100000000`` -> ``"95.4 MiB"``: the inverse of
    `parse_memory`, to three significant digits (a whole number from 1,000 of a unit on)."""
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.{3 if value < 1000 else 4}g} {unit}"
    return f"{size:g} bytes"


def check_timeout(timeout: float | None) -> None:
    """A timeout is None (none) or a positive number of seconds; a bool is not one."""
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")


def parse_cpuset(cpuset: str) -> frozenset[int]:
    """Core numbers from a cpuset list such as ``0-3,6``."""
    if not isinstance(cpuset, str):
        raise TypeError(f"cpuset must be a string like '0-1,3', got {cpuset!r}")
    cores: set[int] = set()
    for part in cpuset.split(","):
        bounds = part.strip().split("-")
        if not all(b.strip().isdigit() for b in bounds) or len(bounds) > 2:
            raise ValueError(f"cpuset {cpuset!r} is not a core list like '0-1,3'")
        lo, hi = int(bounds[0]), int(bounds[-1])
        if lo > hi:
            raise ValueError(f"cpuset {cpuset!r}: range {part!r} runs backwards")
        cores.update(range(lo, hi + 1))
    return frozenset(cores)


def machine_cores() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Limits:
    """What one trial may use; validated when built, so a bad limit fails before any trial runs.

    >>> Limits(cpus=1, memory="2G").memory
    2147483648
    """

    cpus: float | None = None
    memory: int | str | None = None
    cpuset: str | None = None

    def __post_init__(self) -> None:
        if self.memory is not None:
            object.__setattr__(self, "memory", parse_memory(self.memory))
        self._check_cpus()
        self._check_memory()
        self._check_cpuset()

    @property
    def memory_bytes(self) -> int | None:
        """``memory`` in bytes: a size such as ``"4G"`` is parsed when the limits are built."""
        return cast("int | None", self.memory)

    def _check_cpus(self) -> None:
        if self.cpus is None:
            return
        if isinstance(self.cpus, bool) or not isinstance(self.cpus, (int, float)):
            raise TypeError(f"cpus must be a number of cores, got {self.cpus!r}")
        if not (self.cpus > 0 and math.isfinite(self.cpus)):
            raise ValueError(f"cpus must be a positive number of cores, got {self.cpus!r}")
        if self.cpus < MIN_CPUS:
            raise ValueError(
                f"cpus={self.cpus} is below {MIN_CPUS}, the smallest CPU quota the kernel allows"
            )
        if self.cpus > machine_cores():
            raise ValueError(
                f"cpus={self.cpus} is more than this machine's {machine_cores()} cores"
            )

    def _check_memory(self) -> None:
        if self.memory_bytes is not None and self.memory_bytes < MIN_MEMORY:
            raise ValueError(
                f"memory={self.memory} bytes is below the {MIN_MEMORY // 1024**2} MiB "
                "a Python child needs to start and report back"
            )

    def _check_cpuset(self) -> None:
        if self.cpuset is None:
            return
        cores = parse_cpuset(self.cpuset)
        missing = sorted(c for c in cores if c >= machine_cores())
        if missing:
            raise ValueError(
                f"cpuset {self.cpuset!r} names cores {missing} this {machine_cores()}-core "
                "machine does not have"
            )
        if self.cpus is not None and self.cpus > len(cores):
            raise ValueError(
                f"cpus={self.cpus} exceeds the {len(cores)} cores of cpuset {self.cpuset!r}"
            )

    @property
    def empty(self) -> bool:
        return self.cpus is None and self.memory is None and self.cpuset is None

    def as_dict(self) -> dict:
        return {"cpus": self.cpus, "memory": self.memory, "cpuset": self.cpuset}


class LimitsWarning(UserWarning):
    """A limit that a backend only approximates or does not enforce (`Confinement.warnings`)."""


@dataclass
class Confinement:
    """One trial's confinement. The default hooks do nothing: override what your backend needs."""

    backend: str
    limits: Limits
    #: limit name ("cpus", "memory", "cpuset") -> how it is enforced, e.g. "cpu.cfs_quota_us"
    enforced: dict[str, str] = field(default_factory=dict)
    #: what is only approximated or not enforced at all, in words
    warnings: list[str] = field(default_factory=list)

    def enter_child(self) -> None:
        """Runs in the child, before the trial's code (confining backends)."""

    def command(self, argv: list[str], env: dict[str, str]) -> list[str]:
        """The command that starts the spawned worker ``argv`` (launching backends rewrite it).

        ``env`` is what the worker's environment must contain on top of the launcher's.
        """
        return argv

    def oom_killed(self) -> bool:
        """Whether the memory cap killed the trial (asked after the child is reaped)."""
        return False

    def stop(self) -> None:
        """Stop what killing the child's process group would not (timeout or Ctrl-C only)."""

    def close(self) -> None:
        """Release what `Backend.open` created; called once, after the child is reaped."""

    def __enter__(self) -> Confinement:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Backend(ABC):
    """A way to enforce `Limits`. Instances are cheap; ``open`` does the work per trial."""

    name: ClassVar[str]
    #: True when the backend starts the worker itself (spawned trials only).
    launches: ClassVar[bool] = False

    @abstractmethod
    def unavailable_reason(self) -> str | None:
        """None when this backend works here, else why not (shown when it is skipped)."""

    @abstractmethod
    def open(self, limits: Limits) -> Confinement:
        """Prepare the confinement of one trial (e.g. create its cgroup)."""

    def supports(self, start_method: str) -> bool:
        return start_method == "spawn" or not self.launches


class NoConfinement(Confinement):
    """For trials without limits: nothing to enforce."""

    def __init__(self) -> None:
        super().__init__(backend="none", limits=Limits())
