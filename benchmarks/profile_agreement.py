"""Does ``make profile`` give the same answer twice, in time? Runs of the lab on g2p, back to back.

    python -m benchmarks.profile_agreement [--runs 2] [--quick-runs 1]
        [--out examples/results/profile-agreement]

Each run is ``python profile.py`` (the default run, ``--quick`` for the quick ones) as a user runs
it, in a fresh results folder, timed from the outside. ``profile_agreement.json`` holds per run
its wall time, the steps screening kept, the steps the final rounds show faster than initial,
Best and its speedup with the 95% CI, the report's contradictions (none expected), each
step's speedup over its base as screening and the final rounds measured it, and how far
``initial`` itself moved between screening and the final rounds (`tfopt.summary.baseline_drift`)
beside its final median, which later runs are set against; then the targets:
every default run within 15 minutes and every quick run within 3, the default runs keeping the
same steps, each default run's Best speedup inside every other's CI, and no step of a default
run whose screening and final intervals lie apart (a measuring bias between the two).
It is rewritten after every run, so an interrupted benchmark keeps the runs it finished.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tfopt.recommend import contradictions
from tfopt.summary import from_dict

from .credibility import machine
from .targets import target

SECONDS = {"default": 15 * 60, "quick": 3 * 60}
JSON_NAME = "profile_agreement.json"


def profile_run(preset: str, folder: Path) -> dict:
    """One timed ``profile.py`` run and what its summary concludes."""
    command = [sys.executable, "profile.py", "--out", str(folder)]
    command += ["--quick"] if preset == "quick" else []
    start = time.monotonic()
    done = subprocess.run(command, text=True, capture_output=True)
    entry: dict = {"preset": preset, "seconds": time.monotonic() - start, "folder": str(folder)}
    if done.returncode != 0:
        return {**entry, "error": done.stderr.strip()[-2000:]}
    return {**entry, **conclusions(json.loads((folder / "summary.json").read_text()), folder)}


def conclusions(summary: dict, source: Path) -> dict:
    """What a reader of the report takes away: kept steps, confirmed steps, Best."""
    steps = summary.get("steps", [])
    speedup = summary.get("speedup") or {}
    return {
        "kept": [step["label"] for step in steps if step.get("kept")],
        "faster": [step["label"] for step in steps
                   if (step.get("vs_initial") or {}).get("verdict") == "faster"],
        "best": summary.get("best"),
        "tied": summary.get("tied", []),
        "speedup": speedup.get("value"),
        "ci95": speedup.get("ci95"),
        "recommendation": summary.get("recommendation"),
        "contradictions": contradictions(from_dict(summary, source)),
        "screening_vs_final": {step["label"]: screening_vs_final(step) for step in steps
                               if step.get("vs_previous") and step.get("vs_base")},
        "initial_ms": _median_ms(summary, "initial"),
        "drift": summary.get("drift"),
    }  # fmt: skip


def _median_ms(summary: dict, label: str) -> float | None:
    sweep = (summary.get("configs", {}).get(label) or {}).get("sweep") or {}
    return sweep.get("median")


def screening_vs_final(step: dict) -> dict:
    """A step's speedup over its base as screening and the final rounds measured it (each with
    its 95% CI), and whether the two intervals overlap: they measure the same ratio."""
    screening, final = step["vs_previous"], step["vs_base"]
    return {"base": final["before"], "screening": [screening["value"], *screening["ci95"]],
            "final": [final["value"], *final["ci95"]],
            "overlap": screening["ci95"][0] <= final["ci95"][1]
            and final["ci95"][0] <= screening["ci95"][1]}  # fmt: skip


def targets(runs: list[dict]) -> dict:
    """The issue's targets, each with its value and whether it is met."""
    found: dict = {}
    for preset, limit in SECONDS.items():
        times = [run["seconds"] for run in runs if run["preset"] == preset]
        if times:
            found[f"{preset}_seconds_max"] = target(max(times), "<=", limit)
    done = [run for run in runs if run["preset"] == "default" and "error" not in run]
    found["failed_runs"] = target(sum("error" in run for run in runs), "<=", 0)
    found["contradictions"] = target(sum(len(run.get("contradictions", [])) for run in runs),
                                      "<=", 0)  # fmt: skip
    apart = [label for run in done for label, step in run.get("screening_vs_final", {}).items()
             if not step["overlap"]]  # fmt: skip
    found["screening_final_disagreements"] = target(len(apart), "<=", 0)
    if len(done) >= 2:
        kept = {tuple(run["kept"]) for run in done}
        found["same_kept_steps"] = target(len(kept) == 1, "==", True)
        found["best_inside_each_others_ci"] = target(_inside_each_other(done), "==", True)
    return found


def _inside_each_other(runs: list[dict]) -> bool:
    """Every run's Best speedup (1.0 when it found none) lies in every other run's 95% CI."""
    values = [run["speedup"] or 1.0 for run in runs]
    return all(run["ci95"][0] <= value <= run["ci95"][1] for i, value in enumerate(values)
               for j, run in enumerate(runs) if i != j and run["ci95"])  # fmt: skip


def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="profile-agreement-"))
    result: dict = {"kind": "profile_agreement", "machine": machine(), "started": time.time(),
                    "work": str(work), "runs": []}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    presets = ["default"] * args.runs + ["quick"] * args.quick_runs
    for index, preset in enumerate(presets):
        print(f"[{index + 1}/{len(presets)}] profile.py {preset} ...", end=" ", flush=True)
        entry = profile_run(preset, work / f"{index:02d}-{preset}")
        print(_line(entry), flush=True)
        result["runs"].append(entry)
        result["targets"] = targets(result["runs"])
        (args.out / JSON_NAME).write_text(json.dumps(result, indent=1) + "\n")
    return result


def _line(entry: dict) -> str:
    if "error" in entry:
        return f"failed after {entry['seconds']:.0f} s"
    ci = entry["ci95"] or [1.0, 1.0]
    return (f"Best {entry['best']} {entry['speedup'] or 1.0:.2f}x [{ci[0]:.2f}, {ci[1]:.2f}], "
            f"kept {','.join(entry['kept']) or 'nothing'}, {entry['seconds']:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_agreement",
                                     description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument("--runs", type=int, default=2, help="default runs (default 2)")
    parser.add_argument("--quick-runs", type=int, default=1, help="--quick runs (default 1)")
    parser.add_argument("--out", type=Path, default=Path("examples/results/profile-agreement"))
    print(json.dumps(run(parser.parse_args(argv))["targets"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
