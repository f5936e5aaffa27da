"""One configuration under several variants, measured in randomized paired rounds (one worker
of each variant per round, in a seeded random order) until every variant's speedup over the first
is decided or the budget ends."""

from __future__ import annotations

from pathlib import Path

from .environment import record_environment
from .executors import Executor
from .export import export_all
from .interleave import against_first, measure_rounds, process_groups
from .matrix import resolve
from .progress import Progress
from .rounds import Budget
from .runner import Runner
from .saving import RUNS
from .summary import Summary, config_entry, rounds_entry, summary_document, versus
from .variants import STOCK, Variant

SETTINGS = ("workload", "input", "hint", "sizes", "repeats", "duration", "warmup", "cpus",
            "memory", "alpha", "threshold", "zygote", "tandem")  # fmt: skip


def run_compare(
    base: dict,
    variants: dict[str, Variant],
    budget: Budget,
    out: Path,
    progress: Progress,
    executor: Executor | None = None,
    share: bool = True,
) -> Summary:
    """``variants`` in order: the first is the reference every other one is compared with.
    ``share``: when all variants are one build (same interpreter or image and env), one worker
    per round measures them all, alternating ABBA; False gives every variant its own worker."""
    config = resolve(base)
    runner = Runner(out, {STOCK: Variant(STOCK), **variants}, progress, executor=executor)
    configs = {name: {**config, "variant": name} for name in variants}
    progress.expected = budget.min_rounds * len(process_groups(configs, runner, share))
    records, rounds = measure_rounds(
        runner, configs, "compare", budget, against_first(list(variants)),
        alpha=config["alpha"], threshold=config["threshold"], seed=config["seed"], share=share,
    )  # fmt: skip
    entries = {
        name: config_entry(name, {**configs[name], "variant": variants[name].describe()}, recs)
        for name, recs in records.items()
    }
    first, *others = list(variants)
    summary = summary_document(
        "compare", f"tfopt compare: {config['workload']}",
        {**{k: config[k] for k in SETTINGS}, **budget_settings(budget)}, entries,
        environment=record_environment(out / RUNS),
        comparisons=[versus(other, f"{first}_vs_{other}", entries[first], entries[other],
                            config["alpha"], config["threshold"]) for other in others],
        rounds=rounds_entry(rounds),
    )  # fmt: skip
    export_all(summary, out)
    return summary


def budget_settings(budget: Budget) -> dict:
    return {"min_rounds": budget.min_rounds, "max_rounds": budget.max_rounds,
            "time_budget_s": budget.seconds}  # fmt: skip
