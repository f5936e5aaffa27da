"""``systemd-run --scope``: systemd creates a transient scope with the limits and runs the worker.

A launching backend (spawned trials only): ``CPUQuota=`` for ``cpus``, ``MemoryMax=`` with
``MemorySwapMax=0`` for ``memory``, ``AllowedCPUs=`` for ``cpuset``. It needs systemd running as
the init system; where it is not (containers, minimal hosts) the backend says so and is skipped.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess

from tuner.limits.base import Backend, Confinement, Limits

_counter = itertools.count()


class SystemdConfinement(Confinement):
    def __init__(self, limits: Limits) -> None:
        super().__init__(backend=SystemdBackend.name, limits=limits)
        self.unit = f"tfopt-trial-{os.getpid()}-{next(_counter)}.scope"
        self.properties = []
        if limits.cpus is not None:
            self.properties.append(f"CPUQuota={limits.cpus * 100:g}%")
            self.enforced["cpus"] = "CPUQuota"
        if limits.memory is not None:
            self.properties += [f"MemoryMax={limits.memory}", "MemorySwapMax=0"]
            self.enforced["memory"] = "MemoryMax"
        if limits.cpuset is not None:
            self.properties.append(f"AllowedCPUs={limits.cpuset}")
            self.enforced["cpuset"] = "AllowedCPUs"

    def command(self, argv: list[str], env: dict[str, str]) -> list[str]:
        props = [arg for prop in self.properties for arg in ("-p", prop)]
        return ["systemd-run", "--scope", "--quiet", f"--unit={self.unit}", *props, "--", *argv]

    def oom_killed(self) -> bool:
        return _systemctl("show", "--property=Result", "--value", self.unit) == "oom-kill"

    def stop(self) -> None:
        _systemctl("stop", self.unit)

    def close(self) -> None:
        _systemctl("reset-failed", self.unit)


def _systemctl(*args: str) -> str:
    done = subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)
    return done.stdout.strip()


class SystemdBackend(Backend):
    name = "systemd"
    launches = True

    def unavailable_reason(self) -> str | None:
        if shutil.which("systemd-run") is None:
            return "systemd-run is not installed"
        if not os.path.isdir("/run/systemd/system"):
            return "systemd is not the running init system, so systemd-run cannot create scopes"
        return None

    def open(self, limits: Limits) -> Confinement:
        return SystemdConfinement(limits)
