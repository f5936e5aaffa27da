"""``docker``: each trial in a container of a chosen image (a launching backend, spawned trials
only).

For a trial the tuner spawns this module's launcher (`tuner.limits.launcher`), ``python -m
tuner.limits.docker --protocol ... -- python -m tuner.worker``, in place of the worker: it
creates the container (`tuner.limits.container`, with ``docker run``'s limits), feeds it the task
on stdin, relays its stdout and stderr, and when the memory cap killed the container it answers
the tuner itself with an ``oom`` result, "OOM-killed at <limit>". The container is removed when
the trial ends, also by name from the tuner's side when the tuner kills the launcher (timeout, or
Ctrl-C in the tuner).

`run_in_container` (`tuner.limits.container`, importable from here too) runs any command that
way, e.g. a whole ``profile.py`` run into a mounted results folder; so does ``python -m
tuner.limits.docker`` from the shell.
"""

from __future__ import annotations

import re
import sys

from tuner.limits.base import Backend, Confinement, Limits
from tuner.limits.container import (
    DEFAULT_IMAGE,
    ContainerRun,
    connect,
    container_name,
    engine_problem,
    remove,
    run_in_container,
)

__all__ = [
    "ContainerRun",
    "DockerBackend",
    "DockerConfinement",
    "check_image_reference",
    "connect",
    "engine_problem",
    "run_in_container",
]

_ENGINE_OPTIONS = {"cpus": "nano_cpus", "memory": "mem_limit", "cpuset": "cpuset_cpus"}


class DockerConfinement(Confinement):
    """One trial's container: the launcher command, and its removal whatever happens."""

    def __init__(self, limits: Limits, image: str, python: str) -> None:
        super().__init__(backend=DockerBackend.name, limits=limits)
        self.image, self.python = image, python
        self.name = container_name("trial")
        for limit, value in limits.as_dict().items():
            if value is not None:
                self.enforced[limit] = _ENGINE_OPTIONS[limit]

    def command(self, argv: list[str], env: dict[str, str]) -> list[str]:
        """The launcher, running ``argv`` (the worker) with the image's own interpreter."""
        options = ["--protocol", "--image", self.image, "--name", self.name]
        for limit, value in self.limits.as_dict().items():
            if value is not None:
                options += [f"--{limit}", str(value)]
        for key, value in env.items():
            options += ["--env", f"{key}={value}"]
        return [sys.executable, "-m", __name__, *options, "--", self.python, *argv[1:]]

    def stop(self) -> None:
        remove(connect(), self.name)

    def close(self) -> None:
        self.stop()


_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_REFERENCE = re.compile(
    rf"^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)


def check_image_reference(image: str) -> None:
    """Refuse what Docker would reject as an image name (``bad;ref``), before any container."""
    if not isinstance(image, str) or not _IMAGE_REFERENCE.match(image):
        raise ValueError(f"{image!r} is not a Docker image reference like 'tfopt' or "
                         "'registry:5000/team/image:tag'")  # fmt: skip


class DockerBackend(Backend):
    """Trials in containers of ``image`` (default: the lab image ``tfopt``, or $TFOPT_IMAGE)."""

    name = "docker"
    launches = True

    def __init__(self, image: str = DEFAULT_IMAGE, python: str = "python") -> None:
        check_image_reference(image)
        self.image, self.python = image, python

    def unavailable_reason(self) -> str | None:
        return engine_problem(self.image)

    def open(self, limits: Limits) -> Confinement:
        return DockerConfinement(limits, self.image, self.python)


if __name__ == "__main__":
    from tuner.limits.launcher import main

    sys.exit(main())
