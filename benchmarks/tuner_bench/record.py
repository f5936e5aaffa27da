"""Record a real threading landscape: g2p's latency over a full grid of inter x intra threads.

Each grid point is one forked trial (TensorFlow imported once in the parent, runtime started only
in the children); the trial log makes an interrupted recording resumable. The result, with its
environment, goes to ``tests/data/g2p_threading_landscape.json`` for
`benchmarks.tuner_bench.quality`.

    python -m benchmarks.tuner_bench.record [--max-threads 16] [--words 256] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import tuner
from benchmarks.tuner_bench.quality import RECORDED
from tfopt.environment import read_cpuinfo
from tuner.limits import current
from tuner.tf import set_threading

PASSES = 5
TRIALS_PER_POINT = 3  # independent children per grid point, at different moments


def g2p_latency(config: dict, words: int = 512) -> float:
    """Fastest of ``PASSES`` passes of g2p (graph mode) over ``words`` words, after a warm-up.

    The minimum, not the median (here and across a point's children): on a shared machine
    contention only ever adds time, and the landscape should show what the thread counts do,
    not when a neighbour was busy.
    """
    import g2p

    set_threading([config["inter"], config["intra"]])
    model = g2p.Model(mode="graph", batch_size=64)
    sample = g2p.sample_words(words, seed=0)
    model.predict(sample[:64])  # traces the graph
    times = []
    for _ in range(PASSES):
        start = time.perf_counter()
        model.predict(sample)
        times.append(time.perf_counter() - start)
    return min(times)


def environment(words: int) -> dict:
    import tensorflow as tf

    return {
        "workload": f"g2p graph mode, batch 64, fastest of {PASSES} passes over "
        f"sample_words({words}, seed=0), in each of {TRIALS_PER_POINT} children per point; "
        "value = fastest over those children (median and max kept beside it)",
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": read_cpuinfo()[0],
        "confines": current().as_dict(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "note": "other processes shared the cores while recording: values carry that noise",
    }


def record(max_threads: int, words: int, out: Path, log: Path) -> dict:
    import g2p
    import tensorflow  # noqa: F401 - imported before forking, so every trial skips the import

    g2p.sample_words(words, seed=0)  # warm the word list's cache before forking, too

    space = {
        "inter": tuner.Int(1, max_threads, log=True),
        "intra": tuner.Int(1, max_threads, log=True),
    }
    result = tuner.minimize(
        lambda config: g2p_latency(config, words),
        space,
        strategy="grid",
        repeats=TRIALS_PER_POINT,
        confirm=0,  # a recording of the whole grid: no finals, no winner to name
        timeout=300,
        log=str(log),
        verbose=True,
    )
    points = [
        {"config": e.config, "value": e.spread["min"], "median": e.value, **e.spread}
        for e in result.evaluations
    ]
    data = {
        "space": tuner.Space(space).as_dict(),
        "environment": environment(words),
        "points": points,
    }
    out.write_text(json.dumps(data, indent=1) + "\n")
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-threads", type=int, default=16)
    parser.add_argument("--words", type=int, default=512)
    parser.add_argument("--out", type=Path, default=RECORDED)
    parser.add_argument("--log", type=Path, default=Path("results/g2p_landscape_trials.jsonl"))
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    record(args.max_threads, args.words, args.out, args.log)


if __name__ == "__main__":
    main()
