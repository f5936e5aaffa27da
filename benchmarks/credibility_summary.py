"""Aggregates of a credibility run: verdict counts, CI half-widths, detection rates, timings,
and the targets they are held to. Pure functions of the per-compare entries, so a saved JSON can
be summarised again without measuring."""

from __future__ import annotations

from typing import Any

import numpy as np

from .targets import target

FASTER, SLOWER, NO_DIFFERENCE, INCONCLUSIVE = "faster", "slower", "no difference", "inconclusive"
DECISIVE = (FASTER, SLOWER)
# A/A: the two sides run the same thing. A/B: side b does `effect` more work, so b is slower.
TARGETS: dict[str, Any] = {
    "aa_wrong_rate": 1 / 20,  # at most 1 wrong verdict in 20
    "aa_half_width_median_pct": 3.0,
    "aa_half_width_p90_pct": 5.0,
    "right_rate": {0.10: 0.90, 0.05: 0.50},
    "seconds_median": 180.0,  # a default compare within 3 minutes
}


def verdict_class(verdict: str | None) -> str:
    """The lab's verdict wording (old and new) reduced to four classes."""
    text = (verdict or "").lower()
    if text.startswith(INCONCLUSIVE) or not text:
        return INCONCLUSIVE
    if text in DECISIVE:
        return text
    if text.startswith("no "):  # "no difference", "no significant difference"
        return NO_DIFFERENCE
    raise ValueError(f"unknown verdict {verdict!r}")


def half_width_pct(value: float, ci95: list[float]) -> float:
    """Half the 95% CI's width, in percent of the estimated ratio."""
    low, high = ci95
    return 100.0 * (high - low) / 2.0 / value


def expected_class(effect: float) -> str:
    return NO_DIFFERENCE if effect == 0 else SLOWER


def is_wrong(entry: dict) -> bool:
    """A/A: any decisive verdict. A/B: the opposite direction ("faster" for a slower b)."""
    found = verdict_class(entry["verdict"])
    return found in DECISIVE if entry["effect"] == 0 else found == FASTER


def aggregate(entries: list[dict]) -> dict:
    """One cell (a condition and an effect) of finished compares."""
    done = [e for e in entries if e.get("verdict") is not None]
    if not done:
        return {"n": 0, "failed": len(entries)}
    classes = [verdict_class(e["verdict"]) for e in done]
    widths = [e["half_width_pct"] for e in done]
    seconds = [e["seconds"] for e in done]
    rounds = [e["rounds"] for e in done if e.get("rounds") is not None]
    effect = done[0]["effect"]
    return {
        "n": len(done),
        "failed": len(entries) - len(done),
        "verdicts": {c: classes.count(c) for c in (FASTER, SLOWER, NO_DIFFERENCE, INCONCLUSIVE)},
        "wrong": sum(is_wrong(e) for e in done),
        "right_rate": classes.count(expected_class(effect)) / len(done),
        "ratio_median": float(np.median([e["value"] for e in done])),
        "half_width_pct": _spread(widths),
        "seconds": _spread(seconds),
        "rounds": _spread(rounds) if rounds else None,
    }


def _spread(values: list[float]) -> dict:
    array = np.asarray(values, float)
    return {"median": float(np.median(array)), "p90": float(np.percentile(array, 90)),
            "max": float(array.max())}  # fmt: skip


def summarise(runs: list[dict]) -> dict:
    """``{condition: {effect label: cell}}`` plus every target checked per condition."""
    cells: dict[str, dict[str, dict]] = {}
    for condition in dict.fromkeys(r["condition"] for r in runs):
        mine = [r for r in runs if r["condition"] == condition]
        cells[condition] = {kind: aggregate([r for r in mine if r["kind"] == kind])
                            for kind in dict.fromkeys(r["kind"] for r in mine)}  # fmt: skip
    return {"cells": cells, "targets": {c: check_targets(runs, c) for c in cells}}


def check_targets(runs: list[dict], condition: str) -> dict:
    """Each target of the condition: the measured figure, the bound and whether it is met."""
    mine = [r for r in runs if r["condition"] == condition and r.get("verdict") is not None]
    checks = {}
    aa = [r for r in mine if r["effect"] == 0]
    if aa:
        widths = [r["half_width_pct"] for r in aa]
        checks["aa_wrong_rate"] = _at_most(sum(map(is_wrong, aa)) / len(aa), "aa_wrong_rate")
        checks["aa_half_width_median_pct"] = _at_most(float(np.median(widths)),
                                                      "aa_half_width_median_pct")  # fmt: skip
        checks["aa_half_width_p90_pct"] = _at_most(float(np.percentile(widths, 90)),
                                                   "aa_half_width_p90_pct")  # fmt: skip
    for effect, bound in TARGETS["right_rate"].items():
        ab = [r for r in mine if r["effect"] == effect]
        if ab:
            rate = sum(verdict_class(r["verdict"]) == SLOWER for r in ab) / len(ab)
            checks[f"right_rate_{round(effect * 100)}pct"] = target(rate, ">=", bound)
    if mine:
        checks["seconds_median"] = _at_most(float(np.median([r["seconds"] for r in mine])),
                                            "seconds_median")  # fmt: skip
    return checks


def _at_most(value: float, name: str) -> dict:
    return target(value, "<=", TARGETS[name])
