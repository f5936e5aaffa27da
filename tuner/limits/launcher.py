"""The container launcher: ``python -m tuner.limits.docker [options] -- COMMAND...`` runs
``COMMAND`` in a new container (`tuner.limits.container.run_in_container`) and exits with its
exit code; Ctrl-C or SIGTERM removes the container. With ``--protocol`` it stands in for a
tuner worker (the docker backend, `tuner.limits.docker`): stdin is the task, and a container the
memory cap or the timeout killed is answered with an ``oom`` or ``timeout`` result record.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence

from tuner import worker
from tuner.limits.base import Limits
from tuner.limits.container import DEFAULT_IMAGE, run_in_container
from tuner.outcome import TrialStatus


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
