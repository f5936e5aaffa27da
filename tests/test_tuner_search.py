"""Search spaces, the simplex against scipy, and a contract every strategy passes."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize as scipy_minimize
from scipy.optimize import rosen

from tuner import Choice, Int
from tuner.simplex import simplex_search
from tuner.space import Space
from tuner.strategies import STRATEGIES, make_strategy
from tuner.strategies.nelder_mead import NelderMead


def test_knob_definitions_are_validated():
    with pytest.raises(ValueError, match="lo is above hi"):
        Int(5, 1)
    with pytest.raises(TypeError, match="integers"):
        Int(1.5, 4)
    with pytest.raises(ValueError, match="lo >= 1"):
        Int(0, 4, log=True)
    with pytest.raises(ValueError, match="at least one"):
        Choice([])
    with pytest.raises(ValueError, match="distinct"):
        Choice(["a", "a"])
    with pytest.raises(TypeError, match="list of options"):
        Choice("abc")
    with pytest.raises(TypeError, match="tuner.Int or tuner.Choice"):
        Space({"x": range(3)})


def test_space_enumerates_indexes_and_validates():
    space = Space({"a": Int(1, 3), "b": Choice(["x", "y"]), "c": Int(0, 1)})
    grid = list(space.grid())
    assert len(grid) == space.size == 12
    assert [space.at(i) for i in range(12)] == grid
    assert space.key({"c": 0, "a": 1, "b": "x"}) == space.key(grid[0])
    with pytest.raises(ValueError, match="outside"):
        space.validate({"a": 9, "b": "x", "c": 0})
    with pytest.raises(ValueError, match="knobs"):
        space.validate({"a": 1})


def test_log_knobs_round_on_their_own_scale():
    threads = Int(1, 64, log=True)
    assert threads.round(threads.coordinate(24)) == 24
    assert threads.round(10) == 64  # clipped to the bound
    assert threads.round(2.5) == 6  # 2 ** 2.5 = 5.66


def run_simplex(f, x0, **options):
    search = simplex_search(x0, **options)
    point = next(search)
    try:
        while True:
            point = search.send(float(f(np.array(point))))
    except StopIteration as stop:
        return stop.value


def himmelblau(x):
    return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


@pytest.mark.parametrize(
    ("f", "x0", "bounds"),
    [
        (rosen, [-1.2, 1.0], None),
        (rosen, [1.3, 0.7, 0.8, 1.9, 1.2], None),
        (himmelblau, [0.0, 0.0], None),
        (lambda x: float(np.sum((x - 3) ** 2)), [10.0, -4.0, 1.0], None),
        (rosen, [1.5, 0.4], [(0, 2), (0, 0.5)]),
    ],
)
def test_continuous_mode_matches_scipy_nelder_mead(f, x0, bounds):
    ours = run_simplex(f, x0, bounds=bounds)
    theirs = scipy_minimize(f, x0, method="Nelder-Mead", bounds=bounds)
    assert ours.nfev == theirs.nfev
    assert ours.nit == theirs.nit
    np.testing.assert_allclose(ours.x, theirs.x, rtol=1e-12, atol=1e-12)
    assert ours.fun == pytest.approx(theirs.fun, rel=1e-12, abs=1e-15)


SPACE = Space({"inter": Int(1, 6), "mode": Choice(["a", "b", "c"]), "intra": Int(0, 3)})


def bowl(config):
    return (
        (config["inter"] - 4) ** 2
        + (config["intra"] - 1) ** 2
        + {"a": 2, "b": 0, "c": 1}[config["mode"]]
    )


def drive(strategy, objective, limit=10_000):
    asked = []
    while (config := strategy.ask()) is not None and len(asked) < limit:
        asked.append(config)
        strategy.tell(config, objective(config))
    return asked


@pytest.mark.parametrize("name", list(STRATEGIES))
@pytest.mark.parametrize("objective", [bowl, lambda c: math.inf, lambda c: 1.0])
def test_contract_every_strategy_terminates_inside_the_space_without_repeats(name, objective):
    asked = drive(make_strategy(name, SPACE, seed=1), objective)
    assert 0 < len(asked) <= SPACE.size
    keys = [SPACE.key(c) for c in asked]
    assert len(set(keys)) == len(keys)
    for config in asked:
        SPACE.validate(config)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_contract_tell_must_answer_the_last_ask(name):
    strategy = make_strategy(name, SPACE, seed=1)
    config = strategy.ask()
    other = {**config, "inter": config["inter"] % 6 + 1}
    with pytest.raises(ValueError, match="pending"):
        strategy.tell(other, 1.0)


def test_grid_visits_everything_and_random_is_seeded():
    assert len(drive(make_strategy("grid", SPACE), bowl)) == SPACE.size
    first = drive(make_strategy("random", SPACE, seed=3), bowl)
    assert first == drive(make_strategy("random", SPACE, seed=3), bowl)
    assert first != drive(make_strategy("random", SPACE, seed=4), bowl)


def test_nelder_mead_finds_the_minimum_and_the_categorical_option():
    strategy = NelderMead(SPACE, start={"inter": 1, "mode": "a", "intra": 3})
    asked = drive(strategy, bowl)
    best = min(asked, key=bowl)
    assert best == {"inter": 4, "mode": "b", "intra": 1}
    assert len(asked) < SPACE.size


def test_nelder_mead_on_a_large_bowl_spends_few_evaluations():
    space = Space({"inter": Int(1, 64), "intra": Int(1, 64)})
    asked = drive(NelderMead(space, start={"inter": 60, "intra": 2}),
                  lambda c: (c["inter"] - 17) ** 2 + 3 * (c["intra"] - 40) ** 2)  # fmt: skip
    assert min(asked, key=lambda c: (c["inter"] - 17) ** 2 + 3 * (c["intra"] - 40) ** 2) == {
        "inter": 17,
        "intra": 40,
    }
    assert len(asked) <= 0.05 * space.size


def test_nelder_mead_rejects_bad_options():
    with pytest.raises(ValueError, match="outside"):
        NelderMead(SPACE, start={"inter": 99, "mode": "a", "intra": 0})
    with pytest.raises(ValueError, match="step"):
        NelderMead(SPACE, step=2)
    with pytest.raises(ValueError, match="unknown strategy"):
        make_strategy("annealing", SPACE)
