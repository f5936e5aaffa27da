"""The ``tfopt`` command line's arguments: one parser per subcommand, and the checks of their
values (argparse types) that refuse bad input before anything runs."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from pathlib import Path

#: What runs a parsed subcommand: its result, printed as JSON or for a human.
Handler = Callable[[argparse.Namespace], dict]

DEFAULT_OUT = os.environ.get("TFOPT_RESULTS", "results")

DESCRIPTION = """\
tfopt: find the TensorFlow settings and build that make a model fastest on this CPU box.

  profile   the lab: environment, initial, each optimisation step, side-by-side re-measure,
            plots and report in --out (default: $TFOPT_RESULTS or ./results); with --config,
            an experiment matrix instead (every permutation of the config's list values)
  tune      the forking tuner over inter/intra/OMP thread counts, for one configuration
  compare   the same configuration under two or more variants (TensorFlow builds), in
            randomized paired rounds until the verdict is decided (or the budget ends)
  env       the environment record: CPU, ISA, cores against limits, TensorFlow build
  report    redraw plots and report.md from an existing summary.json (no measuring)
"""

PROFILE_EXAMPLES = """\
examples:
  python profile.py --quick                      the lab on g2p, about 3 minutes on 2 cores
  python profile.py --cpus 1 --memory 4G         the same under limits (cgroup or Docker)
  python profile.py --variant old=tensorflow-cpu==2.20.0   a step on another TensorFlow
  python profile.py --config lab.json            an experiment matrix (see README)
  tfopt report results                           redraw plots from results/summary.json

exit codes: 0 done, 1 runs failed, 2 bad usage/config/limits (nothing ran),
130 interrupted (143 SIGTERM, 129 SIGHUP; finished runs are kept; the same command resumes)
"""


def build_parser(handlers: Mapping[str, Handler]) -> argparse.ArgumentParser:
    """The parser; each subcommand sets ``args.handler`` to ``handlers[its name]``."""
    parser = argparse.ArgumentParser(
        prog="tfopt", description=DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter,
        epilog="exit codes: 0 done, 1 runs failed, 2 bad usage/config/limits, 130 interrupted",
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _profile_parser(commands, handlers["profile"])
    _tune_parser(commands, handlers["tune"])
    _compare_parser(commands, handlers["compare"])
    env = commands.add_parser("env", help="print the environment record")
    env.add_argument("--no-tensorflow", action="store_true", help="skip the TensorFlow probe")
    env.add_argument("--json", action="store_true", help="machine-readable output")
    env.set_defaults(handler=handlers["env"])
    report = commands.add_parser("report", help="redraw plots and report from summary.json")
    report.add_argument("out", type=Path, help="a results folder holding summary.json")
    report.add_argument("--json", action="store_true", help="print the summary")
    report.set_defaults(handler=handlers["report"])
    return parser


def _common(parser: argparse.ArgumentParser, out: bool = True) -> None:
    group = parser.add_argument_group("what to measure")
    group.add_argument("--workload", default="g2p",
                       help="g2p (default), module:factory, or savedmodel:/path")  # fmt: skip
    group.add_argument("--inputs", help="for module:factory workloads: module:function(size, seed)")
    group.add_argument("--signature", default="serving_default", help="SavedModel signature")
    group.add_argument("--input", action="append", default=[], metavar="NAME:SHAPE[:DTYPE]",
                       help="a SavedModel input, repeatable: -1 marks the batch dimension the "
                            "lab sweeps (x:-1x224x224x3, x:1x224x224x3); integers take a range "
                            "(tokens:-1x64:int32:0..9999); or data: NAME:FILE.npy")  # fmt: skip
    group.add_argument("--hint", choices=("latency", "throughput"),
                       help="SavedModel: latency = batch 1 (p50/p90/p99 ms); throughput = batch "
                            "sizes 1-32, rows/s per batch and per 1/2/4 concurrent requests "
                            "(default)")  # fmt: skip
    group.add_argument("--sizes", type=_int_list, help="input sizes, e.g. 1,2,6,7,10,15,20")
    group.add_argument("--cpus", type=float, help="CPU quota in cores (docker --cpus)")
    group.add_argument("--memory", help="memory limit, e.g. 4G (docker --memory)")
    group.add_argument("--repeats", type=_positive_int,
                       help="timed sweeps per worker (instead of duration)")  # fmt: skip
    group.add_argument("--duration", type=float, help="seconds of timed sweeps per worker")
    group.add_argument("--warmup", type=_count, help="untimed warmup sweeps per worker")
    group.add_argument("--workers", type=_positive_int,
                       help="a fixed number of rounds (one worker process per config each)")
    group.add_argument("--rounds", type=_rounds, metavar="MIN[-MAX]",
                       help="randomized paired rounds: at least MIN, adding rounds up to MAX "
                            "until every verdict is decided")  # fmt: skip
    group.add_argument("--time-budget", type=float, metavar="SECONDS",
                       help="stop adding rounds after this long (then: inconclusive)")
    group.add_argument("--separate-processes", action="store_true",
                       help="a worker per configuration per round, even where all of them "
                            "could share one (alternating their sweeps ABBA)")  # fmt: skip
    group.add_argument("--no-zygote", action="store_true",
                       help="every worker imports TensorFlow itself, instead of being forked "
                            "from a process per environment that imported it once")  # fmt: skip
    group.add_argument("--tandem", action="store_const", const=True, default="auto",
                       help="a round's workers all at once, taking turns at their timed sweeps "
                            "(the default), even for a build whose OpenMP threads spin")
    group.add_argument("--no-tandem", dest="tandem", action="store_const", const=False,
                       help="a round's workers one after the other")  # fmt: skip
    group.add_argument("--quick", action="store_true",
                       help="fewer repeats, workers, trials (about 3 minutes on 2 cores)")
    group.add_argument("--variant", action="append", default=[], metavar="NAME=SPEC",
                       help="a TensorFlow build: stock, tensorflow-cpu==2.20.0, wheel:PATH.whl, "
                            "python:PATH, docker:IMAGE; or another runtime on a SavedModel: "
                            "tflite, onnxruntime, openvino, openvino-bf16; env vars as "
                            ",KEY=VALUE")  # fmt: skip
    if out:
        group.add_argument("--out", type=Path, default=Path(DEFAULT_OUT),
                           help=f"results folder (default {DEFAULT_OUT})")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def _profile_parser(commands, handler: Handler) -> None:
    profile = commands.add_parser(
        "profile", help="the lab (default) or an experiment matrix (--config)",
        description="Measure initial, walk the optimisation steps, re-measure side by side, and\n"
                    "write initial.png, <step>.png, summary.json, run_data.csv and report.md.",
        epilog=PROFILE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    _common(profile)
    profile.add_argument("--config", type=Path,
                         help="JSON/TOML matrix: list values expand to permutations")
    profile.add_argument("--steps", type=_str_list,
                         help="steps in order (default: every step that applies to the "
                              "workload; g2p: graph,xla,batching,onednn,threads; a SavedModel: "
                              "xla,grappler,onednn,threads)")  # fmt: skip
    profile.add_argument("--tune-budget", type=_positive_int,
                         help="tuner trials in the threads step")  # fmt: skip
    profile.add_argument("--engine", choices=("local", "ray"), default="local",
                         help="with --config: run here (local) or on a Ray cluster (ray)")
    profile.add_argument("--ray-address", metavar="ADDRESS",
                         help="the Ray cluster's head, host:port (default: start a local Ray)")
    profile.set_defaults(handler=handler)


def _tune_parser(commands, handler: Handler) -> None:
    tune = commands.add_parser("tune", help="tune thread counts for one configuration")
    _common(tune)
    tune.add_argument("--mode", choices=("eager", "graph", "xla"), help="g2p execution mode")
    tune.add_argument("--budget", type=_positive_int, default=8, help="tuner trials")
    tune.set_defaults(handler=handler)


def _compare_parser(commands, handler: Handler) -> None:
    compare = commands.add_parser(
        "compare", help="one configuration under several variants, interleaved",
        description="Randomized paired rounds of variants; --variant a=stock --variant b=stock "
                    "is an A/A check that must never come out 'faster' or 'slower'.",
    )  # fmt: skip
    _common(compare)
    compare.add_argument("--mode", choices=("eager", "graph", "xla"), help="g2p execution mode")
    compare.set_defaults(handler=handler)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 1,2,6, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one size")
    return values


def _rounds(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    try:
        bounds = int(low), int(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN or MIN-MAX rounds, got {text!r}") from None
    if not 2 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"rounds {text!r}: need 2 <= MIN <= MAX")
    return bounds


def _str_list(text: str) -> list[str]:
    values = [part.strip() for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError("expected at least one name, e.g. graph,threads")
    return values


def _count(text: str, minimum: int = 0) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _count(text, minimum=1)
