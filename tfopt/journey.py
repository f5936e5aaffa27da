"""A journey: named configurations, each measured interleaved with the first and compared with it.

An optimization write-up is such a journey ("initial", then "MKL build", "+ one thread", ...).
In a config file, ``[[journey]]`` tables list the points in order; each overrides the file's
settings with its own (``variant``, ``mode``, ``knobs``, ``env``, ...), may quote a published
figure as ``reference`` (the speedup a write-up reports for that step, shown beside ours) and may
name another point to be compared ``against`` as well (e.g. two builds under the same settings).
All points run in one interleaved queue (worker k of every point forms round k), so a drift of
the machine reaches every point alike.
"""

from __future__ import annotations

from pathlib import Path

from .environment import record_environment
from .executors import Executor
from .export import export_all
from .matrix import journey_configs
from .progress import Progress
from .runner import Runner, measure_labelled
from .saving import RUNS
from .summary import (
    RUN_SETTINGS,
    Summary,
    Versus,
    config_entry,
    speedup_text,
    summary_document,
    versus,
)
from .variants import STOCK, Variant, from_config


def run_journey(config: dict, out: Path, progress: Progress, extra_variants: dict[str, Variant],
                executor: Executor | None = None) -> Summary:  # fmt: skip
    """Measure every point, interleaved; compare each with the first (and its ``against``).
    ``executor``: how one job is measured (default: a real child process)."""
    variants = {STOCK: Variant(STOCK), **extra_variants,
                **{name: from_config(name, spec) for name, spec in config["variants"].items()}}
    configs = journey_configs(config)
    runner = Runner(out, variants, progress, executor=executor)
    records = measure_labelled(runner, configs, config["workers"], "journey")
    entries = {
        name: config_entry(name, {**point, "variant": variants[point["variant"]].describe()},
                           records[name])
        for name, point in configs.items()
    }  # fmt: skip
    first = next(iter(configs))
    alpha, threshold = config["alpha"], config["threshold"]
    comparisons = [
        versus(name, f"{against}_vs_{name}", entries[against], entries[name], alpha, threshold)
        for point in config["journey"][1:]
        for name in [point["name"]]
        for against in dict.fromkeys([first, point.get("against") or first])
    ]  # fmt: skip
    summary = summary_document(
        "compare", f"tfopt journey: {config['name']}",
        {key: config[key] for key in RUN_SETTINGS}, entries,
        environment=record_environment(out / RUNS), comparisons=comparisons,
        journey=journey_rows(config["journey"], comparisons),
    )
    export_all(summary, out)
    (out / "journey.md").write_text(journey_markdown(summary))
    return summary


def journey_rows(points: list[dict], comparisons: list[Versus]) -> list[dict]:
    """One row per point: its published figure and ours, each against the first point."""
    first = points[0]["name"]
    ours = {item["file"]: item["comparison"] for item in comparisons}
    return [
        {"name": point["name"], "note": point.get("note", ""),
         "reference": point.get("reference"),
         "speedup": ours.get(f"{first}_vs_{point['name']}") if index else None}
        for index, point in enumerate(points)
    ]  # fmt: skip


def journey_markdown(summary: Summary) -> str:
    """The published figures and ours side by side, row by row."""
    lines = [f"# {summary['title']}", "",
             "Each row against the first, measured interleaved; the reference column is the "
             "figure the original write-up reports for the same step.", "",
             "| step | what | reference | measured here (95% CI, p) |",
             "|---|---|---|---|"]  # fmt: skip
    for row in summary["journey"]:
        reference = "1.00x" if row["speedup"] is None and row["reference"] is None else (
            f"{row['reference']:.2f}x" if row["reference"] is not None else "–")
        measured = speedup_text(row["speedup"]) if row["speedup"] else "1.00x (reference point)"
        lines.append(f"| {row['name']} | {row['note']} | {reference} | {measured} |")
    first = summary["journey"][0]["name"]
    others = [(item["label"], vs) for item in summary["comparisons"]
              for vs in [item["comparison"]] if vs and vs["before"] != first]  # fmt: skip
    if others:
        lines += ["", "Also compared:", ""]
        lines += [f"- {label} against {vs['before']}: {speedup_text(vs)}"
                  for label, vs in others]  # fmt: skip
    return "\n".join(lines) + "\n"
