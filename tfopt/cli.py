"""``tfopt profile|tune|compare|env|report``; ``python profile.py`` is ``tfopt profile``.

What each subcommand does, from its parsed flags: the arguments are `tfopt.cli_args`'s, and how
a command ends (exit codes, stop signals) and what it prints are `tfopt.cli_run`'s. Exit codes:
0 done, 1 runs failed, 2 bad usage/config/limits, 130 interrupted (143 SIGTERM, 129 SIGHUP).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from . import cli_args
from . import variants as variants_mod
from .cli_run import EXIT_USAGE, run_command
from .lock import hold_results_folder
from .matrix import ConfigError

# Sweeps are timed for ``duration`` seconds per worker (at least 5), after ``warmup`` sweeps
# (and the untimed sweeps that calibrate the inner loop). Many short replicates beat a few long
# ones: a worker is a replicate, a round one of each. Rounds: (min, max, seconds) for the final
# rounds, the screening of a step (adaptive too: a step that a few rounds leave undecided gets
# more, so that two runs keep the same steps), and compare.
QUICK = {"duration": 0.5, "warmup": 1, "final": (3, 3, 45.0), "screen": (2, 2, None),
         "compare": (6, 12, 90.0), "tune_budget": 2, "tune_remeasure": False}  # fmt: skip
FULL = {"duration": 1.0, "warmup": 1, "final": (6, 20, 400.0), "screen": (3, 8, 60.0),
        "compare": (8, 80, 150.0), "tune_budget": 10, "tune_remeasure": True}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    return run_command(args)


def build_parser() -> argparse.ArgumentParser:
    """The command line, each subcommand bound to its handler below (looked up on each call)."""
    return cli_args.build_parser({"profile": _run_profile, "tune": _run_tune,
                                  "compare": _run_compare, "env": _run_env,
                                  "report": _run_report})  # fmt: skip


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
        "tandem": args.tandem,
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
                    "tandem")  # fmt: skip


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
