"""The benchmark's PNG, drawn from its JSON alone (so it can be redrawn without measuring)."""

from __future__ import annotations

import json
from pathlib import Path


def plot(json_path: Path, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    record = json.loads(Path(json_path).read_text())
    contenders = {n: r for n, r in record["contenders"].items() if "throughput" in r}
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5), width_ratios=(2, 1))
    _throughput_panel(left, contenders, record.get("flops", {}))
    _latency_panel(right, contenders)
    figure.suptitle(f"g2p on one core ({record['metadata']['cpu']})", fontsize=11)
    figure.tight_layout()
    figure.savefig(png_path, dpi=120)
    plt.close(figure)


def _throughput_panel(axes, contenders: dict, flops: dict) -> None:
    sizes = sorted({int(s) for r in contenders.values() for s in r["throughput"]})
    width = 0.8 / max(len(contenders), 1)
    for index, (name, result) in enumerate(contenders.items()):
        rates = [result["throughput"].get(str(s), {}).get("words_per_s", {}) for s in sizes]
        xs = [x + index * width for x in range(len(sizes))]
        axes.bar(xs, [r.get("median", 0) for r in rates], width, label=name)
    if "roofline_words_per_s" in flops:
        axes.axhline(
            flops["roofline_words_per_s"],
            color="k",
            linestyle="--",
            label="GEMM roofline (executed FLOPs)",
        )
    axes.set_xticks([x + width * (len(contenders) - 1) / 2 for x in range(len(sizes))])
    axes.set_xticklabels([f"batch {s}" for s in sizes])
    axes.set_yscale("log")
    axes.set_ylabel("words/s (median)")
    axes.legend(fontsize=8)


def _latency_panel(axes, contenders: dict) -> None:
    names = [n for n, r in contenders.items() if "latency" in r]
    p50 = [contenders[n]["latency"]["ms"]["median"] for n in names]
    p95 = [contenders[n]["latency"]["ms"]["p95"] for n in names]
    axes.barh(names, p95, color="lightgray", label="p95")
    axes.barh(names, p50, color="tab:blue", label="p50")
    axes.set_xscale("log")
    axes.set_xlabel("single-word latency (ms)")
    axes.invert_yaxis()
    axes.legend(fontsize=8)
