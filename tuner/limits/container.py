"""Run a command in a new container of a chosen image under ``docker run``'s limits, through the
``docker`` SDK: a whole ``profile.py`` run into a mounted results folder, or (through the
launcher, `tuner.limits.launcher`) one trial of the docker limits backend (`tuner.limits.docker`).

Limits map to the engine's own, with ``docker run``'s meaning: ``cpus`` -> ``nano_cpus`` (a CFS
quota, ``--cpus``), ``memory`` -> ``mem_limit`` with an equal ``memswap_limit`` (no swap beyond
the cap, ``--memory``), ``cpuset`` -> ``cpuset_cpus`` (``--cpuset-cpus``). Every container carries
the label ``tfopt`` and is removed when its run ends: normally, on errors, on Ctrl-C, and by name
(`remove`) from whoever gave up on it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.utils.socket import STDOUT, frames_iter

from tuner.limits import as_limits
from tuner.limits.base import Limits, check_timeout, format_memory

LABEL = "tfopt"
DEFAULT_IMAGE = os.environ.get("TFOPT_IMAGE", "tfopt")
_counter = itertools.count()


@dataclass(frozen=True)
class ContainerRun:
    """How one container run ended. Its output was relayed while it ran."""

    name: str
    exit_code: int
    oom_killed: bool
    limits: Limits
    timed_out_after: float | None = None  # the timeout, when it stopped the run

    @property
    def reason(self) -> str | None:
        """Why the run failed, in words; None when it exited with code 0."""
        if self.oom_killed:
            return oom_reason(self.limits)
        if self.timed_out_after is not None:
            return f"timed out after {self.timed_out_after:g} s"
        return f"exited with code {self.exit_code}" if self.exit_code else None


def run_in_container(
    command: Sequence[str],
    limits: Limits | Mapping | None = None,
    image: str = DEFAULT_IMAGE,
    volumes: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    stdout: BinaryIO | None = None,
    stderr: BinaryIO | None = None,
    network: str = "none",
    name: str | None = None,
    timeout: float | None = None,
) -> ContainerRun:
    """Run ``command`` in a new container of ``image`` under ``limits``; the container is removed.

    ``volumes`` maps host folders to container paths (read-write); output goes to ``stdout`` and
    ``stderr`` (binary streams, by default this process's) as it comes; ``stdin`` is fed to the
    command, then closed. Trials and lab runs need no network, so by default there is none.
    After ``timeout`` seconds the container is killed (``reason``: "timed out after N s"); what
    the command wrote to a mounted folder stays.

    >>> run = run_in_container(["python", "/src/profile.py", "--quick", "--out", "/results"],
    ...                        {"cpus": 1, "memory": "4G"}, volumes={"results": "/results"})
    >>> run.reason is None or run.reason.startswith(("OOM-killed at", "exited with code"))
    True
    """
    limits = as_limits(limits)
    command = _checked_command(command)
    check_timeout(timeout)
    name = name or container_name("run")
    client = connect()
    fired = threading.Event()
    watchdog = threading.Timer(timeout or 0, _kill, (client, name, fired))
    try:
        container = _create(
            client, image, command, name, limits, volumes or {}, env or {}, stdin, network
        )
        if timeout is not None:
            watchdog.start()
        _relay(client, container, stdin, stdout or sys.stdout.buffer, stderr or sys.stderr.buffer)
        exit_code = container.wait()["StatusCode"]
        _stop(watchdog)  # from here on, `fired` says for good whether the timeout killed it
        container.reload()
        oom_killed = bool(container.attrs["State"]["OOMKilled"])
        timed_out = timeout if fired.is_set() else None
        return ContainerRun(name, exit_code, oom_killed, limits, timed_out)
    finally:
        _stop(watchdog)
        remove(client, name)


def _stop(watchdog: threading.Timer) -> None:
    """Cancel the watchdog, or wait for a kill it has begun to finish."""
    watchdog.cancel()
    if watchdog.is_alive():
        watchdog.join()


def _kill(client: docker.DockerClient, name: str, fired: threading.Event) -> None:
    """Kill ``name`` and say so in ``fired``; a container that ended first is left as it ended."""
    with contextlib.suppress(NotFound, APIError):  # it may have ended in the meantime
        client.api.kill(name)
        fired.set()


def _checked_command(command: Sequence[str]) -> list[str]:
    if isinstance(command, str) or not all(isinstance(arg, str) for arg in command):
        raise TypeError(f"command must be a list of strings, got {command!r}")
    if not command:
        raise ValueError("command is empty: say what to run in the container")
    return list(command)


def connect() -> docker.DockerClient:
    """A client for the engine that ``DOCKER_HOST`` (or the local socket) names."""
    try:
        return docker.from_env()
    except DockerException as exc:
        raise RuntimeError(f"no Docker engine is reachable ({exc})") from None


def engine_problem(image: str | None = None) -> str | None:
    """None when the engine answers (and has ``image``, if given), else what is missing."""
    try:
        client = connect()
        client.ping()
    except RuntimeError as exc:
        return str(exc)
    except DockerException as exc:
        return f"no Docker engine is reachable ({exc})"
    if image is None:
        return None
    try:
        client.images.get(image)
    except ImageNotFound:
        return f"the image {image!r} does not exist here; build it with `make image`"
    return None


def container_name(kind: str) -> str:
    return f"tfopt-{kind}-{os.getpid()}-{next(_counter)}-{secrets.token_hex(3)}"


def engine_limits(limits: Limits) -> dict:
    """The SDK's ``containers.create`` arguments that enforce ``limits``."""
    options: dict = {}
    if limits.cpus is not None:
        options["nano_cpus"] = round(limits.cpus * 1e9)
    if limits.memory is not None:
        options["mem_limit"] = options["memswap_limit"] = limits.memory
    if limits.cpuset is not None:
        options["cpuset_cpus"] = limits.cpuset
    return options


def oom_reason(limits: Limits) -> str:
    cap = "the host's memory" if limits.memory_bytes is None else format_memory(limits.memory_bytes)
    return f"OOM-killed at {cap}"


def _create(client, image, command, name, limits, volumes, env, stdin, network):
    """The container, created but not started; with stdin, the SDK sets StdinOnce too."""
    try:
        return client.containers.create(
            image,
            command,
            name=name,
            labels={LABEL: name},
            environment=dict(env),
            volumes={
                os.path.abspath(host): {"bind": path, "mode": "rw"}
                for host, path in volumes.items()
            },
            network_mode=network,
            stdin_open=stdin is not None,
            **engine_limits(limits),
        )
    except ImageNotFound:
        raise ValueError(
            f"the image {image!r} does not exist here; build it with `make image`"
        ) from None


def _relay(client, container, stdin: bytes | None, stdout: BinaryIO, stderr: BinaryIO) -> None:
    """Start ``container``, feed it ``stdin`` and copy its output until it exits."""
    params = {"stdin": int(stdin is not None), "stdout": 1, "stderr": 1, "stream": 1}
    sock = client.api.attach_socket(container.id, params=params)
    try:
        container.start()
        if stdin is not None:
            _send_and_close(sock, stdin)
        for stream, data in frames_iter(sock, tty=False):
            out = stdout if stream == STDOUT else stderr
            out.write(data)
            out.flush()
    finally:
        sock.close()


def _send_and_close(sock, data: bytes) -> None:
    """Write ``data`` to the container's stdin, then end it (the engine closes stdin on EOF)."""
    raw = getattr(sock, "_sock", sock)
    raw.sendall(data)
    raw.shutdown(socket.SHUT_WR)


def remove(client: docker.DockerClient, name: str) -> None:
    """Remove the container ``name`` if it exists; a second Ctrl-C cannot cut this short."""
    with _sigint_held():
        try:
            client.api.remove_container(name, force=True)
        except NotFound:
            pass
        except APIError as exc:
            if "already in progress" not in str(exc):
                raise


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
