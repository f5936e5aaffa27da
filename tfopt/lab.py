"""The default lab: record the environment, walk the optimisation steps from ``initial``, then
re-measure initial and every step side by side (interleaved) and write the results folder.

Phases, each resumable (runs are keyed by content, so a rerun reuses every finished one):

1. screening: each step's candidate against the best configuration so far; kept if it wins,
   or if its rounds leave it undecided at an estimate beyond the threshold (`_worth_keeping`);
2. tuning (inside the ``threads`` step): the forking tuner over inter/intra/OMP threads;
3. final: initial and every step's candidate in randomized paired rounds, adaptive (see
   `tfopt.rounds`). Every verdict, the Best line and the recommendation come from this phase
   alone; screening only decides which candidate the next step starts from.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import environment, steps
from .executors import Executor
from .export import export_all
from .interleave import measure_rounds
from .jobs import Job, mem_trace_for, task_for
from .matrix import Permutation, resolve
from .matrix_keys import KNOB_ENV
from .objective import log_name as objective_log_name
from .objective import objective_key
from .progress import Progress
from .recommend import best_and_tied, paste_lines
from .rounds import Budget, Pair, Rounds
from .runner import Runner
from .saving import RUNS
from .summary import (
    ConfigEntry,
    Summary,
    Versus,
    baseline_drift,
    comparison,
    config_entry,
    not_ranked,
    rounds_entry,
    summary_document,
    tunable_settings,
    versus,
)
from .variants import STOCK, Variant
from .worker import tuning_objective

INITIAL = "initial"


@dataclass
class LabSettings:
    """What the lab runs; ``base`` is a config table (see `tfopt.matrix.DEFAULTS`)."""

    base: dict = field(default_factory=dict)
    steps: list[str] | None = None
    variants: dict[str, Variant] = field(default_factory=dict)
    final: Budget = field(default_factory=lambda: Budget(6, 20, 420.0))
    screen: Budget = field(default_factory=lambda: Budget(3, 8, 60.0))
    share_processes: bool = True  # configs differing only in model options share a worker
    tune_budget: int = 8
    tune_remeasure: bool = True  # re-measure the incumbent when a trial beats it (costs trials)


class Lab:
    def __init__(self, settings: LabSettings, out: Path, progress: Progress | None = None,
                 executor: Executor | None = None):  # fmt: skip
        self.settings, self.out = settings, Path(out)
        self.variants = {STOCK: Variant(STOCK), **settings.variants}
        self.initial = resolve(settings.base)
        self.progress = progress or Progress(0)
        self.runner = Runner(self.out, self.variants, self.progress, executor=executor)
        on_runtime = bool(getattr(self.variants.get(self.initial["variant"]), "runtime", None))
        if on_runtime and "grappler" in (settings.steps or []):
            raise ValueError(f"step grappler does not apply to variant "
                             f"{self.initial['variant']!r}, the starting configuration: "
                             f"{steps.GRAPPLER_ON_RUNTIMES}")  # fmt: skip
        names = settings.steps or [name for name in steps.default_steps(self.initial["workload"])
                                   if name != "grappler" or not on_runtime]
        self.steps = steps.build(names, [v for v in settings.variants if v != STOCK],
                                 self.initial["workload"])  # fmt: skip
        runtimes = [name for name, variant in self.variants.items() if variant.runtime]
        grappler_asked = "grappler" in names or on_runtime
        self.skipped_steps = steps.skipped_steps(self.initial["workload"],
                                                 runtimes if grappler_asked else ())
        self.tuned: dict = {}
        self.screened_initial: list = []  # initial's records from the first screening step

    # --- measuring -------------------------------------------------------------------------

    def measure(self, configs: dict[str, dict], tag: str, budget: Budget,
                wanted) -> tuple[dict[str, list], Rounds]:  # fmt: skip
        return measure_rounds(self.runner, configs, tag, budget, wanted,
                              alpha=self.initial["alpha"], threshold=self.initial["threshold"],
                              seed=self.initial["seed"],
                              share=self.settings.share_processes)  # fmt: skip

    def tune(self, config: dict) -> dict:
        """The forking tuner over inter/intra/OMP threads; finished trials are reused on rerun."""
        import tuner

        cores = len(environment.cpu_record()["visible_cores"])
        omp = KNOB_ENV["omp"]  # an upper-case knob: the tuner sets it in the trial's environment
        space = {"inter": tuner.Int(1, cores), "intra": tuner.Int(1, cores),
                 omp: tuner.Int(1, cores)}  # fmt: skip
        job = Job(Permutation({**config, "tag": "tune"}), 0, "tune", self.out / RUNS / "tune")
        task = task_for(job)  # every trial appends its logs to runs/tune/worker0.*
        task["mem_trace"] = mem_trace_for(task["mem_trace"], None)
        self.progress.note(f"tuning threads: up to {self.settings.tune_budget} trials")
        started = time.monotonic()
        options = self.runner.trial_options(config)
        key = objective_key(task, config, options["env"], self.variants[config["variant"]])
        log = str(self.out / objective_log_name(key))  # another objective: another log
        result = tuner.minimize(
            functools.partial(tuning_objective, task),
            space,
            budget=self.settings.tune_budget,
            timeout=config["timeout"],
            cpus=config["cpus"],
            memory=config["memory"],
            log=log,
            log_key=key,
            start={"inter": 1, "intra": cores, omp: 1},
            remeasure_incumbent=self.settings.tune_remeasure,
            verbose=True,
            **options,
        )
        if result.interrupted:  # finished trials are in the log: a rerun resumes from them
            raise KeyboardInterrupt
        if not result.best_config:
            raise RuntimeError("the tuner found no working thread configuration")
        best = result.best_config
        knobs = {"inter": best["inter"], "intra": best["intra"], "omp": best[omp]}
        self.tuned = {"best_config": knobs, "best_ms": result.best_value * 1000,
                      "trials": len(result.trials), "log": log}  # fmt: skip
        self.progress.advance(f"tuned threads: {knobs} ({self.tuned['best_ms']:.1f} ms/sweep)",
                              time.monotonic() - started, units=len(result.trials))  # fmt: skip
        return knobs

    # --- phases ----------------------------------------------------------------------------

    def screen(self) -> list[dict]:
        """Walk the steps from initial; each candidate is kept if it is worth keeping over the
        current (`_worth_keeping`), and the next step starts from it."""
        current_label, current = INITIAL, self.initial
        walked = []
        for step in self.steps:
            candidate = step.candidate(current, self.tune)
            if candidate == current:
                continue
            walked.append(self.screen_step(step, current_label, current, candidate))
            if walked[-1]["kept"]:
                current_label, current = step.name, candidate
        return walked

    def screen_step(self, step, current_label: str, current: dict, candidate: dict) -> dict:
        pair = (current_label, step.name)
        records, _ = self.measure({current_label: current, step.name: candidate}, "screen",
                                  self.settings.screen, lambda _: [pair])  # fmt: skip
        _require_success(records[current_label], current_label)
        if current_label == INITIAL and not self.screened_initial:
            self.screened_initial = records[INITIAL]
        measured = config_entry(step.name, {}, records[step.name])
        vs_previous = comparison(config_entry(current_label, {}, records[current_label]),
                                 measured, self.initial["alpha"], self.initial["threshold"])
        unranked = not_ranked(measured)  # a faster wrong answer is never kept
        kept = _worth_keeping(vs_previous) and not unranked
        said = f"not ranked: {unranked}" if unranked else _verdict(vs_previous)
        self.progress.note(f"step {step.name}: {said}; kept={kept}")
        return {"name": step.name, "label": step.name, "file": step.name, "change": step.change,
                "base": current_label, "config": candidate, "vs_previous": vs_previous,
                "kept": kept, **({"not_ranked": unranked} if unranked else {})}  # fmt: skip

    def final(self, walked: list[dict]) -> dict[str, ConfigEntry]:
        configs = {INITIAL: self.initial, **{s["label"]: s["config"] for s in walked}}
        records, rounds = self.measure(configs, "final", self.settings.final, _final_pairs(
            list(configs), self.initial["alpha"], self.initial["threshold"]))  # fmt: skip
        self.final_rounds = rounds_entry(rounds)
        self.drift = baseline_drift(INITIAL, self.screened_initial, records[INITIAL])
        return {label: config_entry(label, configs[label], recs) for label, recs in records.items()}

    def run(self) -> Summary:
        """The whole lab; returns the summary after writing every results file."""
        self.out.mkdir(parents=True, exist_ok=True)
        self.progress.expected = self.expected_runs()
        env = environment.record_environment(self.out / RUNS)
        self.progress.note(f"environment: {environment.machine_title(env)}")
        for name, reason in self.skipped_steps.items():
            self.progress.note(f"step {name} skipped: {reason}")
        walked = self.screen()
        configs = self.final(walked)
        summary = self.summarize(env, walked, configs)
        export_all(summary, self.out)
        return summary

    def expected_runs(self) -> int:
        """For the ETA: screening, tuning trials and the final re-measure."""
        count = len(self.steps)
        tuning = 0
        if "threads" in [s.name for s in self.steps]:  # the tuner confirms its leaders 3 times
            tuning = self.settings.tune_budget + 2 * min(3, self.settings.tune_budget)
        screening = 2 * count * self.settings.screen.min_rounds
        return screening + tuning + (count + 1) * self.settings.final.min_rounds

    def summarize(self, env: dict, walked: list[dict],
                  configs: dict[str, ConfigEntry]) -> Summary:  # fmt: skip
        alpha, threshold = self.initial["alpha"], self.initial["threshold"]
        initial = configs[INITIAL]
        for step in walked:
            step["vs_initial"] = comparison(initial, configs[step["label"]], alpha, threshold)
            step["vs_base"] = comparison(configs[step["base"]], configs[step["label"]], alpha,
                                         threshold)  # fmt: skip
            step["screening"] = _screening_note(step, configs[step["label"]])
            step.pop("config")
        comparisons = [_variant_comparison(s, configs, alpha, threshold) for s in walked
                       if s["name"].startswith("variant_")]  # fmt: skip
        best, tied = best_and_tied(configs, INITIAL, alpha, threshold)
        return summary_document(
            "lab", f"tfopt lab: {self.initial['workload']}", self._settings(), configs,
            environment=env, steps=walked, comparisons=comparisons,
            skipped_steps=self.skipped_steps, tuning=self.tuned,
            rounds=getattr(self, "final_rounds", None), drift=getattr(self, "drift", None),
            best=best, tied=tied,
            recommended=tunable_settings(configs[best]["params"]),
            recommendation=paste_lines(configs[best]["params"]),
            speedup=comparison(initial, configs[best], alpha, threshold),
        )

    def _settings(self) -> dict:
        keys = ("workload", "input", "hint", "sizes", "warmup", "repeats", "duration", "cpus",
                "memory", "alpha", "threshold", "zygote", "tandem")  # fmt: skip
        final, screen = self.settings.final, self.settings.screen
        return {**{k: self.initial[k] for k in keys}, "final_rounds": [final.min_rounds,
                final.max_rounds], "final_time_budget_s": final.seconds,
                "screen_rounds": [screen.min_rounds, screen.max_rounds],
                "tune_budget": self.settings.tune_budget}  # fmt: skip


def _final_pairs(labels: list[str], alpha: float, threshold: float):
    """What the final rounds must decide: every step against initial, and the leader against
    every other configuration that beats initial (so the Best line is decided too)."""
    initial, steps_ = labels[0], labels[1:]

    def wanted(rounds: Rounds) -> list[Pair]:
        pairs = [(initial, label) for label in steps_]
        faster = [(result.speedup, label) for label in steps_
                  for result in [rounds.comparison((initial, label), alpha, threshold)]
                  if result is not None and result.is_win]  # fmt: skip
        if faster:
            leader = max(faster)[1]
            pairs += [(leader, label) for _, label in faster if label != leader]
        return pairs

    return wanted


def _worth_keeping(vs_previous: dict | None) -> bool:
    """Screening keeps a step its rounds show faster, and one they leave undecided at an estimate
    of at least the threshold: a real gain dropped would have every later step (the tuner's
    threads among them) built on the slower base, while an equal one kept costs little. The
    final rounds decide both, and the report labels a kept step they do not confirm."""
    if not vs_previous:
        return False
    promising = vs_previous["value"] >= 1 + vs_previous["threshold"]
    return vs_previous["win"] or (vs_previous["verdict"] == "inconclusive" and promising)


def _screening_note(step: dict, entry: ConfigEntry) -> str:
    """What screening did with the step and whether the final rounds agree."""
    unranked = not_ranked(entry)
    if unranked:
        return f"not ranked: {unranked}"
    final = (step.get("vs_base") or {}).get("verdict")
    if not step["kept"]:
        return "dropped"
    return "kept" if final == "faster" else f"kept, not confirmed by the final rounds ({final})"


def _require_success(records: list, label: str) -> None:
    """Stop early when the starting configuration cannot run at all: nothing could compare."""
    if records and not any(r.ok for r in records):
        reason = (records[0].reason or records[0].status).strip().splitlines()[0]
        raise RuntimeError(f"every worker of {label!r} failed; first: {reason}")


def _verdict(comparison_: dict | None) -> str:
    if not comparison_:
        return "not measured"
    return f"{comparison_['value']:.2f}x vs previous, {comparison_['verdict']}"


def _variant_comparison(step: dict, configs: dict[str, ConfigEntry], alpha: float,
                        threshold: float) -> Versus:  # fmt: skip
    before, after = configs[step["base"]], configs[step["label"]]
    file = f"{before['params'].get('variant', STOCK)}_vs_{step['name'].removeprefix('variant_')}"
    return versus(step["label"], file, before, after, alpha, threshold)
