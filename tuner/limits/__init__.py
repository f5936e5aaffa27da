"""Per-trial limits: the backends, how one is chosen, and what confines this process now.

``choose_backend(limits, start_method)`` takes the first backend in ``BACKENDS`` order that is
available here and supports the start method; ``backend="cgroup_v1"`` (a name or a `Backend`
instance) forces one.
Launching backends (docker) are only used when asked for by name.
"""

from __future__ import annotations

from collections.abc import Mapping

from tuner.limits.base import Backend, Confinement, Limits, LimitsWarning
from tuner.limits.current import current, current_json
from tuner.worker import resolve

#: name -> "module:Class", in order of preference for automatic choice.
BACKENDS = {
    "cgroup_v2": "tuner.limits.cgroup_v2:CgroupV2Backend",
    "cgroup_v1": "tuner.limits.cgroup_v1:CgroupV1Backend",
    "systemd": "tuner.limits.systemd:SystemdBackend",
    "fallback": "tuner.limits.fallback:FallbackBackend",
    "docker": "tuner.limits.docker:DockerBackend",
}
_ONLY_BY_NAME = {"docker"}

__all__ = [
    "Backend",
    "Confinement",
    "Limits",
    "LimitsWarning",
    "as_limits",
    "choose_backend",
    "current",
    "current_json",
]


def get_backend(name: str, **options: object) -> Backend:
    """An instance of the backend registered as ``name``."""
    if name not in BACKENDS:
        raise ValueError(f"unknown limits backend {name!r}; known: {', '.join(BACKENDS)}")
    return resolve(BACKENDS[name])(**options)


def as_limits(limits: Limits | Mapping | None) -> Limits:
    if limits is None:
        return Limits()
    if isinstance(limits, Limits):
        return limits
    if isinstance(limits, Mapping):
        unknown = set(limits) - {"cpus", "memory", "cpuset"}
        if unknown:
            raise ValueError(f"unknown limits {sorted(unknown)}; use cpus, memory, cpuset")
        return Limits(**limits)
    raise TypeError(f"limits must be a tuner.Limits or a dict, got {limits!r}")


class _Unlimited(Backend):
    name = "none"

    def unavailable_reason(self) -> str | None:
        return None

    def open(self, limits: Limits) -> Confinement:
        from tuner.limits.tracking import tracking_confinement

        return tracking_confinement()


def choose_backend(
    limits: Limits, start_method: str, backend: str | Backend | None = None
) -> Backend:
    """The backend that will enforce ``limits`` for a trial started by ``start_method``."""
    if backend is None and limits.empty:
        return _Unlimited()
    if backend is not None:
        chosen = get_backend(backend) if isinstance(backend, str) else backend
        _check_usable(chosen, start_method)
        return chosen
    skipped = []
    for name in BACKENDS:
        if name in _ONLY_BY_NAME:
            continue
        candidate = get_backend(name)
        reason = _start_method_problem(candidate, start_method) or candidate.unavailable_reason()
        if reason is None:
            return candidate
        skipped.append(f"{name}: {reason}")
    raise RuntimeError("no limits backend works here:\n  " + "\n  ".join(skipped))


def _start_method_problem(backend: Backend, start_method: str) -> str | None:
    if backend.supports(start_method):
        return None
    return (f"launches the worker itself, so it cannot confine a {start_method}ed child; "
            f"use start_method='spawn'")


def _check_usable(backend: Backend, start_method: str) -> None:
    if not isinstance(backend, Backend):
        raise TypeError(f"backend must be a name or a tuner.limits.Backend, got {backend!r}")
    # the start method first: it is the caller's to fix, whatever this machine has
    reason = _start_method_problem(backend, start_method) or backend.unavailable_reason()
    if reason is not None:
        raise ValueError(f"limits backend {backend.name!r} cannot be used: {reason}")
