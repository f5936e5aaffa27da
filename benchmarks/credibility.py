"""Can the lab's verdicts be trusted on this machine? A/A and A/B compares of the real g2p model.

    python -m benchmarks.credibility [--quick] [--out examples/results/credibility]

Each compare is the lab's own ``tfopt compare`` at its default settings (``--quick``: the quick
preset) on g2p in XLA mode (``--mode``), run as a user runs it, in a fresh results folder:

- A/A: ``--variant a=stock --variant b=stock`` on the default g2p workload. Any "faster" or
  "slower" is a wrong verdict. The sides share one worker per round (sweeps alternated ABBA).
- A/A in workers of their own (``aa_own``): the same, but each side sets an env var the model
  never reads (``CREDIBILITY_SIDE``), so, as for two builds, each side needs workers of its own.
- A/B: the g2p workload wrapped by ``benchmarks.extra_compute``, side b doing 10% or 5% more
  real arithmetic per call (matrix products, their counts calibrated once at the start of the
  run and fixed for every worker: ``CREDIBILITY_EXTRA_PRODUCTS``). The right verdict is "slower".
  The sides differ in an env var, so each needs workers of its own, as two builds would (in
  tandem rounds, the default).

Every kind of compare runs in two conditions: ``quiet`` (only what else runs on the machine) and
``busy`` (plus a neighbour this benchmark starts and stops itself: a pure-Python loop pinned to
one core). Compares are interleaved (round r holds compare r of every kind and condition), so a
run cut short by ``--max-minutes`` or Ctrl-C is still balanced, and ``--resume`` runs the rest.
``credibility.json`` is rewritten after every compare; ``credibility.png`` is drawn at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tfopt.environment import cpu_record

from .credibility_plot import plot
from .credibility_summary import half_width_pct, summarise
from .extra_compute import PRODUCTS_ENV, products_text

SCHEMA = 1
CONDITIONS = ("quiet", "busy")
EFFECTS = {"aa": 0.0, "aa_own": 0.0, "ab10": 0.10, "ab5": 0.05}
WRAPPED = "benchmarks.extra_compute"
JSON_NAME, PNG_NAME = "credibility.json", "credibility.png"
# Counts per condition as the targets ask: 20 A/A compares, 10 of each A/B effect.
FULL_COUNTS = {"aa": 20, "aa_own": 20, "ab10": 10, "ab5": 10}
QUICK_COUNTS = {"aa": 2, "aa_own": 0, "ab10": 1, "ab5": 0}
SIDE_ENV = "CREDIBILITY_SIDE"  # read by nothing: it only keeps the sides' workers apart
MODES = ("eager", "graph", "xla")


@dataclass(frozen=True)
class Trial:
    """One compare of the plan."""

    round: int
    condition: str
    kind: str

    @property
    def effect(self) -> float:
        return EFFECTS[self.kind]

    @property
    def name(self) -> str:
        return f"{self.round:02d}-{self.condition}-{self.kind}"


def plan(counts: dict[str, int], conditions: tuple[str, ...]) -> list[Trial]:
    """Round r: compare r of each kind in each condition (kinds with fewer compares drop out);
    within a round each kind runs in every condition before the next kind starts."""
    rounds = max(counts.values(), default=0)
    return [Trial(r, condition, kind) for r in range(rounds)
            for kind, count in counts.items() if r < count
            for condition in conditions]  # fmt: skip


def still_to_run(trials: list[Trial], runs: list[dict]) -> list[Trial]:
    """The trials of the plan that ``runs`` (an earlier run's compares) do not hold yet."""
    done = {(run["round"], run["condition"], run["kind"]) for run in runs}
    return [trial for trial in trials if (trial.round, trial.condition, trial.kind) not in done]


def compare_command(trial: Trial, folder: Path, quick: bool, mode: str,
                    rounds: str | None = None, extra: Sequence[str] = (),
                    products: dict[int, int] | None = None,
                    sides: Sequence[str] = ()) -> list[str]:  # fmt: skip
    """The ``tfopt compare`` a user would type for this trial (``rounds``: its ``--rounds``;
    ``extra``: more of its options; ``products``: side b's extra work, for an A/B; ``sides``:
    the two ``--variant`` specs instead of the trial kind's)."""
    command = [sys.executable, "-m", "tfopt", "compare", "--mode", mode, "--out", str(folder)]
    command += [*(["--rounds", rounds] if rounds else []), *extra]
    if sides:
        command += [option for side in sides for option in ("--variant", side)]
    elif trial.kind == "aa":
        command += ["--variant", "a=stock", "--variant", "b=stock"]
    elif trial.kind == "aa_own":
        command += ["--variant", f"a=stock,{SIDE_ENV}=a", "--variant", f"b=stock,{SIDE_ENV}=b"]
    else:
        extra_b = products or {}
        extra_a = dict.fromkeys(extra_b, 0)  # the same env var, nothing added
        command += ["--workload", f"{WRAPPED}:make_model", "--inputs", f"{WRAPPED}:make_inputs",
                    "--variant", f"a=stock,{PRODUCTS_ENV}={products_text(extra_a)}",
                    "--variant", f"b=stock,{PRODUCTS_ENV}={products_text(extra_b)}"]  # fmt: skip
    return command + (["--quick"] if quick else [])


@contextmanager
def neighbour(busy: bool) -> Iterator[int | None]:
    """A CPU-bound pure-Python loop pinned to the last usable core while the block runs."""
    if not busy:
        yield None
        return
    core = max(os.sched_getaffinity(0))
    # it stops by itself if this process dies without the ``finally`` (e.g. SIGKILL)
    loop = (f"import os\nos.sched_setaffinity(0, {{{core}}})\nparent = os.getppid()\n"
            "while os.getppid() == parent:\n    sum(range(100_000))\n")  # fmt: skip
    process = subprocess.Popen([sys.executable, "-c", loop])
    try:
        yield core
    finally:
        process.kill()
        process.wait()


def run_trial(trial: Trial, work: Path, quick: bool, mode: str, rounds: str | None = None,
              extra: Sequence[str] = (), products: dict[int, int] | None = None,
              sides: Sequence[str] = ()) -> dict:  # fmt: skip
    """Run one compare and read its verdict from the summary.json it wrote."""
    folder = work / trial.name
    entry = {"round": trial.round, "condition": trial.condition, "kind": trial.kind,
             "effect": trial.effect, "loadavg_before": list(os.getloadavg())}  # fmt: skip
    with neighbour(trial.condition == "busy") as core:
        start = time.monotonic()
        command = compare_command(trial, folder, quick, mode, rounds, extra, products, sides)
        done = subprocess.run(command, text=True, capture_output=True)
        seconds = time.monotonic() - start
    entry |= {"neighbour_core": core, "seconds": seconds, "loadavg_after": list(os.getloadavg())}
    if done.returncode != 0:
        return {**entry, "verdict": None, "error": done.stderr.strip()[-2000:]}
    summary = json.loads((folder / "summary.json").read_text())
    return {**entry, **read_comparison(summary)}


def read_comparison(summary: dict) -> dict:
    """The compare's one comparison, in whatever detail the summary gives: the replicates it
    rests on (``n``; else the rounds run; else the worker processes per side), the test, and
    why the rounds stopped."""
    found = summary["comparisons"][0]["comparison"]
    rounds = summary.get("rounds") or {}
    replicates = found.get("n", rounds.get("count", summary["settings"].get("workers")))
    return {
        "verdict": found["verdict"],
        "value": found["value"],
        "ci95": found["ci95"],
        "half_width_pct": half_width_pct(found["value"], found["ci95"]),
        "p_value": found.get("p_value"),
        "test": found.get("test"),
        "rounds": replicates,
        "stopped": rounds.get("stopped"),
        "settings": summary["settings"],
    }


def calibrate_extra(kinds: list[str], mode: str) -> dict[str, dict]:
    """Per A/B kind, side b's extra products, calibrated once for all kinds in a process of
    their own."""
    effects = {kind: EFFECTS[kind] for kind in kinds if EFFECTS[kind] > 0}
    if not effects:
        return {}
    fractions = [option for effect in effects.values() for option in ("--fraction", str(effect))]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.extra_compute", *fractions, "--mode", mode],
        capture_output=True, text=True, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {kind: found[str(effect)] for kind, effect in effects.items()}


def products_of(calibrated: dict[str, dict], kind: str) -> dict[int, int] | None:
    found = calibrated.get(kind)
    return {int(words): count for words, count in found["products"].items()} if found else None


def write_json(result: dict, path: Path) -> None:
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(result, indent=1) + "\n")
    partial.replace(path)


def run(args: argparse.Namespace) -> dict:
    counts = QUICK_COUNTS if args.quick else FULL_COUNTS
    counts = {kind: getattr(args, kind) if getattr(args, kind) is not None else count
              for kind, count in counts.items()}  # fmt: skip
    trials = plan(counts, tuple(args.conditions))
    args.out.mkdir(parents=True, exist_ok=True)
    earlier = _earlier_run(args.out / JSON_NAME, args.mode) if args.resume else None
    if earlier:
        trials = still_to_run(trials, earlier["runs"])
    work = Path(args.work or tempfile.mkdtemp(prefix="credibility-"))
    result = {"schema": SCHEMA, "kind": "credibility", "quick": args.quick, "mode": args.mode,
              "rounds": args.rounds, "counts": counts,
              "conditions": list(args.conditions), "cpus": sorted(os.sched_getaffinity(0)),
              "machine": machine(),
              "loadavg_start": list(os.getloadavg()), "started": time.time(), "work": str(work),
              "planned": len(trials), "runs": []}  # fmt: skip
    deadline = time.monotonic() + args.max_minutes * 60 if args.max_minutes else None
    if earlier:  # the same extra work as the compares it continues
        result |= {"runs": earlier["runs"], "extra_products": earlier["extra_products"],
                   "resumed": [*earlier.get("resumed", []), earlier["started"]]}
    else:
        kinds = [k for k, n in counts.items() if n]
        result["extra_products"] = calibrate_extra(kinds, args.mode)
    try:
        for index, trial in enumerate(trials, 1):
            if deadline is not None and time.monotonic() > deadline:
                result["stopped"] = f"--max-minutes {args.max_minutes} reached"
                break
            print(f"[{index}/{len(trials)}] {trial.name} ...", end=" ", flush=True)
            entry = run_trial(trial, work, args.quick, args.mode, args.rounds,
                              products=products_of(result["extra_products"], trial.kind))
            print(_line(entry), flush=True)
            result["runs"].append(entry)
            result |= summarise(result["runs"])
            write_json(result, args.out / JSON_NAME)
    except KeyboardInterrupt:
        result["stopped"] = "interrupted"
    finally:
        result |= {"loadavg_end": list(os.getloadavg()), "finished": time.time()}
        result |= summarise(result["runs"])
        write_json(result, args.out / JSON_NAME)
        if result["runs"]:
            plot(result, args.out / PNG_NAME)
    return result


def machine() -> dict:
    """What an effect's size depends on: the extra work calibrated on one CPU is another
    fraction of the call on another."""
    cpu = cpu_record()
    return {"cpu": cpu["model"], "logical_cores": cpu["logical_cores"]}


def _earlier_run(path: Path, mode: str) -> dict | None:
    """The run ``--resume`` continues, if ``path`` holds one made here with the same extra work
    (on another machine that work is another fraction of the call: a new run is needed)."""
    if not path.exists():
        return None
    earlier = json.loads(path.read_text())
    if earlier.get("kind") != "credibility" or earlier.get("schema") != SCHEMA:
        raise SystemExit(f"--resume: {path} is not a credibility run of schema {SCHEMA}")
    if earlier["mode"] != mode:
        raise SystemExit(f"--resume: {path} was run in mode {earlier['mode']}, not {mode}")
    there = earlier.get("machine", "an unrecorded machine")
    if there != machine():
        raise SystemExit(f"--resume: {path} was run on {there}, not this {machine()}: its extra "
                         "work is calibrated for that one; start a new run in another --out")
    return earlier


def _line(entry: dict) -> str:
    if entry["verdict"] is None:
        return f"failed after {entry['seconds']:.0f} s"
    low, high = entry["ci95"]
    return (f"{entry['verdict']}: {entry['value']:.3f} [{low:.3f}, {high:.3f}], "
            f"{entry['rounds']} rounds, {entry['seconds']:.0f} s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.credibility",
                                     description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help=f"the quick compare preset and counts {QUICK_COUNTS}")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("examples/results/credibility"))
    parser.add_argument("--mode", choices=MODES, default="xla",
                        help="g2p execution mode of every compare (default xla)")  # fmt: skip
    parser.add_argument("--work", type=Path, help="where the compares' own results go "
                                                  "(default: a new temporary folder)")  # fmt: skip
    for kind, count in FULL_COUNTS.items():
        parser.add_argument(f"--{kind.replace('_', '-')}", dest=kind, type=_count, metavar="N",
                            help=f"{kind} compares per condition (default {count})")  # fmt: skip
    parser.add_argument("--conditions", type=_conditions, default=list(CONDITIONS),
                        help="comma-separated, of quiet,busy (default both)")  # fmt: skip
    parser.add_argument("--rounds", metavar="MIN[-MAX]",
                        help="every compare's --rounds (default: the compare preset's)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the compares in --out's credibility.json and run the rest "
                             "of the plan, with the same extra work")  # fmt: skip
    parser.add_argument("--max-minutes", type=float,
                        help="start no new compare after this many minutes")  # fmt: skip
    return parser.parse_args(argv)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a count >= 0, got {text!r}")
    return int(text)


def _conditions(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(CONDITIONS))
    if not chosen or unknown:
        raise argparse.ArgumentTypeError(f"conditions are {','.join(CONDITIONS)}, got {text!r}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    result = run(parse_args(argv))
    print(json.dumps(result["targets"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
