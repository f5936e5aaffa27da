"""tfopt.stats: summaries, the speedup CI, the win rule, the A/A check and instability flags."""

import numpy as np
import pytest

from tfopt.stats import NO_DIFFERENCE, Sample, bootstrap_speedup_ci, compare, p_value


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


def test_a_clear_speedup_is_a_win_with_a_ci_around_it():
    before, after = lognormal(0.020, 40, seed=1), lognormal(0.010, 40, seed=2)
    result = compare(before, after)
    assert result.speedup == pytest.approx(2.0, rel=0.05)
    low, high = result.ci95
    assert low < result.speedup < high and low > 1.8 and high < 2.2
    assert result.p_value < 1e-6
    assert result.is_win and result.verdict == "faster"


def test_a_clear_slowdown_is_a_loss():
    result = compare(lognormal(0.010, 30, seed=3), lognormal(0.020, 30, seed=4))
    assert result.is_loss and result.verdict == "slower" and not result.is_win


def test_a_over_a_comes_out_no_significant_difference():
    """The same distribution measured twice must not be called faster or slower."""
    verdicts = [
        compare(lognormal(0.015, 30, seed=s), lognormal(0.015, 30, seed=100 + s)).verdict
        for s in range(20)
    ]
    assert verdicts.count(NO_DIFFERENCE) == 20


def test_significant_but_below_threshold_is_not_a_win():
    """Tiny but real differences (1%) are detected yet do not count, as in pyperf and asv."""
    before, after = lognormal(0.0101, 400, 5, 0.002), lognormal(0.0100, 400, 6, 0.002)
    result = compare(before, after, threshold=0.05)
    assert result.significant
    assert not result.is_win and result.verdict == NO_DIFFERENCE


def test_welch_and_mann_whitney_agree_on_a_clear_case_and_bad_test_is_refused():
    a, b = lognormal(0.02, 20, 7), lognormal(0.01, 20, 8)
    assert p_value(a, b, "welch") < 0.001 and p_value(a, b, "mann-whitney") < 0.001
    with pytest.raises(ValueError, match="test must be one of"):
        p_value(a, b, "t-test")
    with pytest.raises(ValueError, match="alpha"):
        compare(a, b, alpha=2)


def test_bootstrap_ci_is_reproducible_with_a_seed():
    a, b = lognormal(0.02, 15, 9), lognormal(0.018, 15, 10)
    assert bootstrap_speedup_ci(a, b, seed=3) == bootstrap_speedup_ci(a, b, seed=3)


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


def worker_shifted(offsets: list[float], seed: int) -> Sample:
    """Three worker processes, each with its own luck (a multiplicative offset), 30 sweeps each."""
    rng = np.random.default_rng(seed)
    values = [0.01 * off * np.exp(rng.normal(0, 0.01)) for off in offsets for _ in range(30)]
    return Sample(values, [w for w, _ in enumerate(offsets) for _ in range(30)])


def test_worker_level_noise_widens_the_ci_and_is_not_called_a_difference():
    """A/A where whole worker processes were luckier than others (a busy neighbour): pooled
    values look different, but resampling workers first keeps the verdict honest."""
    before = worker_shifted([1.0, 1.12, 0.95], seed=21)
    after = worker_shifted([1.10, 1.15, 1.06], seed=22)
    grouped = compare(before, after)
    flat = compare(Sample(before.values), Sample(after.values))
    assert grouped.ci95[1] - grouped.ci95[0] > 2 * (flat.ci95[1] - flat.ci95[0])
    assert flat.verdict == "slower"  # what ignoring the workers would claim
    assert grouped.verdict == NO_DIFFERENCE
