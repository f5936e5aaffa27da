"""Statistics on measured latencies: the result object, speedups with a bootstrap CI, and the
win rule (significant *and* above a threshold, as pyperf and asv decide)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats

UNSTABLE_CV = 0.10  # pyperf warns when the standard deviation exceeds 10% of the mean
OUTLIER_Z = 14.826  # hyperfine's modified z-score threshold (median/MAD), reported, never dropped
MIN_VALUES = 3
TESTS = ("mann-whitney", "welch")
NO_DIFFERENCE = "no significant difference"


@dataclass(frozen=True)
class Sample:
    """A set of timings (seconds) with the summaries a benchmark report needs.

    ``groups`` says which worker process each value came from: values of one process share its
    luck (core placement, a busy neighbour), so the bootstrap resamples processes first.

    >>> s = Sample([0.010, 0.011, 0.012])
    >>> round(s.median() * 1000, 3)
    11.0
    """

    values: tuple[float, ...]
    groups: tuple[int, ...]

    def __init__(self, values: Iterable[float], groups: Iterable[int] | None = None):
        vals = tuple(float(v) for v in values)
        if not vals:
            raise ValueError("a Sample needs at least one value")
        if any(not math.isfinite(v) or v < 0 for v in vals):
            raise ValueError("Sample values must be finite, non-negative durations")
        ids = tuple(int(g) for g in groups) if groups is not None else (0,) * len(vals)
        if len(ids) != len(vals):
            raise ValueError(f"{len(ids)} group ids for {len(vals)} values")
        object.__setattr__(self, "values", vals)
        object.__setattr__(self, "groups", ids)

    def by_group(self) -> list[np.ndarray]:
        array, ids = self.array, np.asarray(self.groups)
        return [array[ids == g] for g in sorted(set(self.groups))]

    @property
    def array(self) -> np.ndarray:
        return np.asarray(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def mean(self) -> float:
        return float(self.array.mean())

    def std(self) -> float:
        return float(self.array.std(ddof=1)) if len(self) > 1 else 0.0

    def median(self) -> float:
        return float(np.median(self.array))

    def mad(self) -> float:
        """Median absolute deviation (unscaled)."""
        return float(np.median(np.abs(self.array - self.median())))

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.array, q))

    def median_ci(self, confidence: float = 0.95, resamples: int = 2000, seed: int = 0):
        """Percentile bootstrap CI of the median (seconds)."""
        medians = _resampled_medians(self, resamples, np.random.default_rng(seed))
        tail = (1.0 - confidence) / 2 * 100
        low, high = np.percentile(medians, [tail, 100 - tail])
        return float(low), float(high)

    def cv(self) -> float:
        mean = self.mean()
        return self.std() / mean if mean > 0 else 0.0

    def outliers(self) -> int:
        """How many values a median/MAD test calls outliers (flagged, never removed)."""
        mad = self.mad()
        if mad == 0:
            return 0
        z = 0.6745 * np.abs(self.array - self.median()) / mad
        return int((z > OUTLIER_Z).sum())

    def instability(self) -> list[str]:
        """Reasons this measurement should not be trusted; empty when it looks stable."""
        reasons = []
        if len(self) < MIN_VALUES:
            reasons.append(f"only {len(self)} values (want at least {MIN_VALUES})")
        if self.cv() > UNSTABLE_CV:
            reasons.append(
                f"std is {self.cv():.0%} of the mean (above {UNSTABLE_CV:.0%}): "
                "the machine was busy or the run too short"
            )
        if self.outliers():
            reasons.append(f"{self.outliers()} outlier(s) by the median/MAD test")
        return reasons

    def summary(self, scale: float = 1000.0) -> dict:
        """Figures in milliseconds by default (``scale`` converts from seconds)."""
        return {
            "n": len(self),
            "mean": self.mean() * scale,
            "std": self.std() * scale,
            "median": self.median() * scale,
            "mad": self.mad() * scale,
            "p50": self.percentile(50) * scale,
            "p90": self.percentile(90) * scale,
            "p99": self.percentile(99) * scale,
            "min": min(self.values) * scale,
            "max": max(self.values) * scale,
            "unstable": bool(self.instability()),
            "warnings": self.instability(),
        }


@dataclass(frozen=True)
class Comparison:
    """``before`` against ``after``: speedup = median(before) / median(after)."""

    speedup: float
    ci95: tuple[float, float]
    p_value: float
    test: str
    alpha: float
    threshold: float

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    @property
    def is_win(self) -> bool:
        return self.significant and self.ci95[0] > 1.0 and self.speedup >= 1.0 + self.threshold

    @property
    def is_loss(self) -> bool:
        slower = self.speedup <= 1.0 / (1.0 + self.threshold)
        return self.significant and self.ci95[1] < 1.0 and slower

    @property
    def verdict(self) -> str:
        if self.is_win:
            return "faster"
        if self.is_loss:
            return "slower"
        return NO_DIFFERENCE

    def to_dict(self) -> dict:
        return {
            "value": self.speedup,
            "ci95": list(self.ci95),
            "p_value": self.p_value,
            "test": self.test,
            "significant": self.significant,
            "threshold": self.threshold,
            "verdict": self.verdict,
            "win": self.is_win,
        }


def bootstrap_speedup_ci(
    before: Sample,
    after: Sample,
    confidence: float = 0.95,
    resamples: int = 4000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of median(before)/median(after), resampling each side alone
    (worker processes first, then values within each chosen process)."""
    rng = np.random.default_rng(seed)
    b = _resampled_medians(before, resamples, rng)
    a = _resampled_medians(after, resamples, rng)
    ratios = b / np.maximum(a, np.finfo(float).tiny)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)


def _resampled_medians(sample: Sample, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Medians of bootstrap resamples: processes drawn with replacement, then each drawn
    process's values drawn with replacement (as many as it has)."""
    groups = sample.by_group()
    sizes = np.array([len(g) for g in groups])
    padded = np.full((len(groups), sizes.max()), np.nan)
    for row, values in enumerate(groups):
        padded[row, : len(values)] = values
    chosen = rng.integers(0, len(groups), size=(resamples, len(groups)))
    if len(groups) == 1:
        chosen[:] = 0
    counts = sizes[chosen][..., None]  # (resamples, groups, 1)
    slots = np.arange(sizes.max())[None, None, :]
    picks = np.floor(rng.random((resamples, len(groups), sizes.max())) * counts).astype(int)
    drawn = np.where(slots < counts, padded[chosen[..., None], picks], np.nan)
    return np.nanmedian(drawn.reshape(resamples, -1), axis=1)


def p_value(before: Sample, after: Sample, test: str = "mann-whitney") -> float:
    """Two-sided p-value that the two samples come from the same distribution."""
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, not {test!r}")
    if len(before) < 2 or len(after) < 2:
        return 1.0
    if test == "welch":
        result = _scipy_stats.ttest_ind(before.array, after.array, equal_var=False)
    else:
        result = _scipy_stats.mannwhitneyu(before.array, after.array, alternative="two-sided")
    return 1.0 if math.isnan(result.pvalue) else float(result.pvalue)


def compare(
    before: Sample,
    after: Sample,
    *,
    alpha: float = 0.05,
    threshold: float = 0.05,
    test: str = "mann-whitney",
    seed: int = 0,
) -> Comparison:
    """Compare two samples. A win needs p < alpha, a 95% CI above 1 and a speedup of at least
    1 + threshold; a loss the mirror image. Anything else is "no significant difference"."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), not {alpha}")
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, not {threshold}")
    return Comparison(
        speedup=before.median() / max(after.median(), np.finfo(float).tiny),
        ci95=bootstrap_speedup_ci(before, after, seed=seed),
        p_value=p_value(before, after, test),
        test=test,
        alpha=alpha,
        threshold=threshold,
    )
