"""The summary on the console at the end of ``profile``, ``compare`` and ``report``: what ran,
medians, speedups with their CI and verdicts, runtimes and the recommendation, in a few lines."""

from __future__ import annotations

from ..summary import ConfigEntry, Summary, drift_text, not_ranked, speedup_text
from . import tables


def render(summary: Summary, out: str = "") -> str:
    lines = [summary.get("title", "tfopt results")]
    lines += _inputs(summary)
    lines += _skipped(summary)
    lines += ["configurations:"]
    lines += [f"  {_config_line(entry)}" for entry in summary.get("configs", {}).values()]
    lines += _batches(summary)
    lines += _concurrency(summary)
    lines += _steps(summary)
    lines += _comparisons(summary)
    lines += _runtimes(summary)
    lines += _recommendation(summary)
    if out:
        lines.append(f"report: {out}/report.md")
    return "\n".join(lines)


def _inputs(summary: Summary) -> list[str]:
    described = [f"{name} {shape} {dtype} ({source})"
                 for name, shape, dtype, source in tables.input_rows(summary)]  # fmt: skip
    return [f"inputs: {', '.join(described)}"] if described else []


def _skipped(summary: Summary) -> list[str]:
    return [f"step {name} skipped: {reason}"
            for name, reason in (summary.get("skipped_steps") or {}).items()]  # fmt: skip


def _config_line(entry: ConfigEntry) -> str:
    sweep = entry.get("sweep")
    if not sweep:
        return f"{entry['label']}: no worker completed"
    flag = "  (unstable)" if sweep["unstable"] else ""
    low, high = entry["sweep_ci95"]
    return (f"{entry['label']}: median {_ms(sweep['median'])} ms/sweep [95% CI {_ms(low)}-"
            f"{_ms(high)}], p90 {_ms(sweep['p90'])}, p99 {_ms(sweep['p99'])}; "
            f"{tables.curve_label(entry)}{flag}")


def _batches(summary: Summary) -> list[str]:
    lines = []
    for entry in tables.throughput_entries(summary):
        best = tables.best_batch(entry)
        per_batch = ", ".join(f"{row['batch']}: {_ms(row['median'])} ms {row['per_s']:.0f}/s"
                              for row in tables.batch_rows(entry))  # fmt: skip
        lines.append(f"  {entry['label']} by batch: {per_batch}; best batch {best['batch']} "
                     f"({best['per_s']:.1f} rows/s)")  # fmt: skip
    return ["per batch size:", *lines] if lines else []


def _concurrency(summary: Summary) -> list[str]:
    lines = []
    for entry in tables.concurrency_entries(summary):
        best = (entry.get("concurrency") or {})["best"]
        pairs = ", ".join(f"{row['batch']}x{row['requests']}: {row['per_s']:.0f}/s"
                          for row in tables.concurrency_rows(entry))  # fmt: skip
        lines.append(f"  {entry['label']} (batch x requests): {pairs}; best batch "
                     f"{best['batch']} x {best['requests']} requests ({best['per_s']:.1f} rows/s)")
    return ["concurrent requests:", *lines] if lines else []


def _steps(summary: Summary) -> list[str]:
    lines = []
    for step in summary.get("steps", []):
        vs = step.get("vs_previous")
        said = speedup_text(vs) if vs else "not measured"
        kept = "kept" if step.get("kept") else "not kept"
        if step.get("not_ranked"):
            kept = f"not kept, not ranked: {step['not_ranked']}"
        lines.append(f"  {step['name']} ({step.get('change', '')}): {said} vs previous; {kept}")
    return ["steps:", *lines] if lines else []


def _comparisons(summary: Summary) -> list[str]:
    configs = summary.get("configs", {})
    lines = []
    for item in summary.get("comparisons", []):
        c = item["comparison"]
        flag = not_ranked(configs.get(item["label"], {}))
        if flag:
            lines.append(f"  {item['file']}: not ranked: {flag}")
        else:
            lines.append(f"  {item['file']}: {speedup_text(c) if c else 'not measured'}")
    return ["comparisons (speedup of the second over the first):", *lines] if lines else []


def _runtimes(summary: Summary) -> list[str]:
    rows = tables.runtime_rows(summary)
    if not any(row["runtime"] != "tensorflow" for row in rows):
        return []
    lines = [f"  {_runtime_line(row)}" for row in rows]
    return ["runtimes (outputs checked against TensorFlow on the same inputs):", *lines]


def _runtime_line(row: dict) -> str:
    if not row["version"]:  # it never ran: the status says why
        return f"{row['label']}: {row['runtime']}; {row['status']}"
    return (f"{row['label']}: {row['runtime']} {row['version']} {row['precision']}, "
            f"{tables.threads_text(row['threads'])}; max abs diff {_number(row['max_abs'])}, "
            f"max rel {_number(row['max_rel'])}; {row['status']}")


def _recommendation(summary: Summary) -> list[str]:
    speedup = summary.get("speedup")
    if not speedup:
        return []
    settings = ", ".join(f"{k}={v}" for k, v in (summary.get("recommended") or {}).items())
    drift = drift_text(summary)
    return [f"best: {summary['best']} at {speedup_text(speedup)} against initial",
            *([f"between runs: {drift}"] if drift else []),
            f"recommended settings: {settings or 'the defaults'}"]  # fmt: skip


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _ms(value: float) -> str:
    """Two decimals, or three significant digits below 1 ms (a TFLite call takes microseconds)."""
    return f"{value:.2f}" if value >= 1 else f"{value:.3g}"
