"""Do tandem rounds narrow the CI of a compare whose sides need separate worker processes?

    python -m benchmarks.tandem_precision [--pairs 4] [--rounds 10] [--effect 0.10]
    python -m benchmarks.tandem_precision --build intel-tensorflow==2.14.0 --mode graph

Each pair is two ``tfopt compare`` runs of the credibility benchmark's A/B (g2p in XLA mode,
side b doing ``--effect`` more real arithmetic, its amount calibrated once and set through an env
var, so the sides cannot share a process), with a fixed number of rounds: one with ``--tandem``
(both workers at once, taking turns at their timed sweeps), one without (one worker after the
other). The two arms of a pair run back to back in a random order. The JSON gives every
compare's ratio, 95% CI half-width and time, and per arm the medians; the ratio of the median
half-widths is the answer.

With ``--build SPEC``, side b is that TensorFlow build instead (``--variant b=SPEC`` against
``a=stock``, no extra work): whether tandem rounds bias the ratio of a build whose idle threads
may spin into the other side's turns (an OpenMP runtime's ``KMP_BLOCKTIME``) is then the answer,
read from the two arms' ratios.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .credibility import MODES, Trial, calibrate_extra, products_of, run_trial

ARMS = {"tandem": ["--tandem"], "sequential": ["--no-tandem"]}


def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="tandem-precision-"))
    kind = {0.10: "ab10", 0.05: "ab5"}[args.effect]
    result: dict = {"kind": "tandem_precision", "rounds": args.rounds, "mode": args.mode,
                    "effect": None if args.build else args.effect, "build": args.build,
                    "started": time.time(), "runs": []}  # fmt: skip
    sides = ("a=stock", f"b={args.build}") if args.build else ()
    result["extra_products"] = {} if args.build else calibrate_extra([kind], args.mode)
    order = random.Random(args.seed)
    for pair in range(args.pairs):
        for arm in order.sample(list(ARMS), len(ARMS)):
            trial = Trial(pair, arm, kind)
            entry = run_trial(trial, work, False, args.mode,
                              extra=["--workers", str(args.rounds), *ARMS[arm]],
                              products=products_of(result["extra_products"], kind),
                              sides=sides)  # fmt: skip
            entry["arm"] = arm
            result["runs"].append(entry)
            print(f"pair {pair} {arm}: {_line(entry)}", flush=True)
            result["arms"] = summarise(result["runs"])
            args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


def summarise(runs: list[dict]) -> dict:
    arms = {}
    for arm in ARMS:
        done = [e for e in runs if e["arm"] == arm and e.get("verdict") is not None]
        if done:
            arms[arm] = {
                "n": len(done),
                "half_width_pct_median": statistics.median(e["half_width_pct"] for e in done),
                "ratio_median": statistics.median(e["value"] for e in done),
                "seconds_median": statistics.median(e["seconds"] for e in done),
                "verdicts": [e["verdict"] for e in done],
            }
    if len(arms) == len(ARMS):
        arms["half_width_ratio"] = (arms["tandem"]["half_width_pct_median"]
                                    / arms["sequential"]["half_width_pct_median"])  # fmt: skip
        arms["ratio_shift"] = arms["tandem"]["ratio_median"] / arms["sequential"]["ratio_median"]
    return arms


def _line(entry: dict) -> str:
    if entry.get("verdict") is None:
        return f"failed: {entry.get('error', '')[-300:]}"
    low, high = entry["ci95"]
    return (f"{entry['value']:.3f} [{low:.3f}, {high:.3f}] +/-{entry['half_width_pct']:.1f}%, "
            f"{entry['verdict']}, {entry['seconds']:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tandem_precision",
                                     description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--effect", type=float, choices=(0.05, 0.10), default=0.10)
    parser.add_argument("--build", metavar="SPEC",
                        help="side b is this TensorFlow build (a --variant spec), not extra work")
    parser.add_argument("--mode", choices=MODES, default="xla")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/tandem_precision.json"))
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(json.dumps(run(args)["arms"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
