"""Search quality: evaluations spent and gap to the grid optimum, per strategy and landscape.

Runs in-process (a landscape is a formula or a table, there is nothing to fork) through the same
`Study` loop the tuner uses, so repeats and incumbent re-measurement are part of what is judged.
``python -m benchmarks.tuner_bench.quality`` writes ``results/tuner_quality.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path
from typing import Any

from benchmarks.tuner_bench.landscapes import Landscape, RecordedLandscape, ThreadingLandscape
from tuner.outcome import TrialOutcome, TrialStatus
from tuner.runner import Study
from tuner.strategies import make_strategy

RECORDED = Path(__file__).resolve().parents[2] / "tests" / "data" / "g2p_threading_landscape.json"
STRATEGIES = ("nelder-mead", "random", "grid")
BUDGET_FRACTION = 0.10


def search(landscape: Landscape, strategy: str, noise: float, seed: int, budget: int | None):
    objective = landscape.noisy(noise, seed)

    def executor(config: dict) -> TrialOutcome:
        return TrialOutcome(TrialStatus.COMPLETE, value=objective(config))

    space = landscape.space
    study = Study(space, make_strategy(strategy, space, seed=seed), executor, budget=budget)
    result = study.run()
    return {
        "evaluations": result.evaluated,
        "trials": len(result.trials),
        "fraction_of_grid": result.evaluated / space.size,
        "gap": math.inf if result.best_config is None else landscape.gap(result.best_config),
    }


def judge(landscape: Landscape, noise: float, seeds: range) -> dict:
    """Every strategy on one landscape: per-seed runs and their medians."""
    budget = max(1, math.floor(BUDGET_FRACTION * landscape.space.size))
    out: dict[str, Any] = {"grid_size": landscape.space.size, "budget": budget, "noise": noise}
    for strategy in STRATEGIES:
        runs = [
            search(landscape, strategy, noise, seed, None if strategy == "grid" else budget)
            for seed in seeds
        ]
        out[strategy] = {
            "median_gap": statistics.median(r["gap"] for r in runs),
            "max_gap": max(r["gap"] for r in runs),
            "within_5_percent": sum(r["gap"] <= 0.05 for r in runs) / len(runs),
            "median_evaluations": statistics.median(r["evaluations"] for r in runs),
            "max_evaluations": max(r["evaluations"] for r in runs),
            "runs": runs,
        }
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="search quality on noisy landscapes")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--noise", type=float, default=0.03)
    parser.add_argument("--out", type=Path, default=Path("results/tuner_quality.json"))
    args = parser.parse_args(argv)
    out_path, noise, seeds = args.out, args.noise, range(args.seeds)
    report = {
        "synthetic": {
            f"threading-{i}": judge(ThreadingLandscape.random(i), noise, seeds) for i in range(10)
        }
    }
    if RECORDED.exists():
        recorded = RecordedLandscape(RECORDED)
        report["recorded"] = judge(recorded, noise, seeds)
        report["recorded"]["environment"] = recorded.environment
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=1))
    print(summarise(report))
    return report


def summarise(report: dict) -> str:
    lines = [f"{'landscape':<14}{'strategy':<13}{'evals':>7}{'grid':>6}{'med gap':>9}{'<=5%':>6}"]
    cases = {
        **report["synthetic"],
        **({"recorded": report["recorded"]} if "recorded" in report else {}),
    }
    for name, case in cases.items():
        for strategy in STRATEGIES:
            s = case[strategy]
            lines.append(
                f"{name:<14}{strategy:<13}{s['median_evaluations']:>7}{case['grid_size']:>6}"
                f"{s['median_gap']:>9.3%}{s['within_5_percent']:>6.0%}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
