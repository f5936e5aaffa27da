"""`python -m benchmarks.g2p_bench [--out results/g2p_bench.json] [--quick] [--core 0]`

Runs every contender in its own single-threaded worker pinned to one core, in two passes of
opposite order (so a noisy spell does not fall on one contender only), pooling the raw samples;
writes the JSON after each worker (a crash loses nothing), then the summary and a PNG.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from g2p import sample_words
from tfopt.environment import read_cpuinfo

from . import report
from .contenders import CONTENDERS, REFERENCE, TF_CONTENDERS
from .plot import plot
from .worker import single_thread_environment

SCHEMA = 2
BATCH_SIZES = (1, 32, 256, 1024)
FULL = {"passes": 2, "sample": 1024, "single_word_calls": 128, "gemm_size": 1024, "timeout": 600}
QUICK = {"passes": 1, "sample": 256, "single_word_calls": 32, "gemm_size": 512, "timeout": 120}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.g2p_bench",
        description="g2p on one core: g2p_en's NumPy decoder, its peers and each TensorFlow mode.",
    )
    parser.add_argument("--out", type=Path, default=Path("results/g2p_bench.json"))
    parser.add_argument("--quick", action="store_true", help="a smaller sample and budget (<1 min)")
    parser.add_argument(
        "--passes", type=int, help="passes over the contenders (default 2; quick 1)"
    )
    parser.add_argument("--core", type=int, default=0, help="the core every worker is pinned to")
    parser.add_argument(
        "--contenders", nargs="+", choices=list(CONTENDERS), default=list(CONTENDERS)
    )
    args = parser.parse_args(argv)
    if args.core not in _available_cores():
        parser.error(
            f"--core {args.core} is not available; usable cores: {sorted(_available_cores())}"
        )
    if REFERENCE not in args.contenders:
        args.contenders.insert(0, REFERENCE)  # ratios and exactness are relative to it
    return args


def _available_cores() -> set[int]:
    return os.sched_getaffinity(0)


def metadata(core: int) -> dict:
    cpu, _ = read_cpuinfo()
    packages = ("tensorflow-cpu", "numpy", "onnxruntime", "g2p-en")
    return {
        "cpu": cpu,
        "core": core,
        "clock": "process CPU time (time.process_time)",
        "nice": os.getpriority(os.PRIO_PROCESS, 0),  # the workers inherit it
        "python": platform.python_version(),
        "kernel": platform.release(),
        "versions": {name: _version(name) for name in packages},
    }


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def run_worker(task: dict, timeout: float) -> dict:
    """Run one task in a fresh process; a failure is recorded, not raised."""
    with tempfile.TemporaryDirectory() as folder:
        task_path, result_path = Path(folder, "task.json"), Path(folder, "result.json")
        task_path.write_text(json.dumps(task))
        command = [sys.executable, "-m", "benchmarks.g2p_bench.worker", str(task_path),
                   str(result_path)]  # fmt: skip
        try:
            done = subprocess.run(
                command,
                env=single_thread_environment(),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout} s"}
        if done.returncode != 0 or not result_path.exists():
            return {"error": f"exit {done.returncode}: {done.stderr.strip()[-2000:]}"}
        return json.loads(result_path.read_text())


def write(record: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2))


def measure_contenders(record: dict, args: argparse.Namespace, settings: dict) -> None:
    words = record["config"]["words"]
    task = {
        "task": "contender",
        "core": args.core,
        "quick": args.quick,
        "words": words,
        "batch_sizes": list(BATCH_SIZES),
        "single_word_calls": settings["single_word_calls"],
    }
    for number in range(settings["passes"]):
        order = args.contenders if number % 2 == 0 else args.contenders[::-1]
        for name in order:
            print(f"pass {number + 1}: measuring {name} ...", file=sys.stderr, flush=True)
            record_pass(record, name, run_worker({**task, "name": name}, settings["timeout"]))
            write(record, args.out)


def measure_anatomy(record: dict, args: argparse.Namespace, settings: dict) -> None:
    """Fixed and per-step cost of a single word, for each compiled TensorFlow mode benchmarked."""
    words = record["config"]["words"][: settings["single_word_calls"]]
    for name, mode in TF_CONTENDERS.items():
        if mode != "eager" and name in args.contenders:
            print(f"single-word anatomy of {name} ...", file=sys.stderr, flush=True)
            task = {"task": "anatomy", "core": args.core, "mode": mode, "words": words}
            record.setdefault("anatomy", {})[name] = run_worker(task, settings["timeout"])
            write(record, args.out)


def record_pass(record: dict, name: str, result: dict) -> None:
    """Pool one worker's samples into the contender's record; a failure is kept as a warning."""
    contender = record["contenders"].setdefault(name, {})
    if "error" in result:
        warnings.warn(f"{name} failed: {result['error']}", stacklevel=1)
        contender.setdefault("errors", []).append(result["error"])
        return
    predictions = result["predictions"]
    if name == REFERENCE:
        record.setdefault("reference_predictions", predictions)
    if "reference_predictions" in record:
        found = report.mismatches(predictions, record["reference_predictions"])
        contender["mismatches"] = max(found, contender.get("mismatches", 0))
    report.merge(contender, result)


def summarize(record: dict) -> None:
    reference = record.pop("reference_predictions", None)
    peak = record["peak"].get("peak_flops")
    if reference is None or peak is None:
        return
    record["flops"] = report.flops_summary(
        record["config"]["words"], reference, peak, record["config"]["batch_sizes"]
    )
    roofline = record["flops"]["roofline_words_per_s"]
    for result in record["contenders"].values():
        if "throughput" in result:
            result["roofline_fraction"] = report.best_batch(result)[1] / roofline
    record["summary"] = report.targets(record["contenders"], roofline)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.passes is not None:
        settings = {**settings, "passes": args.passes}
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "benchmark": "g2p",
        "metadata": metadata(args.core),
        "config": {
            "quick": args.quick,
            "batch_sizes": list(BATCH_SIZES),
            **settings,
            "words": sample_words(settings["sample"]),
        },
        "contenders": {},
        # Other work on the machine: 1, 5 and 15-minute load averages (the workers' core is
        # pinned, but its other threads, caches and memory bandwidth are shared).
        "loadavg": {"start": os.getloadavg()},
    }
    print("measuring the GEMM peak ...", file=sys.stderr, flush=True)
    record["peak"] = run_worker(
        {
            "task": "peak",
            "core": args.core,
            "quick": args.quick,
            "gemm_size": settings["gemm_size"],
        },
        settings["timeout"],
    )
    write(record, args.out)
    measure_contenders(record, args, settings)
    if not args.quick:
        measure_anatomy(record, args, settings)
    record["loadavg"]["end"] = os.getloadavg()
    summarize(record)
    write(record, args.out)
    plot(args.out, args.out.with_suffix(".png"))
    print(json.dumps(record.get("summary", {}), indent=2))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
