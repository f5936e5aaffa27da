"""Statistics on measured latencies: descriptive figures of sweeps (`Sample`), and comparisons
of replicates (`compare`): a worker process, or a paired round, is the unit of evidence, never a
sweep (sweeps of one process share its luck). The verdict needs significance *and* an effect
beyond a threshold, as pyperf and asv decide, and says "inconclusive" while the CI is too wide."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special as _special

UNSTABLE_CV = 0.10  # pyperf warns when the standard deviation exceeds 10% of the mean
OUTLIER_Z = 14.826  # hyperfine's modified z-score threshold (median/MAD), reported, never dropped
MIN_VALUES = 3


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


FASTER, SLOWER, NO_DIFFERENCE, INCONCLUSIVE = "faster", "slower", "no difference", "inconclusive"
PAIRED_TEST = "paired t on log round ratios"
UNPAIRED_TEST = "Welch t on log replicate values"

Replicates = Mapping[int, float] | Sequence[float]  # round (worker index) -> one value (seconds)


@dataclass(frozen=True)
class Comparison:
    """``before`` against ``after`` from replicate values: speedup = before/after (> 1: faster).

    Paired (rounds k of both sides): the geometric mean of the round ratios, its 95% t interval
    and a two-sided one-sample t-test on the log-ratios. Unpaired: the ratio of geometric means,
    Welch's interval and test on log values. ``n`` is the number of rounds (paired) or of the
    smaller side's replicates (unpaired): sweeps are never the unit of evidence.
    """

    speedup: float
    ci95: tuple[float, float]
    p_value: float
    test: str
    n: int
    alpha: float
    threshold: float

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    @property
    def band(self) -> tuple[float, float]:
        """Ratios that count as "no difference": within ``threshold`` either way."""
        return 1.0 / (1.0 + self.threshold), 1.0 + self.threshold

    @property
    def half_width(self) -> float:
        """The CI's relative half-width (0.025 = +/-2.5%); infinite without a CI."""
        low, high = self.ci95
        if low <= 0 or not math.isfinite(high):
            return math.inf
        return math.sqrt(high / low) - 1.0

    @property
    def precise(self) -> bool:
        """Narrow enough to decide: +/- threshold/2 (a 5% threshold wants +/-2.5%)."""
        return self.half_width <= self.threshold / 2

    @property
    def inside_band(self) -> bool:
        low, high = self.ci95
        return self.band[0] <= low and high <= self.band[1]

    @property
    def beyond_band(self) -> bool:
        low, high = self.ci95
        return low > self.band[1] or high < self.band[0]

    @property
    def decisive(self) -> bool:
        """Nothing more to learn at this threshold: a stopping rule on precision or on a CI wholly
        beyond or inside the band (never on significance alone, which would inflate false wins)."""
        return self.precise or self.inside_band or self.beyond_band

    @property
    def is_win(self) -> bool:
        """The estimate beyond the threshold and the CI clear of half of it (which makes it
        significant too): with a wide CI, significance alone would call ~alpha of A/A runs."""
        low, _ = self.ci95
        return self.speedup >= self.band[1] and low >= math.sqrt(self.band[1])

    @property
    def is_loss(self) -> bool:
        _, high = self.ci95
        return self.speedup <= self.band[0] and high <= math.sqrt(self.band[0])

    @property
    def verdict(self) -> str:
        """faster / slower (see `is_win`), no difference (a CI inside the band, or precise with
        the estimate within it: a real but tiny effect is still "no difference"), else
        inconclusive: the budget ended before the CI could decide."""
        if self.is_win:
            return FASTER
        if self.is_loss:
            return SLOWER
        if self.inside_band or self.precise:
            return NO_DIFFERENCE
        return INCONCLUSIVE

    def to_dict(self) -> dict:
        return {
            "value": self.speedup,
            "ci95": list(self.ci95),
            "p_value": self.p_value,
            "test": self.test,
            "n": self.n,
            "significant": self.significant,
            "threshold": self.threshold,
            "verdict": self.verdict,
            "win": self.is_win,
        }


def compare(
    before: Replicates,
    after: Replicates,
    *,
    alpha: float = 0.05,
    threshold: float = 0.05,
) -> Comparison:
    """Compare replicate values (one per worker process or paired round, seconds). Rounds both
    sides completed are paired (at least two); otherwise the sides are compared unpaired."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), not {alpha}")
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, not {threshold}")
    first, second = _as_rounds(before), _as_rounds(after)
    common = sorted(first.keys() & second.keys())
    if len(common) >= 2:
        ratios = np.log([first[k] for k in common]) - np.log([second[k] for k in common])
        return _paired(ratios, alpha, threshold)
    return _unpaired(np.log(list(first.values())), np.log(list(second.values())), alpha,
                     threshold)  # fmt: skip


def _as_rounds(values: Replicates) -> dict[int, float]:
    rounds = dict(values) if isinstance(values, Mapping) else dict(enumerate(values))
    if any(not math.isfinite(v) or v <= 0 for v in rounds.values()):
        raise ValueError("replicate values must be finite, positive durations")
    return {int(k): float(v) for k, v in rounds.items()}


def _paired(log_ratios: np.ndarray, alpha: float, threshold: float) -> Comparison:
    n = len(log_ratios)
    mean, sd = float(log_ratios.mean()), float(log_ratios.std(ddof=1))
    return _from_t(mean, sd / math.sqrt(n), n - 1, PAIRED_TEST, n, alpha, threshold)


def _unpaired(before: np.ndarray, after: np.ndarray, alpha: float, threshold: float) -> Comparison:
    n = min(len(before), len(after))
    mean = float(before.mean() - after.mean()) if n else 0.0
    if n < 2:
        return _from_t(mean, math.inf, 1, UNPAIRED_TEST, n, alpha, threshold)
    var_b, var_a = before.var(ddof=1) / len(before), after.var(ddof=1) / len(after)
    se = math.sqrt(var_b + var_a)
    df = (var_b + var_a) ** 2 / (var_b**2 / (len(before) - 1) + var_a**2 / (len(after) - 1)) \
        if se > 0 else 1.0  # fmt: skip
    return _from_t(mean, se, df, UNPAIRED_TEST, n, alpha, threshold)


def _from_t(mean: float, se: float, df: float, test: str, n: int, alpha: float,
            threshold: float) -> Comparison:  # fmt: skip
    """A ratio exp(mean) with its 95% t interval and two-sided p-value (log scale)."""
    if not math.isfinite(se):
        return Comparison(math.exp(mean), (0.0, math.inf), 1.0, test, n, alpha, threshold)
    if se == 0:
        p = 1.0 if mean == 0 else 0.0
        return Comparison(math.exp(mean), (math.exp(mean),) * 2, p, test, n, alpha, threshold)
    spread = float(_special.stdtrit(df, 0.975)) * se  # scipy.special: fast enough for
    p = float(2 * _special.stdtr(df, -abs(mean) / se))  # thousands of simulated comparisons
    ci = (math.exp(mean - spread), math.exp(mean + spread))
    return Comparison(math.exp(mean), ci, p, test, n, alpha, threshold)
