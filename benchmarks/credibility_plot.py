"""credibility.png: every compare's ratio and 95% CI, one panel per condition, drawn from the
benchmark's JSON alone."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .credibility_summary import verdict_class  # noqa: E402

COLOURS = {"faster": "tab:green", "slower": "tab:red", "no difference": "tab:gray",
           "inconclusive": "tab:orange"}  # fmt: skip
LABELS = {"aa": "A/A", "aa_own": "A/A, own workers", "ab10": "A/B +10%", "ab5": "A/B +5%"}


def plot(result: dict, path: Path) -> Path:
    conditions = result["conditions"]
    fig, axes = plt.subplots(1, len(conditions), figsize=(6 * len(conditions), 7), sharex=True,
                             squeeze=False)  # fmt: skip
    for axis, condition in zip(axes[0], conditions, strict=True):
        _panel(axis, [r for r in result["runs"] if r["condition"] == condition], condition,
               result.get("cells", {}).get(condition, {}))  # fmt: skip
    load = ", ".join(f"{v:.1f}" for v in result["loadavg_start"])
    mode = "quick" if result["quick"] else "default"
    fig.suptitle(f"tfopt compare ({mode} settings): b/a speed ratio with 95% CI per compare\n"
                 f"{len(result['cpus'])} cores, load average at start {load}")  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _panel(axis, runs: list[dict], condition: str, cells: dict) -> None:
    done = [r for r in runs if r.get("verdict") is not None]
    done.sort(key=lambda r: (r["kind"], r["round"]))
    for row, entry in enumerate(done):
        low, high = entry["ci95"]
        colour = COLOURS[verdict_class(entry["verdict"])]
        axis.plot([low, high], [row, row], color=colour, linewidth=2)
        axis.plot(entry["value"], row, "o", color=colour, markersize=4)
    for truth in (1.0, 1 / 1.05, 1 / 1.10):
        axis.axvline(truth, color="black", linewidth=0.6, linestyle=":")
    axis.set_yticks(range(len(done)), [f"{LABELS[r['kind']]} #{r['round']}" for r in done],
                    fontsize=6)  # fmt: skip
    axis.set_xlabel("speed of b relative to a (dotted: 1, 1/1.05, 1/1.10)")
    axis.set_title(f"{condition}\n" + _caption(cells), fontsize=8)
    for name, colour in COLOURS.items():
        axis.plot([], [], color=colour, label=name)
    axis.legend(fontsize=7, loc="lower right")


def _caption(cells: dict) -> str:
    parts = []
    for kind, cell in cells.items():
        if cell.get("n"):
            width, seconds = cell["half_width_pct"], cell["seconds"]["median"]
            parts.append(f"{LABELS[kind]}: n={cell['n']}, wrong={cell['wrong']}, "
                         f"right={cell['right_rate']:.0%}, CI ±{width['median']:.1f}% "
                         f"(p90 {width['p90']:.1f}%), {seconds:.0f} s")  # fmt: skip
    return "\n".join(parts)
