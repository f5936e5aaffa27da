"""The finals rule on a simulated executor with a known truth: the best is chosen among the
leaders re-measured on equal evidence, so a single lucky measurement does not win.

The executor stands in for real trials (whose truth no test can know): each trial's value is the
configuration's true value times a per-process offset (lognormal, CV 12%), a rare 2x burst (3% of
trials, a neighbour waking up) and a slow drift (+-10% over tens of trials). Seeded: the same
numbers on every run.
"""

import math
import random

from tuner.outcome import TrialOutcome, TrialStatus
from tuner.runner import Study
from tuner.space import Int, Space
from tuner.strategies import make_strategy

SPACE = Space({"x": Int(0, 11)})
TRUE = {x: 1.25 for x in range(12)} | {4: 1.03, 5: 1.0, 6: 1.03}  # x=5 best, 4 and 6 tied
TIED = 1.05  # within 5% of the best: what three rounds at this noise cannot tell apart
SEEDS = range(300)


def simulated(seed: int, cv: float = 0.12, burst: float = 0.03, drift: float = 0.10):
    rng = random.Random(seed)
    clock = [0]

    def execute(config: dict) -> TrialOutcome:
        clock[0] += 1
        offset = math.exp(rng.gauss(0, cv))
        spike = 2.0 if rng.random() < burst else 1.0
        slow = 1 + drift * math.sin(clock[0] / 15 + seed)
        value = TRUE[config["x"]] * offset * spike * slow
        return TrialOutcome(TrialStatus.COMPLETE, value=value)

    return execute


def searched(seed: int):
    """Every configuration measured once (grid), then the finals."""
    return Study(SPACE, make_strategy("grid", SPACE, seed=seed), simulated(seed)).run()


def test_the_chosen_best_is_the_true_best_or_tied_with_it_in_most_seeds():
    results = [searched(seed) for seed in SEEDS]
    right = sum(TRUE[r.best_config["x"]] <= TIED for r in results) / len(results)
    # what the finals replace: the lowest single measurement, which noise crowns too often
    lucky = [min(r.evaluations, key=lambda e: e.values[0]).config for r in results]
    right_by_one_measurement = sum(TRUE[c["x"]] <= TIED for c in lucky) / len(results)
    assert right_by_one_measurement <= 0.9  # the scenario does hold the winner's curse
    assert right >= 0.95  # measured: 0.97 over these 300 seeds (single measurement: 0.88)


def test_the_best_is_always_a_finalist_with_the_same_evidence_as_the_others():
    for seed in range(50):
        result = searched(seed)
        counts = {len(e.final) for e in result.finalists}
        assert counts == {3}
        assert result.best_config == result.finalists[0].config
        assert result.best_value == min(e.final_value for e in result.finalists)


def test_non_finite_objective_values_are_failed_trials_that_name_the_value():
    """-inf would beat every real measurement (and NaN compares with nothing), so neither is a
    measurement: the trial fails, says why, and the search ranks only finite values."""
    space = Space({"x": Int(0, 3)})
    values = {0: -math.inf, 1: 2.0, 2: math.nan, 3: math.inf}

    def execute(config: dict) -> TrialOutcome:
        return TrialOutcome(TrialStatus.COMPLETE, value=values[config["x"]])

    result = Study(space, make_strategy("grid", space), execute).run()
    by_x = {t.config["x"]: t for t in result.trials if t.repeat == 0}
    for x in (0, 2, 3):
        assert by_x[x].status is TrialStatus.FAIL
        assert by_x[x].value == math.inf
        assert "not a finite number" in by_x[x].reason
    assert "-inf" in by_x[0].reason and "NaN" in by_x[2].reason
    assert result.best_config == {"x": 1} and result.best_value == 2.0
