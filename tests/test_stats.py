"""tfopt.stats: sweep summaries and instability flags (descriptive), and the replicate-level
comparison: paired rounds, the verdict words and when a CI is decisive."""

import numpy as np
import pytest

from tfopt.stats import (
    FASTER,
    INCONCLUSIVE,
    NO_DIFFERENCE,
    PAIRED_TEST,
    SLOWER,
    UNPAIRED_TEST,
    Sample,
    compare,
)


def lognormal(median: float, n: int, seed: int, spread: float = 0.03) -> Sample:
    rng = np.random.default_rng(seed)
    return Sample(median * np.exp(rng.normal(0, spread, n)))


def test_summary_figures_match_numpy():
    values = [0.010, 0.012, 0.011, 0.013, 0.050]
    s = Sample(values)
    assert s.median() == pytest.approx(0.012)
    assert s.mean() == pytest.approx(np.mean(values))
    assert s.std() == pytest.approx(np.std(values, ddof=1))
    assert s.mad() == pytest.approx(0.001)
    assert s.percentile(90) == pytest.approx(np.percentile(values, 90))
    summary = s.summary()
    assert summary["p50"] == pytest.approx(12.0) and summary["n"] == 5
    assert summary["p99"] <= summary["max"]


@pytest.mark.parametrize("bad", [[], [float("nan")], [-1.0], [float("inf")]])
def test_sample_refuses_values_that_are_not_durations(bad):
    with pytest.raises(ValueError):
        Sample(bad)


def test_wide_spread_is_flagged_unstable_and_outliers_are_counted_not_dropped():
    stable = lognormal(0.01, 30, 11, spread=0.01)
    assert stable.instability() == []
    noisy = lognormal(0.01, 30, 12, spread=0.4)
    assert any("of the mean" in reason for reason in noisy.instability())
    with_outlier = Sample([*stable.values, 1.0])
    assert with_outlier.outliers() == 1 and len(with_outlier) == 31
    assert any("outlier" in reason for reason in with_outlier.instability())
    assert "only 2 values" in Sample([1.0, 1.0]).instability()[0]


def test_median_ci_brackets_the_median():
    s = lognormal(0.01, 50, 13)
    low, high = s.median_ci()
    assert low <= s.median() <= high


def rounds(median: float, n: int, seed: int, spread: float = 0.03) -> list[float]:
    """One replicate value per round (a worker's median), lognormal around ``median``."""
    return list(median * np.exp(np.random.default_rng(seed).normal(0, spread, n)))


def test_a_clear_speedup_is_faster_with_the_geometric_mean_and_a_t_interval():
    before, after = rounds(0.020, 10, seed=1), rounds(0.010, 10, seed=2)
    result = compare(before, after)
    ratios = np.log(before) - np.log(after)
    assert result.speedup == pytest.approx(np.exp(ratios.mean()))
    low, high = result.ci95
    assert low < result.speedup < high and low > 1.8 and high < 2.2
    assert result.p_value < 1e-6 and result.n == 10 and result.test == PAIRED_TEST
    assert result.is_win and result.verdict == FASTER
    assert result.to_dict()["n"] == 10 and result.to_dict()["significant"]


def test_a_clear_slowdown_is_slower():
    result = compare(rounds(0.010, 8, seed=3), rounds(0.020, 8, seed=4))
    assert result.is_loss and result.verdict == SLOWER and not result.is_win


def test_pairing_removes_what_both_sides_of_a_round_share():
    """Each round's luck (a busy neighbour) hits both sides: paired, the ratio is clean."""
    luck = np.exp(np.random.default_rng(5).normal(0, 0.15, 12))
    own = np.exp(np.random.default_rng(6).normal(0, 0.003, 12))
    before, after = 0.0105 * luck, 0.0100 * luck * own
    paired = compare(list(before), list(after))
    unpaired = compare(dict(enumerate(before)), {k + 100: v for k, v in enumerate(after)})
    assert paired.test == PAIRED_TEST and unpaired.test == UNPAIRED_TEST
    assert paired.half_width < 0.01 < unpaired.half_width
    assert paired.verdict == NO_DIFFERENCE and paired.significant  # real, but under 5%
    assert unpaired.verdict == INCONCLUSIVE


def test_significant_but_below_threshold_is_no_difference_not_a_win():
    before, after = rounds(0.0101, 30, 5, 0.002), rounds(0.0100, 30, 6, 0.002)
    result = compare(before, after, threshold=0.05)
    assert result.significant and result.precise
    assert not result.is_win and result.verdict == NO_DIFFERENCE


def test_a_wide_ci_is_inconclusive_even_when_significant():
    """With few noisy rounds, significance alone would call ~alpha of A/A runs faster."""
    before = np.exp(0.07 + 0.08 * np.array([1, -1] * 5))  # 7% faster, noisy rounds
    result = compare(list(before), [1.0] * 10)
    assert 1.0 < result.ci95[0] < 1.02 and result.significant and result.speedup > 1.05
    assert result.verdict == INCONCLUSIVE and not result.decisive


def test_too_few_replicates_give_no_ci_and_bad_input_is_refused():
    result = compare([0.01], [0.02])
    assert result.ci95 == (0.0, float("inf")) and result.verdict == INCONCLUSIVE
    with pytest.raises(ValueError, match="positive durations"):
        compare([0.01, -1.0], [0.01, 0.01])
    with pytest.raises(ValueError, match="alpha"):
        compare([1.0, 1.0], [1.0, 1.0], alpha=2)


def test_decisive_means_precise_or_clear_of_the_band():
    inside = compare(rounds(0.01, 40, 7, 0.01), rounds(0.01, 40, 8, 0.01))
    assert inside.inside_band and inside.decisive and inside.verdict == NO_DIFFERENCE
    beyond = compare(rounds(0.02, 6, 9, 0.05), rounds(0.01, 6, 10, 0.05))
    assert beyond.beyond_band and beyond.decisive
