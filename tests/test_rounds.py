"""The decision rule on the simulated executor, where the truth is known: randomized paired
rounds, the adaptive budget, and the verdict rates over many simulated comparisons."""

import collections

import pytest

from tfopt.executors.simulated import NoiseModel, SimulatedExecutor, simulated_comparison
from tfopt.measure import abba
from tfopt.rounds import Budget, round_order, waiting_for
from tfopt.stats import FASTER, INCONCLUSIVE, NO_DIFFERENCE, SLOWER

DEFAULT = Budget()  # the decision loop's defaults
RUNS = 1000


def verdicts(true_speedup: float, budget: Budget, shared: bool, runs: int = RUNS, **options):
    counts, covered = collections.Counter(), 0
    for seed in range(runs):
        result, _ = simulated_comparison(true_speedup, budget, shared=shared, seed=seed,
                                         **options)  # fmt: skip
        counts[result.verdict] += 1
        covered += result.ci95[0] <= true_speedup <= result.ci95[1]
    return counts, covered / runs


def test_shared_process_rounds_at_default_settings_meet_the_targets():
    """Both sides in one process per round (ABBA): the per-process offset cancels."""
    same, same_coverage = verdicts(1.0, DEFAULT, shared=True)
    assert same[FASTER] + same[SLOWER] <= 0.05 * RUNS
    assert same_coverage >= 0.93
    faster, faster_coverage = verdicts(1.10, DEFAULT, shared=True)
    assert faster[FASTER] >= 0.90 * RUNS
    assert faster_coverage >= 0.93


@pytest.mark.slow
def test_one_process_per_side_rounds_are_never_wrong_more_than_5_percent():
    """One process per side: a 12% per-process offset does not cancel, so rounds are noisy; the
    rule then says "inconclusive" far more often, but wrong verdicts stay rare."""
    same, _ = verdicts(1.0, DEFAULT, shared=False)
    assert same[FASTER] + same[SLOWER] <= 0.05 * RUNS
    faster, coverage = verdicts(1.10, DEFAULT, shared=False)
    assert faster[FASTER] >= 0.90 * RUNS and faster[SLOWER] == 0
    assert coverage >= 0.93


@pytest.mark.slow
def test_tandem_rounds_keep_the_error_rates_of_one_process_per_side():
    """Each side still in a process of its own (its 12% offset stays), but taking turns on one
    timeline: the rule's guarantees hold as for one process per side."""
    same, same_coverage = verdicts(1.0, DEFAULT, shared=False, tandem=True)
    assert same[FASTER] + same[SLOWER] <= 0.05 * RUNS
    faster, coverage = verdicts(1.10, DEFAULT, shared=False, tandem=True)
    assert faster[FASTER] >= 0.90 * RUNS and faster[SLOWER] == 0
    assert min(same_coverage, coverage) >= 0.92


def test_tandem_rounds_cancel_noise_that_varies_in_time():
    """Where the machine's noise is bursts and drift rather than per-process offsets, a tandem
    round sees it on both sides: every A/A says "no difference" where one-after-the-other rounds
    leave many inconclusive, with narrower CIs that still cover the truth."""
    in_time = NoiseModel(process_cv=0.02, burst_rate=0.02, drift=0.15, drift_period=60.0)
    runs = 200

    def widths(tandem: bool) -> tuple[collections.Counter, float, float]:
        counts, covered, width = collections.Counter(), 0, []
        for seed in range(runs):
            result, _ = simulated_comparison(1.0, DEFAULT, tandem=tandem, noise=in_time,
                                             seed=seed)  # fmt: skip
            counts[result.verdict] += 1
            covered += result.ci95[0] <= 1.0 <= result.ci95[1]
            width.append(result.half_width)
        return counts, covered / runs, sorted(width)[runs // 2]

    tandem, tandem_coverage, tandem_width = widths(True)
    apart, _, apart_width = widths(False)
    assert tandem[NO_DIFFERENCE] >= 0.95 * runs > apart[NO_DIFFERENCE]
    assert tandem_width < 0.75 * apart_width
    assert tandem_coverage >= 0.93


def test_stopping_on_significance_would_inflate_false_wins_and_the_loop_does_not():
    """The same A/A rounds, looked at after every round: stopping at the first p < 0.05 finds a
    "difference" far more often than the loop's verdict does."""
    significant_somewhere = wrong = 0
    runs = 300
    for seed in range(runs):
        result, rounds = simulated_comparison(1.0, DEFAULT, seed=seed)
        wrong += result.verdict in (FASTER, SLOWER)
        values = rounds.values
        for k in range(3, len(rounds.orders) + 1):
            early = _compare_first(values, k)
            if early.significant:
                significant_somewhere += 1
                break
    assert wrong <= 0.05 * runs and significant_somewhere >= 0.15 * runs


def _compare_first(values: dict, k: int):
    from tfopt.stats import compare

    return compare({r: values["a"][r] for r in range(k)}, {r: values["b"][r] for r in range(k)})


def test_the_loop_stops_when_decided_and_says_inconclusive_when_the_budget_ends():
    clear, rounds = simulated_comparison(1.5, Budget(4, 30), shared=True)
    assert clear.verdict == FASTER and len(rounds.orders) == 4
    assert rounds.stopped == "decisive after 4 rounds"
    noisy = NoiseModel(process_cv=0.3)
    open_, rounds = simulated_comparison(1.03, Budget(3, 4), noise=noisy, seed=2)
    assert open_.verdict == INCONCLUSIVE and rounds.stopped == "round budget (4) spent"
    timed, rounds = simulated_comparison(1.03, Budget(3, 40, seconds=60), noise=noisy)
    assert rounds.stopped.startswith("time budget (60 s) spent after")


def test_round_orders_are_random_seeded_and_alternation_is_abba():
    orders = [tuple(round_order(["a", "b"], k, seed=0)) for k in range(40)]
    assert set(orders) == {("a", "b"), ("b", "a")}
    assert orders == [tuple(round_order(["a", "b"], k, seed=0)) for k in range(40)]
    assert orders != [tuple(round_order(["a", "b"], k, seed=1)) for k in range(40)]
    assert abba(2, 4) == [0, 1, 1, 0, 0, 1, 1, 0]
    assert abba(1, 3) == [0, 0, 0]


def test_progress_says_what_the_loop_waits_for():
    result, _ = simulated_comparison(1.03, Budget(3, 3), noise=NoiseModel(process_cv=0.3))
    text = waiting_for(7, ("a", "b"), result, 0.05)
    assert text.startswith("round 7: b vs a ") and "95% CI" in text and "want +/-2.5%" in text


def test_the_simulated_executor_is_deterministic_and_knows_the_truth(tmp_path):
    from tfopt.jobs import Job
    from tfopt.matrix import Permutation, resolve

    config = {**resolve({"workload": "g2p", "repeats": 200}), "tag": "t"}
    job = Job(Permutation(config), 0, "a", tmp_path / "runs" / "a")
    quiet = NoiseModel(process_cv=0, sweep_cv=0.01, burst_rate=0, drift=0)
    first = SimulatedExecutor(lambda _: 0.02, quiet).execute(job)
    again = SimulatedExecutor(lambda _: 0.02, quiet).execute(job)
    assert first.payload == again.payload and first.ok
    assert sorted(first.sweeps())[100] == pytest.approx(0.02, rel=0.01)
    assert set(first.payload["latencies"]) == {str(s) for s in config["sizes"]}


def test_no_difference_is_said_for_equal_configurations():
    counts, _ = verdicts(1.0, DEFAULT, shared=True, runs=50)
    assert counts[NO_DIFFERENCE] == 50
