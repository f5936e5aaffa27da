"""What a zygote saves per replicate: the same cheap g2p runs with workers forked from a zygote
(`tuner.zygote`, TensorFlow imported once) and with workers that import TensorFlow themselves
(``zygote = false``), interleaved: zygote, plain, zygote, plain, ...

A replicate is one `LocalExecutor.execute` of a one-worker job, timed from the driver: the
worker's whole life (start, import, model build, warm-up, timed sweeps, report, reap). The first
zygote replicate also waits for the zygote to start and import TensorFlow; it is reported apart
(``first``), and ``steady`` compares the replicates after it. Each payload's ``start``,
``import_seconds`` (the worker's own import) and ``import_saved_seconds`` (its zygote's) are kept.

    python benchmarks/zygote_overhead.py [--replicates 4] [--out results/zygote_overhead.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

G2P = {"name": "zygote", "workload": "g2p", "mode": "graph", "batch_size": 16, "sizes": [1, 6],
       "warmup": 1, "repeats": 3, "mem_trace": {"enabled": False}}  # fmt: skip
SIDES = {"zygote": True, "plain": False}


def replicates(count: int) -> dict:
    from tfopt.executors.local import LocalExecutor
    from tfopt.experiment import jobs_of
    from tfopt.matrix import resolve
    from tfopt.variants import STOCK, Variant
    from tuner.zygote import close_all

    runs: dict[str, list[dict]] = {side: [] for side in SIDES}
    with tempfile.TemporaryDirectory() as tmp:
        executor = LocalExecutor(Path(tmp), {STOCK: Variant(STOCK)}, print)
        jobs = {side: jobs_of(resolve({**G2P, "workers": count, "zygote": on}), Path(tmp))
                for side, on in SIDES.items()}  # fmt: skip
        try:
            for number in range(count):
                for side in SIDES:
                    runs[side].append(_timed(executor, jobs[side][number]))
        finally:
            close_all()
    return runs


def _timed(executor, job) -> dict:
    started = time.monotonic()
    record = executor.execute(job)
    seconds = time.monotonic() - started
    payload = record.payload or {}
    return {"seconds": round(seconds, 3), "status": record.status,
            "worker_wall_time": round(record.wall_time or 0.0, 3), "start": payload.get("start"),
            "import_seconds": round(payload.get("import_seconds") or 0.0, 3),
            "import_saved_seconds": round(payload.get("import_saved_seconds") or 0.0, 3),
            "build_seconds": round(payload.get("build_seconds") or 0.0, 3)}  # fmt: skip


def summarize(runs: dict) -> dict:
    steady = {side: [r["seconds"] for r in rows[1:]] for side, rows in runs.items()}
    median = {side: round(statistics.median(values), 3) for side, values in steady.items()
              if values}  # fmt: skip
    summary = {
        "first": {side: rows[0]["seconds"] for side, rows in runs.items()},
        "steady_median_s": median,
        "mean_all_s": {side: round(statistics.mean(r["seconds"] for r in rows), 3)
                       for side, rows in runs.items()},  # fmt: skip
    }
    if len(median) == 2:
        summary["saved_per_replicate_s"] = round(median["plain"] - median["zygote"], 3)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=4, help="replicates of each side")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "zygote_overhead.json")
    args = parser.parse_args(argv)
    if args.replicates < 2:
        parser.error("--replicates must be at least 2 (the first zygote one is reported apart)")
    load_before = [round(v, 2) for v in os.getloadavg()]
    runs = replicates(args.replicates)
    result = {"config": G2P, "replicates": args.replicates, "cores": os.cpu_count(),
              "load_before": load_before, "load_after": [round(v, 2) for v in os.getloadavg()],
              "summary": summarize(runs), "runs": runs}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
