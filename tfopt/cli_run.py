"""Running one parsed ``tfopt`` command: how it ends (exit codes, stop signals) and what it
prints (JSON with ``--json``, else lines for a human).

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
from collections.abc import Iterator
from typing import cast

from .matrix import ConfigError
from .progress import Progress
from .summary import Summary, direction_text, speedup_text

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

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


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command (``args.handler``), print its result, and say how it ended."""
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

        return console_format.render(cast(Summary, result), result.get("out", ""))
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
