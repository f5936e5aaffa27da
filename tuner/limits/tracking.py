"""A trial without limits still gets a cgroup where one can be made: not to limit it, but so a
kill reaches every process it started. A process that starts its own session leaves the trial's
process group, never its cgroup. Where no cgroup can be made (a read-only hierarchy, no cgroups),
the trial runs as before, killed by process group only.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from tuner.limits import cgroupfs
from tuner.limits.base import Confinement, NoConfinement


class TrackingConfinement(NoConfinement):
    """No limits; one cgroup holding the trial's processes, killed and removed with it."""

    def __init__(self, parent: Path) -> None:
        super().__init__()
        self.dir = cgroupfs.make_trial_dir(parent)

    def enter_child(self) -> None:
        with contextlib.suppress(OSError):  # tracking is best effort: the trial runs regardless
            cgroupfs.write(self.dir / "cgroup.procs", os.getpid())

    def stop(self) -> None:
        cgroupfs.kill_all(self.dir)

    def close(self) -> None:
        cgroupfs.remove(self.dir)


def tracking_confinement(root: Path = cgroupfs.ROOT) -> Confinement:
    """A `TrackingConfinement` in the unified (v2) hierarchy, else in v1's ``cpu`` one, else a
    plain `NoConfinement`."""
    for parent in (cgroupfs.v2_dir(root), cgroupfs.v1_dir("cpu", root)):
        if parent is None or not os.access(parent, os.W_OK):
            continue
        with contextlib.suppress(OSError):
            return TrackingConfinement(parent)
    return NoConfinement()
