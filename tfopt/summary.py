"""Turning run records into the summary every exporter draws from (figures in milliseconds).

The summary stays the JSON document ``summary.json`` holds (`Summary`, typed as that document's
fields): the fields every kind shares, then the kind's own. `from_dict` is how a document comes
back in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict, cast

import numpy as np

from .records import RunRecord, pooled, pooled_by_size
from .schema import SchemaError, check_version
from .stats import Sample, compare

SCHEMA = 1
READABLE_SCHEMAS = range(1, SCHEMA + 1)
REQUIRED_FIELDS = ("kind", "title", "configs", "steps", "comparisons")  # besides "schema"
THREAD_POOLS = ("inter", "intra")
MS = 1000.0


RUN_SETTINGS = ("workload", "sizes", "workers", "repeats", "warmup", "cpus", "memory", "zygote",
                "tandem")


class ConfigEntry(TypedDict, total=False):
    """One configuration pooled over its workers (`config_entry`): label, params, workers and
    failed always; the figures only when a worker completed (else ``sweep`` is None)."""

    label: str
    params: dict[str, Any]
    workers: int
    failed: list[dict[str, Any]]  # worker, status, reason
    unit: str
    sweep: dict[str, Any] | None  # `tfopt.stats.Sample.summary`, in ms
    sweep_ci95: list[float]
    throughput: float
    by_size: dict[str, dict[str, Any]]  # median, ci95, p90, p99, n per input size
    sweeps_ms: list[float]
    sweeps_worker: list[int]
    replicates_ms: dict[str, float]  # one per worker (its round), as JSON keys
    tensorflow: Any
    details: dict[str, Any]
    grappler: Any
    concurrency: dict[str, Any] | None  # `concurrency_entry`
    warnings: list[str]


class Versus(TypedDict):
    """A named comparison (`versus`), drawn as ``<file>.png``; ``comparison`` is `comparison`'s
    figures, None when a side has no replicates."""

    label: str
    file: str
    comparison: dict[str, Any] | None


class _Shared(TypedDict):
    """The fields `from_dict` requires of every kind."""

    schema: int
    kind: str  # "lab", "compare" or "matrix"
    title: str
    configs: dict[str, ConfigEntry]
    steps: list[dict[str, Any]]  # the lab's walked steps; empty for other kinds
    comparisons: list[Versus]


class Summary(_Shared, total=False):
    """A summary document: the fields every kind shares, ``environment`` when recorded, then
    its kind's own (the lab's ``best`` .. ``speedup``; compare's ``rounds``; a journey's
    ``journey``). Written by `summary_document`, read back by `from_dict`."""

    environment: dict[str, Any]
    settings: dict[str, Any]
    rounds: dict[str, Any] | None  # `rounds_entry`
    drift: dict[str, Any] | None  # `baseline_drift` of the lab's initial
    skipped_steps: dict[str, str]  # step name -> why it does not apply
    tuning: dict[str, Any]  # empty when the threads step did not run
    best: str
    tied: list[str]  # the other configurations the final rounds cannot tell from ``best``
    recommended: dict[str, Any]
    recommendation: list[str]
    speedup: dict[str, Any] | None
    journey: list[dict[str, Any]]


def summary_document(kind: str, title: str, settings: dict, configs: dict[str, ConfigEntry], *,
                     environment: dict | None = None, steps: list | None = None,
                     comparisons: list[Versus] | None = None, **extra: Any) -> Summary:  # fmt: skip
    """The summary every exporter reads: the fields of every kind (``lab``, ``compare``,
    ``matrix``), then the kind's own (``extra``, fields of `Summary`)."""
    document: dict[str, Any] = {"schema": SCHEMA, "kind": kind, "title": title}
    if environment is not None:
        document["environment"] = environment
    return cast(Summary, {**document, "settings": settings, "configs": configs,
                          "steps": steps or [], "comparisons": comparisons or [], **extra})


def from_dict(data: Any, source: str | Path) -> Summary:
    """The summary document read from ``source``; `SchemaError` for a schema this tfopt does
    not read or a document without the fields every kind has."""
    if not isinstance(data, dict):
        raise SchemaError(f"{source} is not a summary document (a JSON object)")
    check_version(data, "schema", READABLE_SCHEMAS, source)
    missing = [field for field in REQUIRED_FIELDS if field not in data]
    if missing:
        raise SchemaError(f"{source} is not a summary document: it lacks {', '.join(missing)}")
    return cast(Summary, data)


def config_entry(label: str, params: dict, records: list[RunRecord]) -> ConfigEntry:
    """Everything about one configuration, pooled over its completed workers."""
    done = [r for r in records if r.ok]
    failed = [{"worker": r.worker, "status": r.status.value, "reason": r.reason} for r in records
              if not r.ok]  # fmt: skip
    entry: ConfigEntry = {"label": label, "params": params, "workers": len(done), "failed": failed}
    sample = pooled(done)
    if sample is None:
        return {**entry, "sweep": None, "warnings": ["no worker completed"]}
    first = done[0].payload or {}  # a completed record has one
    items = first.get("items_per_sweep", 0)
    return {
        **entry,
        "unit": first.get("unit", "items"),
        "sweep": sample.summary(),
        "sweep_ci95": [v * MS for v in sample.median_ci()],
        "throughput": items / sample.median() if sample.median() else 0.0,
        "by_size": {str(size): _size_entry(s) for size, s in pooled_by_size(done).items()},
        "sweeps_ms": [v * MS for v in sample.values],
        "sweeps_worker": list(sample.groups),
        "replicates_ms": {str(k): v * MS for k, v in replicates(done).items()},
        "tensorflow": first.get("tensorflow"),
        "details": first.get("details") or {},
        "grappler": first.get("grappler"),
        "concurrency": concurrency_entry(done),
        "warnings": sample.instability(),
    }


def concurrency_entry(records: list[RunRecord]) -> dict | None:
    """Rows per second per (batch size, concurrent requests), each worker one value per pair:
    their median and count, and the best pair by that median. None when nothing measured it."""
    pairs: dict[tuple[int, int], list[float]] = {}
    for record in records:
        rates = ((record.payload or {}).get("concurrency") or {}).get("rates") or {}
        for size, by_requests in rates.items():
            for requests, rate in by_requests.items():
                pairs.setdefault((int(size), int(requests)), []).append(rate)
    if not pairs:
        return None
    medians = {pair: float(np.median(values)) for pair, values in pairs.items()}
    table: dict[str, dict] = {}
    for (size, requests), values in sorted(pairs.items()):
        table.setdefault(str(size), {})[str(requests)] = {"per_s": medians[size, requests],
                                                          "n": len(values)}  # fmt: skip
    (size, requests), best = max(medians.items(), key=lambda item: item[1])
    return {"rates": table, "best": {"batch": size, "requests": requests, "per_s": best}}


def not_ranked(entry: ConfigEntry) -> str | None:
    """Why a configuration cannot be ranked: its runtime's outputs differ from TensorFlow's
    beyond the tolerance of its precision. None when they agree (or nothing was converted)."""
    checks = (entry.get("details") or {}).get("outputs") or {}
    bad = {size: check for size, check in checks.items() if not check["within_tolerance"]}
    if not bad:
        return None
    max_abs = max(check["max_abs"] for check in bad.values())
    max_rel = max(check["max_rel"] for check in bad.values())
    tolerance = ((entry.get("details") or {}).get("runtime") or {}).get("tolerance")
    return (f"outputs differ (max abs {max_abs:.3g}, rel {max_rel:.3g}; tolerance {tolerance}, "
            f"batch {', '.join(bad)})")


def tunable_settings(params: dict) -> dict:
    """What the lab varies in a configuration, as a user would set it: build, execution options,
    the thread and oneDNN knobs, and extra environment variables; what is left at its default
    (None, or 0 threads) is left out."""
    chosen = {key: params[key] for key in ("variant", "mode", "batch_size", "bucket")
              if params.get(key) is not None}  # fmt: skip
    knobs = {key: value for key, value in params.get("knobs", {}).items()
             if value is not None and not (key in THREAD_POOLS and value == 0)}  # 0: TF's default
    return {**chosen, **knobs, **params.get("env", {})}


def _size_entry(sample: Sample) -> dict:
    low, high = sample.median_ci()
    return {
        "median": sample.median() * MS,
        "ci95": [low * MS, high * MS],
        "p90": sample.percentile(90) * MS,
        "p99": sample.percentile(99) * MS,
        "n": len(sample),
    }


def replicates(records: list[RunRecord]) -> dict[int, float]:
    """One value per completed worker (its round): the median of its sweeps, in seconds."""
    return {r.worker: float(np.median(r.sweeps())) for r in records if r.ok and r.sweeps()}


def comparison(before: ConfigEntry, after: ConfigEntry, alpha: float,
               threshold: float) -> dict[str, Any] | None:  # fmt: skip
    """``after`` against ``before`` from their replicates (worker medians), paired by round, so
    it can be redone from summary.json; sweeps are never pooled into a p-value."""
    first, second = _replicates_of(before), _replicates_of(after)
    if not first or not second:
        return None
    result = compare(first, second, alpha=alpha, threshold=threshold)
    return {"before": before["label"], "after": after["label"], **result.to_dict()}


def _replicates_of(entry: ConfigEntry) -> dict[int, float]:
    return {int(k): v for k, v in (entry.get("replicates_ms") or {}).items()}


def versus(label: str, file: str, before: ConfigEntry, after: ConfigEntry, alpha: float,
           threshold: float) -> Versus:  # fmt: skip
    """A named comparison drawn as ``<file>.png`` (variants: ``<a>_vs_<b>``)."""
    return {"label": label, "file": file,
            "comparison": comparison(before, after, alpha, threshold)}  # fmt: skip


def baseline_drift(label: str, earlier: list[RunRecord],
                   later: list[RunRecord]) -> dict[str, Any] | None:  # fmt: skip
    """How far one configuration's own speed moved between two phases of a run (screening, then
    the final rounds): the median of its replicates in each, in ms, and the minutes between them.
    A speedup's CI covers only the final rounds' moment; a rerun, minutes later, may see the
    machine as the final rounds did not. None when a phase has no replicate."""
    first, second = replicates(earlier), replicates(later)
    if not first or not second:
        return None
    before, after = float(np.median(list(first.values()))), float(np.median(list(second.values())))
    ended = [[r.finished_at for r in records if r.ok] for records in (earlier, later)]
    return {"label": label, "screening_ms": before * MS, "final_ms": after * MS,
            "change": after / before - 1.0,
            "minutes_apart": (float(np.median(ended[1])) - float(np.median(ended[0]))) / 60.0}


def rounds_entry(rounds) -> dict[str, Any]:
    """How the randomized rounds went: how many, each one's order, why they stopped, and how
    the sides were measured."""
    return {"count": len(rounds.orders), "orders": rounds.orders, "stopped": rounds.stopped,
            "layout": rounds.layout}  # fmt: skip


def speedup_text(comparison_: Mapping[str, Any], digits: int = 2) -> str:
    """``1.23x (95% CI 1.10-1.31, p=0.002, 8 rounds, faster)``: one wording in the report,
    plots and CLI."""
    low, high = comparison_["ci95"]
    rounds = f", {comparison_['n']} rounds" if "n" in comparison_ else ""
    return (f"{comparison_['value']:.{digits}f}x (95% CI {low:.{digits}f}-{high:.{digits}f}, "
            f"p={comparison_['p_value']:.2g}{rounds}, {comparison_['verdict']})")  # fmt: skip


def drift_text(summary: Mapping[str, Any]) -> str | None:
    """How far the lab's ``initial`` moved within the run, set against Best's CI: a warning that
    a rerun may see a speedup outside that CI (seen: initial -9% between two runs, Best's
    speedup -7%; but also initial +60% within a run whose Best matched the next run's to 0.1%).
    None without a drift or a Best other than initial."""
    drift, speedup = summary.get("drift"), summary.get("speedup")
    if not drift or not speedup or summary.get("best") in (None, drift["label"]):
        return None
    low, high = speedup["ci95"]
    half_width = (high - low) / 2 / speedup["value"]
    line = (f"`{drift['label']}` itself measured {drift['screening_ms']:.1f} ms/sweep in "
            f"screening and {drift['final_ms']:.1f} in the final rounds, "
            f"{drift['minutes_apart']:.0f} min later ({drift['change']:+.1%})")  # fmt: skip
    if abs(drift["change"]) <= half_width:
        return f"{line}: within Best's CI (+/-{half_width:.1%})."
    return (f"{line}: more than Best's CI (+/-{half_width:.1%}), which covers the final rounds' "
            f"moment only. The machine's speed moved; a speedup moves only as far as its two "
            f"sides react differently, but a rerun in another state may land outside this CI.")


def direction_text(comparison_: Mapping[str, Any], digits: int = 2) -> str:
    """The result in words: ``b is 1.48x faster than a``, ``... 1.20x slower ...``, or
    ``no difference between a and b (within 5%)``, ``inconclusive (95% CI 0.97-1.10)``."""
    before, after, value = comparison_["before"], comparison_["after"], comparison_["value"]
    verdict = comparison_["verdict"]
    if verdict == "faster":
        return f"{after} is {value:.{digits}f}x faster than {before}"
    if verdict == "slower":
        return f"{after} is {1 / value:.{digits}f}x slower than {before}"
    if verdict == "no difference":
        return (f"no difference between {before} and {after} "
                f"(within {comparison_['threshold']:.0%})")  # fmt: skip
    low, high = comparison_["ci95"]
    return f"{after} vs {before}: inconclusive (95% CI {low:.{digits}f}-{high:.{digits}f})"
