"""From raw worker results to the benchmark's figures: ratios, roofline, targets."""

from __future__ import annotations

import statistics

from g2p._inputs import padded_rows, plan_batches
from tfopt.stats import Sample

from .contenders import DEFAULT, REFERENCE, TF_CONTENDERS
from .flops import flops_per_word, steps

PEER = "numpy-batched"
TARGETS = {
    "default_batch_vs_g2p_en": 5.0,
    "default_single_word_p50_vs_g2p_en": 0.5,
    "batch_vs_g2p_en": 5.0,
    "batch_vs_numpy_batched": 1.5,
    "batch_roofline_fraction": 0.8,
    "single_word_p50_vs_g2p_en": 0.5,
}
"""`default_*`: `g2p.predict` as it comes; the rest: the best TensorFlow mode for each figure."""


def merge(into: dict, new: dict) -> None:
    """Pool the raw samples of one more pass of the same contender into `into`."""
    for size, entry in new["throughput"].items():
        pooled = into.setdefault("throughput", {}).setdefault(
            size, {"words": entry["words"], "words_per_s": {"samples": []}}
        )
        pooled["words_per_s"]["samples"] += entry["words_per_s"]["samples"]
    pooled = into.setdefault("latency", {"words": new["latency"]["words"], "ms": {"samples": []}})
    pooled["ms"]["samples"] += new["latency"]["ms"]["samples"]
    add_statistics(into)


def summary(values: list[float]) -> dict[str, float]:
    """Median, MAD (unscaled), p95 and count, by the lab's own statistics."""
    sample = Sample(values)
    return {"median": sample.median(), "mad": sample.mad(), "p95": sample.percentile(95),
            "n": len(sample)}  # fmt: skip


def add_statistics(result: dict) -> None:
    """Median, MAD, p95 and count next to each list of samples."""
    for entry in result["throughput"].values():
        entry["words_per_s"].update(summary(entry["words_per_s"]["samples"]))
    result["latency"]["ms"].update(summary(result["latency"]["ms"]["samples"]))


def words_per_s(result: dict, batch_size: int) -> float:
    return result["throughput"][str(batch_size)]["words_per_s"]["median"]


def best_batch(result: dict) -> tuple[int, float]:
    """The batch size (above 1) with the highest throughput, and that throughput."""
    sizes = [int(size) for size in result["throughput"] if int(size) > 1]
    size = max(sizes, key=lambda s: words_per_s(result, s))
    return size, words_per_s(result, size)


def flops_summary(
    words: list[str], reference: list[list[str]], peak_flops: float, batch_sizes: list[int]
) -> dict:
    issue = statistics.fmean(flops_per_word(w, p) for w, p in zip(words, reference, strict=True))
    tables = statistics.fmean(
        flops_per_word(w, p, input_tables=True) for w, p in zip(words, reference, strict=True)
    )
    return {
        "flops_per_word": issue,
        "flops_per_word_with_input_tables": tables,
        "peak_flops": peak_flops,
        "roofline_words_per_s": peak_flops / tables,
        "roofline_counts": "executed FLOPs (input projections are table lookups)",
        "step_efficiency": {
            decoder: {
                str(size): step_efficiency(words, reference, size, shrink=decoder == "shrinking")
                for size in batch_sizes
            }
            for decoder in ("shrinking", "masked")
        },
    }


def step_efficiency(
    words: list[str], reference: list[list[str]], batch_size: int, shrink: bool = True
) -> float:
    """Useful GRU steps over steps executed when `g2p.Model` batches `words`: padding rows, and
    rows that wait for the longest word of their batch in the encoder, do work that is thrown
    away; in the decoder too unless it drops finished rows (`shrink`, every mode but XLA)."""
    useful = executed = 0
    for batch in plan_batches(words, batch_size, bucket=True):
        encoder, decoder = zip(*(steps(words[i], reference[i]) for i in batch), strict=True)
        useful += sum(encoder) + sum(decoder)
        rows = padded_rows(len(batch), batch_size)
        executed += rows * max(encoder) + (sum(decoder) if shrink else rows * max(decoder))
    return useful / executed


def mismatches(predictions: list[list[str]], reference: list[list[str]]) -> int:
    return sum(got != want for got, want in zip(predictions, reference, strict=True))


def targets(contenders: dict, roofline_words_per_s: float) -> dict:
    """The targets as ratios measured in this run: for `g2p.predict`'s default and for the best
    TensorFlow mode (those whose contender or baseline was not measured are left out)."""
    measured = {name: r for name, r in contenders.items() if "throughput" in r}
    modes = [name for name in TF_CONTENDERS if name in measured]
    if not modes or REFERENCE not in measured:
        return {}
    best = max(modes, key=lambda name: best_batch(measured[name])[1])
    fastest = min(modes, key=lambda name: p50_ms(measured[name]))
    batch_size, rate = best_batch(measured[best])
    reference_rate, reference_p50 = words_per_s(measured[REFERENCE], 1), p50_ms(measured[REFERENCE])
    ratios = {
        "batch_vs_g2p_en": rate / reference_rate,
        "batch_roofline_fraction": rate / roofline_words_per_s,
        "single_word_p50_vs_g2p_en": p50_ms(measured[fastest]) / reference_p50,
    }
    if DEFAULT in measured:
        ratios["default_batch_vs_g2p_en"] = best_batch(measured[DEFAULT])[1] / reference_rate
        ratios["default_single_word_p50_vs_g2p_en"] = p50_ms(measured[DEFAULT]) / reference_p50
    if PEER in measured:
        ratios["batch_vs_numpy_batched"] = rate / best_batch(measured[PEER])[1]
    met = {
        name: (value <= TARGETS[name]) if "single" in name else (value >= TARGETS[name])
        for name, value in ratios.items()
    }
    return {
        "batch_contender": best,
        "batch_size": batch_size,
        "latency_contender": fastest,
        "ratios": ratios,
        "targets": TARGETS,
        "met": met,
    }


def p50_ms(result: dict) -> float:
    return result["latency"]["ms"]["median"]
