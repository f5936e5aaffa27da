"""``tfopt profile|tune|compare|env|report``; ``python profile.py`` is ``tfopt profile``.

Exit codes: 0 done; 1 the runs failed (no result); 2 bad usage, config or limits (refused before
anything ran); 130 interrupted by Ctrl-C (SIGINT), 143 by SIGTERM, 129 by SIGHUP: each stops the
runs in flight and keeps every finished one (run the same command again to resume).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from . import variants as variants_mod
from .lock import hold_results_folder
from .matrix import ConfigError
from .progress import Progress
from .summary import direction_text, speedup_text

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_OUT = os.environ.get("TFOPT_RESULTS", "results")

# Sweeps are timed for ``duration`` seconds per worker (at least 5), after ``warmup`` sweeps.
# Many short replicates beat a few long ones: a worker is a replicate, a round one of each.
# Rounds: (min, max, seconds) for the final rounds, the screening of a step, and compare.
QUICK = {"duration": 0.5, "warmup": 1, "final": (4, 4, 60.0), "screen": (2, 2, None),
         "compare": (6, 12, 90.0), "tune_budget": 2, "tune_remeasure": False}  # fmt: skip
FULL = {"duration": 1.0, "warmup": 2, "final": (6, 20, 400.0), "screen": (3, 3, None),
        "compare": (8, 80, 150.0), "tune_budget": 10, "tune_remeasure": True}  # fmt: skip

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


# SIGTERM and SIGHUP stop a lab the way Ctrl-C does; the exit code says which signal it was.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_stopped_by: list[int] = []


def _stop(signum: int, _frame) -> None:
    _stopped_by.append(signum)
    raise KeyboardInterrupt


def _install_stop_handlers() -> None:
    _stopped_by.clear()
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop)


def _interrupted_exit_code() -> int:
    return 128 + _stopped_by[0] if _stopped_by else EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    args.progress = Progress(0)
    _install_stop_handlers()
    try:
        result = _handle(args)
    except (ConfigError, ValueError, TypeError) as err:
        if args.progress.done:  # not a usage problem: something went wrong mid-run
            print(f"tfopt {args.command}: failed: {err}", file=sys.stderr)
            return EXIT_FAILED
        print(f"tfopt {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\ntfopt {args.command}: interrupted; finished runs are saved in "
              f"{getattr(args, 'out', '.')}. Run the same command again to resume.",
              file=sys.stderr)  # fmt: skip
        return _interrupted_exit_code()
    except RuntimeError as err:
        print(f"tfopt {args.command}: failed: {err}", file=sys.stderr)
        return EXIT_FAILED
    return _emit(args, result)


def _handle(args) -> dict:
    """Run the command; its zygotes (and any worker they still have) end with it. With
    ``--json`` stdout carries the result alone: whatever else writes to it while the command
    runs (a library's log line, a Ray daemon's message) goes to stderr."""
    try:
        with _stdout_to_stderr(getattr(args, "json", False)):
            return args.handler(args)
    finally:
        if "tuner.zygote" in sys.modules:
            sys.modules["tuner.zygote"].close_all()


@contextlib.contextmanager
def _stdout_to_stderr(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _emit(args, result: dict) -> int:
    text = json.dumps(result, indent=2, default=str) if args.json else _human(result)
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `| head` closed the pipe: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    configs = result.get("configs")
    if configs is not None and not any(entry.get("sweep") for entry in configs.values()):
        return EXIT_FAILED
    return EXIT_OK


def _human(result: dict) -> str:
    if result.get("kind") in ("lab", "compare", "matrix"):
        from .export import console_format

        return console_format.render(result, result.get("out", ""))
    if "speedup" in result and result["speedup"]:
        return (f"best: {result['best']}: {direction_text(result['speedup'])} "
                f"({speedup_text(result['speedup'])}); "
                f"report: {result.get('out', '')}/report.md")  # fmt: skip
    if "comparisons" in result and result["comparisons"]:
        return "\n".join(_comparison_line(c) for c in result["comparisons"])
    if result.get("kind") == "matrix":
        return "\n".join([_config_line(e) for e in result["configs"].values()]
                         + [f"report: {result.get('out', '')}/report.md"])  # fmt: skip
    if "best_config" in result:
        return f"best threads: {result['best_config']} ({result['best_ms']:.2f} ms/sweep)"
    return json.dumps(result, indent=2, default=str)


def _config_line(entry: dict) -> str:
    sweep = entry.get("sweep")
    if not sweep:
        return f"{entry['label']}: no worker completed"
    flag = "  (unstable)" if sweep["unstable"] else ""
    return (f"{entry['label']}: median {sweep['median']:.2f} ms/sweep, p90 {sweep['p90']:.2f}, "
            f"{entry['throughput']:.1f} {entry.get('unit', 'items')}/s{flag}")  # fmt: skip


def _comparison_line(item: dict) -> str:
    c = item["comparison"]
    if not c:
        return f"{item['file']}: not measured"
    return f"{direction_text(c)}: {speedup_text(c, digits=3)}, {c['test']}"


# --- parser --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfopt", description=DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter,
        epilog="exit codes: 0 done, 1 runs failed, 2 bad usage/config/limits, 130 interrupted",
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _profile_parser(commands)
    _tune_parser(commands)
    _compare_parser(commands)
    env = commands.add_parser("env", help="print the environment record")
    env.add_argument("--no-tensorflow", action="store_true", help="skip the TensorFlow probe")
    env.add_argument("--json", action="store_true", help="machine-readable output")
    env.set_defaults(handler=_run_env)
    report = commands.add_parser("report", help="redraw plots and report from summary.json")
    report.add_argument("out", type=Path, help="a results folder holding summary.json")
    report.add_argument("--json", action="store_true", help="print the summary")
    report.set_defaults(handler=_run_report)
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
                       help="a worker per configuration per round, even where configurations "
                            "could share one (alternating their sweeps ABBA)")  # fmt: skip
    group.add_argument("--no-zygote", action="store_true",
                       help="every worker imports TensorFlow itself, instead of being forked "
                            "from a process per environment that imported it once")  # fmt: skip
    group.add_argument("--no-tandem", action="store_true",
                       help="a round's workers one after the other, instead of all at once "
                            "taking turns at their timed sweeps")  # fmt: skip
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


def _profile_parser(commands) -> None:
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
    profile.set_defaults(handler=_run_profile)


def _tune_parser(commands) -> None:
    tune = commands.add_parser("tune", help="tune thread counts for one configuration")
    _common(tune)
    tune.add_argument("--mode", choices=("eager", "graph", "xla"), help="g2p execution mode")
    tune.add_argument("--budget", type=_positive_int, default=8, help="tuner trials")
    tune.set_defaults(handler=_run_tune)


def _compare_parser(commands) -> None:
    compare = commands.add_parser(
        "compare", help="one configuration under several variants, interleaved",
        description="Randomized paired rounds of variants; --variant a=stock --variant b=stock "
                    "is an A/A check that must never come out 'faster' or 'slower'.",
    )  # fmt: skip
    _common(compare)
    compare.add_argument("--mode", choices=("eager", "graph", "xla"), help="g2p execution mode")
    compare.set_defaults(handler=_run_compare)


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


# --- handlers -----------------------------------------------------------------------------------


def _preset(args) -> dict:
    return {**(QUICK if args.quick else FULL)}


def _budget(args, phase: str):
    """The rounds of ``phase`` ("final", "screen", "compare"): the preset, or as flags say."""
    from .rounds import Budget

    low, high, seconds = _preset(args)[phase]
    if args.workers:
        low = high = max(2, args.workers)
    if args.rounds and phase != "screen":
        low, high = args.rounds
    if args.time_budget and phase != "screen":
        seconds = args.time_budget
    return Budget(low, high, seconds)


def _base_config(args) -> dict:
    """The config table the command line describes (unset flags keep the defaults)."""
    preset = _preset(args)
    base = {
        "workload": args.workload,
        "inputs": args.inputs,
        "signature": args.signature,
        "input": args.input,
        "hint": args.hint,
        "repeats": args.repeats,
        "duration": None if args.repeats else (args.duration or preset["duration"]),
        "warmup": args.warmup if args.warmup is not None else preset["warmup"],
        "cpus": args.cpus,
        "memory": args.memory,
        "zygote": not args.no_zygote,
        "tandem": not args.no_tandem,
    }
    if args.sizes:
        base["sizes"] = args.sizes
    if args.quick:
        base["mem_trace"] = {"top": 0}  # allocation tracing slows model builds
    return base


def _variants(args) -> dict:
    parsed = [variants_mod.parse(text) for text in args.variant]
    runtimes = [v.name for v in parsed if v.runtime]
    if runtimes and not args.workload.startswith("savedmodel:"):
        raise ValueError(f"runtime variant(s) {runtimes} convert a SavedModel: use "
                         "--workload savedmodel:/path")  # fmt: skip
    names = [v.name for v in parsed]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"--variant names must be unique; repeated: {duplicates}")
    return {v.name: v for v in parsed}


# Flags that describe one configuration: with --config, the config file says these instead.
CONFIG_FILE_KEYS = ("workload", "inputs", "signature", "input", "hint", "sizes", "cpus",
                    "memory", "repeats", "duration", "warmup", "workers", "rounds", "time_budget",
                    "separate_processes", "quick", "steps", "tune_budget", "no_zygote",
                    "no_tandem")  # fmt: skip


def _refuse_flags_beside_config(args) -> None:
    defaults = build_parser().parse_args(["profile"])
    given = [key for key in CONFIG_FILE_KEYS if getattr(args, key) != getattr(defaults, key)]
    if given:
        flags = ", ".join("--" + key.replace("_", "-") for key in given)
        raise ConfigError(f"{flags} cannot be combined with --config: set them in {args.config}")


def _hold_out(args) -> None:
    """Lock --out for this process (kept until it exits), refusing an unusable folder."""
    args.out_lock = hold_results_folder(args.out)


def _check_engine(args) -> None:
    if args.engine == "ray" and not args.config:
        raise ConfigError("--engine ray runs experiment matrices: give --config FILE")
    if args.ray_address and args.engine != "ray":
        raise ConfigError("--ray-address needs --engine ray")


def _run_profile(args) -> dict:
    _check_engine(args)
    if args.config and args.engine == "ray":
        from .scaleout import run_experiment_on_ray

        _refuse_flags_beside_config(args)
        summary = run_experiment_on_ray(args.config, args.out, args.progress, _variants(args),
                                        args.ray_address)  # fmt: skip
    elif args.config:
        from .experiment import run_experiment

        _refuse_flags_beside_config(args)
        variants = _variants(args)
        _hold_out(args)
        summary = run_experiment(args.config, args.out, args.progress, variants)
    else:
        from .lab import Lab, LabSettings

        preset = _preset(args)
        settings = LabSettings(
            base=_base_config(args),
            steps=args.steps,
            variants=_variants(args),
            final=_budget(args, "final"),
            screen=_budget(args, "screen"),
            share_processes=not args.separate_processes,
            tune_budget=args.tune_budget or preset["tune_budget"],
            tune_remeasure=preset["tune_remeasure"],
        )
        lab = Lab(settings, args.out, args.progress)
        _hold_out(args)
        summary = lab.run()
    return {**summary, "out": str(args.out)}


def _run_tune(args) -> dict:
    from .lab import Lab, LabSettings

    base = {**_base_config(args), "mode": args.mode}
    lab = Lab(LabSettings(base=base, steps=["threads"], tune_budget=args.budget), args.out,
              args.progress)  # fmt: skip
    _hold_out(args)
    lab.progress.expected = args.budget
    lab.tune(lab.initial)
    return {**lab.tuned, "out": str(args.out)}


def _run_compare(args) -> dict:
    from .compare import run_compare

    chosen = _variants(args)
    if len(chosen) < 2:
        raise ValueError("compare needs at least two --variant NAME=SPEC options")
    base = {**_base_config(args), "mode": args.mode}
    _hold_out(args)
    summary = run_compare(base, chosen, _budget(args, "compare"), args.out, args.progress,
                          share=not args.separate_processes)  # fmt: skip
    return {**summary, "out": str(args.out)}


def _run_env(args) -> dict:
    from . import environment

    if args.no_tensorflow:
        return environment.environment_record()
    with tempfile.TemporaryDirectory() as logs:
        return environment.record_environment(Path(logs))


def _run_report(args) -> dict:
    from .export import export_all, json_format

    path = args.out / json_format.SUMMARY
    if not path.exists():
        raise ValueError(f"{path} does not exist: run 'tfopt profile --out {args.out}' first")
    summary = json_format.read_json(path)
    written = export_all(summary, args.out)
    return {**summary, "out": str(args.out), "written": [str(p) for p in written]}
