"""What the console, report and plots say about a model run, computed once from the summary:
its inputs, the figures per batch size, the runtimes and their output checks, and each curve's
own label (TensorFlow version or runtime, oneDNN, threads)."""

from __future__ import annotations

from ..summary import ConfigEntry, Summary, not_ranked

MS = 1000.0


def first_details(summary: Summary) -> dict:
    """The details of the first configuration that has some (all share the inputs)."""
    return next((e["details"] for e in summary.get("configs", {}).values() if e.get("details")), {})


def input_rows(summary: Summary) -> list[list[str]]:
    """name, shape (N = the batch size swept), dtype, where the data comes from."""
    inputs = first_details(summary).get("inputs") or []
    return [[item["name"], item["shape"], item["dtype"], item["source"]] for item in inputs]


def throughput_entries(summary: Summary) -> list[ConfigEntry]:
    """The configurations whose input size is a batch of rows (a SavedModel), measured at more
    than one batch size: worth a per-batch table and a throughput-against-batch plot."""
    return [entry for entry in summary.get("configs", {}).values()
            if entry.get("unit") == "rows" and len(entry.get("by_size") or {}) > 1]  # fmt: skip


def batch_rows(entry: ConfigEntry) -> list[dict]:
    """Per batch size: latency median and 95% CI, p90, p99 (ms) and rows per second."""
    rows = []
    for size, figures in sorted((entry.get("by_size") or {}).items(), key=lambda kv: int(kv[0])):
        median = figures["median"]
        rows.append({"batch": int(size), "median": median, "ci95": figures["ci95"],
                     "p90": figures["p90"], "p99": figures.get("p99"),
                     "per_s": int(size) / median * MS if median else 0.0})  # fmt: skip
    return rows


def concurrency_rows(entry: ConfigEntry) -> list[dict]:
    """Per (batch size, concurrent requests): rows per second (the workers' median)."""
    rates = (entry.get("concurrency") or {}).get("rates") or {}
    return [{"batch": int(size), "requests": int(requests), "per_s": figures["per_s"]}
            for size, by_requests in sorted(rates.items(), key=lambda kv: int(kv[0]))
            for requests, figures in sorted(by_requests.items(), key=lambda kv: int(kv[0]))]


def concurrency_entries(summary: Summary) -> list[ConfigEntry]:
    """The configurations whose workers measured concurrent requests."""
    return [entry for entry in summary.get("configs", {}).values() if entry.get("concurrency")]


def best_batch(entry: ConfigEntry) -> dict:
    """The batch size with the most rows per second (of one of `throughput_entries`)."""
    return max(batch_rows(entry), key=lambda row: row["per_s"])


def runtime_rows(summary: Summary) -> list[dict]:
    """One row per configuration that names its runtime: what ran, at which precision, how
    close its outputs came to TensorFlow's, or why it did not run."""
    rows = []
    for label, entry in summary.get("configs", {}).items():
        runtime = (entry.get("details") or {}).get("runtime")
        failure = _first_failure(entry)
        if not runtime and not failure:
            continue
        checks = list(((entry.get("details") or {}).get("outputs") or {}).values())
        rows.append({
            "label": label,
            "runtime": (runtime or {}).get("runtime", _variant_runtime(entry)),
            "version": (runtime or {}).get("version", ""),
            "precision": (runtime or {}).get("precision", ""),
            "threads": (runtime or {}).get("threads", ""),
            "max_abs": max((c["max_abs"] for c in checks), default=None),
            "max_rel": max((c["max_rel"] for c in checks), default=None),
            "status": _status(entry, failure),
        })  # fmt: skip
    return rows


def _status(entry: ConfigEntry, failure: str | None) -> str:
    if not entry.get("sweep"):
        return f"did not run: {failure}" if failure else "did not run"
    flag = not_ranked(entry)
    if flag:
        return f"not ranked: {flag}"
    checked = (entry.get("details") or {}).get("outputs")
    return "outputs match TensorFlow" if checked else "reference"


def _first_failure(entry: ConfigEntry) -> str | None:
    for failed in entry.get("failed", []):
        reason = (failed.get("reason") or failed.get("status") or "").strip().splitlines()
        if reason:
            lines = [line for line in reason if "cannot convert" in line] or reason[-1:]
            return lines[0][:300]
    return None


def _variant_runtime(entry: ConfigEntry) -> str:
    variant = (entry.get("params") or {}).get("variant")
    return variant.get("spec", "") if isinstance(variant, dict) else str(variant or "")


def curve_label(entry: ConfigEntry) -> str:
    """What ran this curve: the runtime or TensorFlow version, oneDNN state, thread counts and
    the grappler options its workers' TensorFlow reported (when any were set)."""
    details = entry.get("details") or {}
    runtime = details.get("runtime") or {}
    knobs = (entry.get("params") or {}).get("knobs") or {}
    if runtime and runtime.get("runtime") != "tensorflow":
        return (f"{runtime['runtime']} {runtime.get('version', '')} {runtime.get('precision', '')}"
                f", {threads_text(runtime.get('threads'))}")  # fmt: skip
    onednn = knobs.get("onednn")
    onednn_text = "oneDNN default" if onednn is None else f"oneDNN {'on' if onednn else 'off'}"
    inter, intra = knobs.get("inter") or 0, knobs.get("intra") or 0
    threads = f"threads {inter}/{intra}" if inter or intra else "default thread pools"
    grappler = entry.get("grappler")
    options = f", grappler {grappler}" if grappler else ""
    return f"TF {entry.get('tensorflow') or '?'}, {onednn_text}, {threads}{options}"


def threads_text(count: int | str | None) -> str:
    """``1 thread``, ``4 threads``; ``? threads`` when not known."""
    return f"{count} thread" if count == 1 else f"{'?' if count in (None, '') else count} threads"
