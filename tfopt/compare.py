"""One configuration under several variants, measured interleaved (ABAB), compared to the first."""

from __future__ import annotations

from pathlib import Path

from .environment import record_environment
from .export import export_all
from .matrix import resolve
from .progress import Progress
from .runner import RUNS, Runner, measure_labelled
from .summary import SCHEMA, config_entry, versus
from .variants import STOCK, Variant

SETTINGS = ("workload", "input", "hint", "sizes", "repeats", "warmup", "cpus", "memory")


def run_compare(
    base: dict, variants: dict[str, Variant], workers: int, out: Path, progress: Progress
) -> dict:
    """``variants`` in order: the first is the reference every other one is compared with."""
    config = resolve(base)
    runner = Runner(out, {STOCK: Variant(STOCK), **variants}, progress)
    configs = {name: {**config, "variant": name} for name in variants}
    records = measure_labelled(runner, configs, workers, "compare")
    entries = {
        name: config_entry(name, {**configs[name], "variant": variants[name].describe()}, recs)
        for name, recs in records.items()
    }
    first, *others = list(variants)
    summary = {
        "schema": SCHEMA,
        "kind": "compare",
        "title": f"tfopt compare: {config['workload']}",
        "environment": record_environment(out / RUNS),
        "settings": {**{k: config[k] for k in SETTINGS}, "workers": workers},
        "configs": entries,
        "steps": [],
        "comparisons": [versus(other, f"{first}_vs_{other}", entries[first], entries[other],
                               config["alpha"], config["threshold"]) for other in others],
    }
    export_all(summary, out)
    return summary
