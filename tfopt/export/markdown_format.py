"""report.md: the environment, the steps table and the plots, readable on its own."""

from __future__ import annotations

from pathlib import Path

from ..environment import machine_title, oversubscription
from ..recommend import contradictions
from ..summary import Summary, direction_text, drift_text, not_ranked, speedup_text
from . import tables
from .atomic import replace_text

REPORT = "report.md"


def export(summary: Summary, out: Path) -> list[Path]:
    return [replace_text(out / REPORT, "\n".join(render(summary)) + "\n")]


def render(summary: Summary) -> list[str]:
    env = summary.get("environment", {})
    lines = [f"# {summary.get('title', 'tfopt results')}", "", f"Machine: {machine_title(env)}"]
    tf = env.get("tensorflow") or {}
    if tf:
        onednn = "on" if tf.get("onednn_enabled") else "off"
        python = env.get("host", {}).get("python")
        lines.append(f"TensorFlow {tf.get('version')} (oneDNN {onednn}), Python {python}")
        pools = tf.get("default_thread_pools")
        if pools:
            lines.append(
                f"TensorFlow's default pools here: inter-op {pools['inter_op']}, "
                f"intra-op {pools['intra_op']} threads (sized from {pools['sized_from']})"
            )
    trap = oversubscription(env)
    if trap:
        lines.append(f"**Warning:** {trap}")
    lines += ["", *_settings(summary.get("settings", {})), *_measurement(summary)]
    lines += _inputs_section(summary)
    lines += _skipped_section(summary)
    if summary.get("speedup"):
        lines += ["", _headline(summary), ""]
    problems = contradictions(summary)
    if problems:
        lines += ["**Inconsistent report** (a bug: please report it):",
                  *[f"- {problem}" for problem in problems], ""]  # fmt: skip
    if summary.get("steps"):
        lines += ["## Steps", "", *_steps_table(summary), ""]
    if summary.get("comparisons"):
        lines += ["## Comparisons", "", *_comparisons_table(summary), ""]
    lines += ["## Configurations", "", *_configs_table(summary), ""]
    lines += _runtimes_section(summary)
    lines += _batches_section(summary)
    lines += _concurrency_section(summary)
    lines += _plots(summary)
    lines += _warnings(summary)
    return lines


def _settings(settings: dict) -> list[str]:
    if not settings:
        return []
    return ["Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items())]


def _measurement(summary: Summary) -> list[str]:
    """Which test decided, on how many replicates: named in every report."""
    tested = [c for c in _all_comparisons(summary) if c]
    if not tested:
        return []
    if "n" not in tested[0]:
        return [f"Measurement: {tested[0]['test']} on pooled sweeps (written by an earlier tfopt)."]
    rounds = summary.get("rounds") or {}
    line = (f"Measurement: each worker process is one replicate (the median of its sweeps); "
            f"round k pairs worker k of each configuration, run in a random order; speedups are "
            f"geometric means of round ratios, tested with a {tested[0]['test']}")  # fmt: skip
    if rounds:
        line += f"; {rounds['count']} rounds ({rounds['stopped']})"
        line += f"; {rounds['layout']}" if rounds.get("layout") else ""
    return [line + ". Sweep percentiles are descriptive only."]


def _all_comparisons(summary: Summary) -> list[dict | None]:
    found = [summary.get("speedup")] + [step.get("vs_initial") for step in summary.get("steps", [])]
    return found + [item.get("comparison") for item in summary.get("comparisons", [])]


def _headline(summary: Summary) -> str:
    best = summary.get("best")
    if best == "initial":
        line = "**Best: `initial`: no step was faster than initial in the final rounds.**"
    else:
        speedup = summary["speedup"]
        assert speedup is not None  # a best other than initial was faster than it
        line = f"**Best: `{best}`: {direction_text(speedup)} ({speedup_text(speedup)}).**"
        line += _ties(summary)
        drift = drift_text(summary)
        line += f"\n\nBetween runs: {drift}" if drift else ""
    recommendation = summary.get("recommendation")
    if recommendation:
        line += "\n\nRecommended settings (paste):\n\n```\n" + "\n".join(recommendation) \
            + "\n```"  # fmt: skip
    return line


def _ties(summary: Summary) -> str:
    """The leaders the final rounds cannot tell from Best, and why Best is the one named."""
    tied = summary.get("tied") or []
    if not tied:
        return ""
    steps = {step["label"]: step for step in summary.get("steps", [])}
    others = ", ".join(f"`{label}` ({_ratio(steps.get(label, {}).get('vs_initial'))})"
                       for label in tied)  # fmt: skip
    return (f"\n\nTied with {others}: the final rounds cannot tell them apart; Best is the "
            f"fastest of them by its estimate, and a rerun may name another.")


def _ratio(comparison: dict | None) -> str:
    if not comparison:
        return "n/a"
    low, high = comparison["ci95"]
    return f"{comparison['value']:.2f}x [{low:.2f}, {high:.2f}]"


def _table(headers: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def _steps_table(summary: Summary) -> list[str]:
    configs = summary.get("configs", {})
    rows = []
    for step in summary["steps"]:
        sweep = (configs.get(step["label"]) or {}).get("sweep") or {}
        vs_initial = step.get("vs_initial")
        rows.append([
            step["name"], step.get("change", ""), f"{sweep.get('median', float('nan')):.1f}",
            _ratio(vs_initial), f"{vs_initial['p_value']:.2g}" if vs_initial else "n/a",
            vs_initial.get("n", "n/a") if vs_initial else "n/a",
            vs_initial["verdict"] if vs_initial else "not measured",
            step.get("screening", "kept" if step.get("kept") else "dropped"),
        ])  # fmt: skip
    headers = ["step", "change", "median ms/sweep", "speedup vs initial [95% CI]", "p", "rounds",
               "verdict (final)", "screening"]  # fmt: skip
    return _table(headers, rows)


def _comparisons_table(summary: Summary) -> list[str]:
    configs = summary.get("configs", {})
    rows = []
    for item in summary["comparisons"]:
        c, flag = item["comparison"], not_ranked(configs.get(item["label"], {}))
        verdict = f"not ranked: {flag}" if flag else (c["verdict"] if c else "not measured")
        rows.append([item["file"], _ratio(c), f"{c['p_value']:.2g}" if c else "n/a", verdict])
    return _table(["comparison", "speedup [95% CI]", "p", "verdict"], rows)


def _configs_table(summary: Summary) -> list[str]:
    rows = []
    for label, entry in summary.get("configs", {}).items():
        sweep = entry.get("sweep")
        if not sweep:
            rows.append([label, "", 0, "failed", "", "", "", "", ""])
            continue
        rows.append([
            label, entry.get("tensorflow") or "", entry["workers"], f"{sweep['median']:.2f}",
            f"{sweep['p90']:.2f}", f"{sweep['p99']:.2f}",
            f"{sweep['mean']:.2f} ± {sweep['std']:.2f}",
            f"{entry['throughput']:.1f} {entry.get('unit', 'items')}/s",
            "no" if sweep["unstable"] else "yes",
        ])  # fmt: skip
    headers = ["config", "TensorFlow", "workers", "median ms", "p90", "p99", "mean ± std",
               "throughput", "stable"]  # fmt: skip
    return _table(headers, rows)


def _plots(summary: Summary) -> list[str]:
    names = (["initial"] if "initial" in summary.get("configs", {}) else []) + (
        ["configs"] if summary.get("kind") == "matrix" else []) + [
        item["file"] for item in summary.get("steps", []) + summary.get("comparisons", [])
    ] + (["throughput"] if tables.throughput_entries(summary) else [])
    return ["## Plots", "", *[f"![{name}]({name}.png)" for name in names], ""]


def _warnings(summary: Summary) -> list[str]:
    lines = []
    for label, entry in summary.get("configs", {}).items():
        lines += [f"- `{label}`: {warning}" for warning in entry.get("warnings", [])]
        lines += [f"- `{label}` worker {f['worker']} {f['status']}: "
                  f"{(f['reason'] or '').splitlines()[0] if f['reason'] else ''}"
                  for f in entry.get("failed", [])]  # fmt: skip
    return ["## Warnings", "", *lines, ""] if lines else []


def _inputs_section(summary: Summary) -> list[str]:
    rows = tables.input_rows(summary)
    if not rows:
        return []
    headers = ["input", "shape (N = batch size)", "dtype", "data"]
    return ["", "## Inputs", "", *_table(headers, rows), ""]


def _skipped_section(summary: Summary) -> list[str]:
    skipped = summary.get("skipped_steps") or {}
    if not skipped:
        return []
    return ["", "## Steps that do not apply", "",
            *[f"- `{name}`: {reason}" for name, reason in skipped.items()], ""]  # fmt: skip


def _runtimes_section(summary: Summary) -> list[str]:
    rows = tables.runtime_rows(summary)
    if not rows:
        return []
    cells = [[row["label"], row["runtime"], row["version"], row["precision"], row["threads"],
              _number(row["max_abs"]), _number(row["max_rel"]), row["status"]]
             for row in rows]  # fmt: skip
    headers = ["config", "runtime", "version", "precision", "threads",
               "max abs diff vs TF", "max rel diff", "status"]  # fmt: skip
    return ["## Runtimes", "", *_table(headers, cells), ""]


def _batches_section(summary: Summary) -> list[str]:
    """Per batch size for models whose input size is a batch: one sum over sizes hides which
    batch is fast (one size alone is the configurations table already)."""
    entries = tables.throughput_entries(summary)
    if not entries:
        return []
    lines = ["## Per batch size", ""]
    for entry in entries:
        best = tables.best_batch(entry)
        cells = [[row["batch"], _latency(row), f"{row['p90']:.2f}", _number(row["p99"], ".2f"),
                  f"{row['per_s']:.1f}"] for row in tables.batch_rows(entry)]  # fmt: skip
        lines += [f"`{entry['label']}` ({tables.curve_label(entry)}): best batch "
                  f"{best['batch']} at {best['per_s']:.1f} rows/s", "",
                  *_table(["batch", "median ms [95% CI]", "p90 ms", "p99 ms", "rows/s"], cells),
                  ""]  # fmt: skip
    return lines


def _concurrency_section(summary: Summary) -> list[str]:
    """Rows per second with N requests at once, per batch size (the throughput hint)."""
    entries = tables.concurrency_entries(summary)
    if not entries:
        return []
    lines = ["## Concurrent requests", "",
             "N threads call the model at once on the same batch (like OpenVINO benchmark_app's "
             "infer requests); rows/s is the workers' median.", ""]  # fmt: skip
    for entry in entries:
        rows = tables.concurrency_rows(entry)
        levels = sorted({row["requests"] for row in rows})
        rates = {(row["batch"], row["requests"]): row["per_s"] for row in rows}
        cells = [[batch, *[_number(rates.get((batch, n)), ".1f") for n in levels]]
                 for batch in sorted({row["batch"] for row in rows})]  # fmt: skip
        best = (entry.get("concurrency") or {})["best"]
        lines += [f"`{entry['label']}`: best batch {best['batch']} with {best['requests']} "
                  f"concurrent request(s) at {best['per_s']:.1f} rows/s", "",
                  *_table(["batch", *[f"{n} request(s): rows/s" for n in levels]], cells), ""]
    return lines


def _latency(row: dict) -> str:
    return f"{row['median']:.2f} [{row['ci95'][0]:.2f}, {row['ci95'][1]:.2f}]"


def _number(value, spec: str = ".3g") -> str:
    return "n/a" if value is None else format(value, spec)
