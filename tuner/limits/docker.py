"""``docker``: each trial, or a whole profile run, in a container of a chosen image.

A launching backend (spawn mode only) on the ``docker`` SDK. Limits map to the engine's own, with
``docker run``'s meaning: ``cpus`` -> ``nano_cpus`` (a CFS quota, ``--cpus``), ``memory`` ->
``mem_limit`` with an equal ``memswap_limit`` (no swap beyond the cap, ``--memory``), ``cpuset``
-> ``cpuset_cpus`` (``--cpuset-cpus``).

For a trial the tuner spawns this module's launcher, ``python -m tuner.limits.docker --protocol
... -- python -m tuner.worker``, in place of the worker: it creates the container, feeds it the
task on stdin, relays its stdout and stderr, and when the memory cap killed the container it
answers the tuner itself with an ``oom`` result, "OOM-killed at <limit>". `run_in_container`
does the same for any command, e.g. a whole ``profile.py`` run into a mounted results folder.

Every container carries the label ``tfopt`` and is removed when its run ends: normally, on
errors, on Ctrl-C or SIGTERM in the launcher, and by name from the tuner's side when the tuner
kills the launcher (timeout, or Ctrl-C in the tuner).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
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

from tuner import worker
from tuner.limits import as_limits
from tuner.limits.base import Backend, Confinement, Limits, check_timeout, format_memory
from tuner.outcome import TrialStatus

LABEL = "tfopt"
DEFAULT_IMAGE = os.environ.get("TFOPT_IMAGE", "tfopt")
_ENGINE_OPTIONS = {"cpus": "nano_cpus", "memory": "mem_limit", "cpuset": "cpuset_cpus"}
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
    name = name or _container_name("run")
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


def _container_name(kind: str) -> str:
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
    cap = "the host's memory" if limits.memory is None else format_memory(limits.memory)
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


class DockerConfinement(Confinement):
    """One trial's container: the launcher command, and its removal whatever happens."""

    def __init__(self, limits: Limits, image: str, python: str) -> None:
        super().__init__(backend=DockerBackend.name, limits=limits)
        self.image, self.python = image, python
        self.name = _container_name("trial")
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


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tuner.limits.docker",
        description="Run a command in a container under docker run's limits; always remove it.",
    )
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--name", help="container name (default: a fresh tfopt-run-... name)")
    parser.add_argument("--cpus", type=float, help="CPU quota in cores, as docker run --cpus")
    parser.add_argument("--memory", help="memory cap such as 4G, as docker run --memory")
    parser.add_argument("--cpuset", help="cores such as 0-1, as docker run --cpuset-cpus")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--volume", "-v", action="append", default=[], metavar="HOST:PATH")
    parser.add_argument("--timeout", type=float, help="kill the container after this many seconds")
    parser.add_argument(
        "--protocol",
        action="store_true",
        help="tuner worker mode: stdin is the task; an OOM kill is answered with an oom result",
    )
    parser.add_argument("command", nargs="+", help="the command to run (after --)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        run = run_in_container(
            args.command,
            Limits(cpus=args.cpus, memory=args.memory, cpuset=args.cpuset),
            image=args.image,
            volumes=dict(_pair(v, ":", "--volume") for v in args.volume),
            env=dict(_pair(e, "=", "--env") for e in args.env),
            stdin=sys.stdin.buffer.read() if args.protocol else None,
            name=args.name,
            timeout=args.timeout,
        )
    except KeyboardInterrupt:
        print("tfopt: interrupted; the container was removed", file=sys.stderr)
        return 128 + signal.SIGINT
    if run.oom_killed or run.timed_out_after is not None:
        print(f"tfopt: container {run.name} {run.reason}", file=sys.stderr)
        if args.protocol:
            status = TrialStatus.OOM if run.oom_killed else TrialStatus.TIMEOUT
            print(json.dumps(worker.record(status.value, reason=run.reason)), flush=True)
    return run.exit_code


def _pair(text: str, separator: str, option: str) -> tuple[str, str]:
    left, found, right = text.partition(separator)
    if not (found and left and right):
        raise SystemExit(f"{option} {text!r}: expected the form A{separator}B")
    return left, right


if __name__ == "__main__":
    sys.exit(main())
