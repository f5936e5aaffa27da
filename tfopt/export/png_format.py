"""Plots, drawn from the summary alone: latency against input size, with 95% CI error bars.

``initial.png`` (the seed's chart), one ``<step>.png`` per step (initial against the step, with
the speedup in the title), ``<a>_vs_<b>.png`` per variant comparison and, for models whose input
size is a batch, ``throughput.png`` (rows/s against batch size). The title names the machine and
the run's inputs; each curve's legend names what ran it (TensorFlow version or runtime, oneDNN,
threads), since a variant or step can change any of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..environment import machine_title  # noqa: E402
from ..summary import ConfigEntry, Summary, speedup_text  # noqa: E402
from . import tables  # noqa: E402
from .atomic import replace_file  # noqa: E402


def export(summary: Summary, out: Path) -> list[Path]:
    configs, written = summary.get("configs", {}), []
    machine = _subtitle(summary)
    if "initial" in configs:
        written.append(plot_sizes([configs["initial"]], out / "initial.png",
                                  f"initial: latency by input size\n{machine}"))  # fmt: skip
    if summary.get("kind") == "matrix" and configs:
        drawn = [entry for entry in configs.values() if entry.get("by_size")]
        if drawn:
            written.append(plot_sizes(drawn, out / "configs.png",
                                      f"all configurations\n{machine}"))  # fmt: skip
    compared: list[Mapping[str, Any]] = [*summary.get("steps", []),
                                         *summary.get("comparisons", [])]  # fmt: skip
    for item in compared:
        vs = item.get("vs_initial") or item.get("comparison")
        if not vs:
            continue
        before, after = configs.get(vs["before"]), configs.get(item["label"])
        if before and after:
            title = f"{vs['before']} vs {item['label']}: {speedup_text(vs)}\n{machine}"
            written.append(plot_sizes([before, after], out / f"{item['file']}.png", title))
    batched = tables.throughput_entries(summary)
    if batched:
        written.append(plot_throughput(batched, out / "throughput.png",
                                       f"throughput by batch size\n{machine}"))  # fmt: skip
    return written


def _subtitle(summary: Summary) -> str:
    """The machine and limits (without a TensorFlow version: each legend has its own), and the
    inputs when the model declares them."""
    env = {**summary.get("environment", {}), "tensorflow": {}}
    line = machine_title(env) + _run_limits(summary)
    inputs = tables.input_rows(summary)
    if inputs:
        line += "\ninputs: " + ", ".join(f"{name} {shape} {dtype} ({source})"
                                         for name, shape, dtype, source in inputs)  # fmt: skip
    return line


def plot_throughput(entries: list[ConfigEntry], path: Path, title: str) -> Path:
    """Rows per second against batch size, one line per configuration, the best batch marked."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for entry in entries:
        rows = tables.batch_rows(entry)
        best = tables.best_batch(entry)
        ax.plot([r["batch"] for r in rows], [r["per_s"] for r in rows], marker="o",
                label=f"{entry['label']} ({tables.curve_label(entry)}): best batch "
                      f"{best['batch']}, {best['per_s']:.0f}/s")  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted({r["batch"] for e in entries for r in tables.batch_rows(e)}))
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel(f"batch size ({entries[0].get('unit', 'rows')} per call)")
    ax.set_ylabel(f"throughput ({entries[0].get('unit', 'rows')}/s, from median latency)")
    return _finish(fig, ax, title, path)


def _run_limits(summary: Summary) -> str:
    settings = summary.get("settings", {})
    limits = [f"{k}={settings[k]}" for k in ("cpus", "memory") if settings.get(k)]
    return f"; runs limited to {', '.join(limits)}" if limits else ""


def plot_sizes(entries: list[ConfigEntry], path: Path, title: str) -> Path:
    """One line per configuration: median latency (ms) by input size, 95% CI error bars."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for entry in entries:
        by_size = entry.get("by_size") or {}
        sizes = sorted(by_size, key=int)
        medians = [by_size[s]["median"] for s in sizes]
        low = [by_size[s]["median"] - by_size[s]["ci95"][0] for s in sizes]
        high = [by_size[s]["ci95"][1] - by_size[s]["median"] for s in sizes]
        ax.errorbar([int(s) for s in sizes], medians, yerr=[low, high], marker="o", capsize=3,
                    label=_legend(entry))  # fmt: skip
    _scale_axes(ax, entries)
    ax.set_xlabel(f"input size ({entries[0].get('unit', 'items')} per call)")
    ax.set_ylabel("latency per call (ms, median, 95% CI)")
    return _finish(fig, ax, title, path)


def _finish(fig, ax, title: str, path: Path) -> Path:
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    replace_file(path, lambda temporary: fig.savefig(temporary, dpi=110))
    plt.close(fig)
    return path


def _scale_axes(ax, entries: list[ConfigEntry]) -> None:
    """Integer sizes on x; a log y axis when the lines are too far apart to read linearly."""
    sizes = sorted({int(s) for e in entries for s in (e.get("by_size") or {})})
    ax.set_xticks(sizes)
    medians = [v["median"] for e in entries for v in (e.get("by_size") or {}).values()]
    if medians and min(medians) > 0 and max(medians) / min(medians) > 20:
        ax.set_yscale("log")


def _legend(entry: ConfigEntry) -> str:
    sweep = entry.get("sweep") or {}
    flag = " (unstable)" if sweep.get("unstable") else ""
    return (f"{entry['label']}: {sweep.get('median', float('nan')):.1f} ms/sweep{flag}\n"
            f"{tables.curve_label(entry)}")
