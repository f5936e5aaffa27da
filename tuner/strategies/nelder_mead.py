"""Nelder-Mead over integer knobs, with categorical knobs handled apart. Always terminates.

Integer knobs are continuous coordinates for the simplex (`tuner.simplex`); a vertex is measured
at its rounded, clipped configuration, and a configuration already measured is never measured
again (its value is reused). The simplex phase ends when its vertices round to neighbouring
integers, when it stops producing unmeasured configurations, or after a bounded number of
iterations; then a compass polish (+-1 along each knob from the best) makes the result a true
discrete local minimum.

Categorical knobs have no order, so they are never coordinates: after each integer phase every
other option of each categorical knob is tried at the best integers (coordinate descent), and the
integer phase restarts from there under the improving option. Each round must strictly improve
the best value, and the space is finite, so the search ends.

When the search from the start point is over, the corners of the integer box are measured and
searched from in turn (best first), while the budget lasts: on measured thread landscapes the
optimum often sits on an edge that a search from the centre settles short of.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Generator
from typing import cast

from tuner.simplex import simplex_search
from tuner.space import Choice, Int, Space
from tuner.strategies.base import GeneratorStrategy, Search

Measure = Generator[dict, float, float]
# A phase of the search: what it yields and is told, then the best configuration and value.
Phase = Generator[dict, float, tuple[dict, float]]
MAX_SCOUTED_KNOBS = 4  # 2**4 = 16 corners; beyond that scouting would cost more than it finds


class NelderMead(GeneratorStrategy):
    name = "nelder-mead"

    def __init__(
        self, space: Space, seed=None, start=None, step: float = 0.5, scout: bool = True
    ) -> None:
        """``step``: the initial simplex's edge along each knob, as a fraction of its range.
        ``scout``: once the search from the start point has converged, measure the corners of
        the integer box (up to four moving knobs) and search again from each, best first, while
        the budget lasts: one local basin should not hide the rest of the space, and thread
        landscapes often have their optimum on an edge."""
        if not 0 < step <= 1:
            raise ValueError(f"step is a fraction of each knob's range in (0, 1], got {step!r}")
        self.step, self.scout = step, scout
        self.measured: dict[str, float] = {}
        super().__init__(space, seed, start)

    def search(self) -> Search:
        start = self.start or self._centre()
        yield from self._local_search(start)
        corners = self._corners(start) if self.scout else []
        values = []
        for corner in corners:
            values.append((yield from self._measure(corner)))
        for index in sorted(range(len(corners)), key=values.__getitem__):
            yield from self._local_search(corners[index])

    def _local_search(self, config: dict) -> Search:
        """Integer phase and categorical rounds from ``config`` until neither improves."""
        best = yield from self._measure(config)
        while True:
            config, best = yield from self._integer_phase(config, best)
            candidate, value = yield from self._categorical_round(config)
            if not value < best:
                return
            config, best = candidate, value

    def _corners(self, config: dict) -> list[dict]:
        names = self._moving()
        if not 0 < len(names) <= MAX_SCOUTED_KNOBS:
            return []
        ends = [(p.lo, p.hi) for p in self._ints(names)]
        return [{**config, **dict(zip(names, c, strict=True))} for c in itertools.product(*ends)]

    def _centre(self) -> dict:
        return {
            name: p.round((p.coordinate(p.lo) + p.coordinate(p.hi)) / 2)
            if isinstance(p, Int)
            else p.options[0]
            for name, p in self.space.params.items()
        }

    def _measure(self, config: dict) -> Measure:
        key = self.space.key(config)
        if key not in self.measured:
            self.measured[key] = yield config
        return self.measured[key]

    def _ints(self, names: list[str]) -> list[Int]:
        """The integer knobs ``names`` (each one of `Space.ints`)."""
        return [cast(Int, self.space.params[n]) for n in names]

    def _moving(self) -> list[str]:
        """The integer knobs that can move (a one-value Int is a constant)."""
        return [n for n in self.space.ints if self.space.params[n].size > 1]

    def _integer_phase(self, config: dict, best: float) -> Phase:
        """Simplex then polish, restarted from the best with a fresh simplex while that helps
        (a collapsed simplex is Nelder-Mead's known failure mode)."""
        names = self._moving()
        improved = bool(names)
        while improved:
            found, value = yield from self._simplex(config, best, names)
            found, value = yield from self._polish(found, value, names)
            improved = value < best
            config, best = (found, value) if improved else (config, best)
        return config, best

    def _simplex(self, config: dict, best: float, names: list[str]) -> Phase:
        params = self._ints(names)
        x0 = [p.coordinate(config[n]) for n, p in zip(names, params, strict=True)]
        search = simplex_search(
            x0,
            initial_simplex=self._initial_simplex(config, names, params),
            bounds=[(p.coordinate(p.lo), p.coordinate(p.hi)) for p in params],
            converged=self._converged_test(params),
            maxiter=50 * (len(names) + 1),
            maxfun=10**9,  # termination is the convergence test's and maxiter's job
        )
        try:
            point = next(search)
            while True:
                trial = {
                    **config,
                    **{n: p.round(v) for n, p, v in zip(names, params, point, strict=True)},
                }
                value = yield from self._measure(trial)
                if value < best:
                    best, config = value, trial
                point = search.send(value)
        except StopIteration:
            return config, best

    def _initial_simplex(self, config: dict, names: list[str], params: list[Int]) -> list:
        """One vertex per knob, ``step`` of its range away (at least one integer step)."""
        x0 = [p.coordinate(config[n]) for n, p in zip(names, params, strict=True)]
        sim = [x0]
        for k, (name, p) in enumerate(zip(names, params, strict=True)):
            lo, hi = p.coordinate(p.lo), p.coordinate(p.hi)
            value = config[name]
            one_step = p.coordinate(min(value + 1, p.hi)) - p.coordinate(value)
            edge = max(self.step * (hi - lo), one_step)
            vertex = list(x0)
            vertex[k] = x0[k] + edge if x0[k] + edge <= hi else max(lo, x0[k] - edge)
            sim.append(vertex)
        return sim

    def _converged_test(self, params: list[Int]):
        """Converged when the vertices sit within one step, or after iterations that measured
        nothing new (the simplex is cycling among configurations already known)."""
        patience = 3 * (len(params) + 1)
        state = {"measured": -1, "idle": 0}

        def converged(sim: list[list[float]], fsim: list[float]) -> bool:
            rounded = [[p.round(v) for p, v in zip(params, vertex, strict=True)] for vertex in sim]
            spread = max(
                abs(v - b)
                for vertex in rounded[1:]
                for v, b in zip(vertex, rounded[0], strict=True)
            )
            fresh = len(self.measured) != state["measured"]
            state["idle"] = 0 if fresh else state["idle"] + 1
            state["measured"] = len(self.measured)
            return spread <= 1 or state["idle"] >= patience or math.isinf(fsim[0])

        return converged

    def _polish(self, config: dict, best: float, names: list[str]) -> Phase:
        """Compass search with step 1 until no neighbour is better: a discrete local minimum."""
        improved = True
        while improved:
            improved = False
            for neighbour in self._neighbours(config, names):
                value = yield from self._measure(neighbour)
                if value < best:
                    best, config, improved = value, neighbour, True
                    break
        return config, best

    def _neighbours(self, config: dict, names: list[str]) -> list[dict]:
        out = []
        for name, p in zip(names, self._ints(names), strict=True):
            for delta in (-1, 1):
                if p.lo <= config[name] + delta <= p.hi:
                    out.append({**config, name: config[name] + delta})
        return out

    def _categorical_round(self, config: dict) -> Phase:
        """Try every other option of each categorical knob at ``config``; the best of them."""
        best_config, best = config, math.inf
        for name in self.space.choices:
            for option in cast(Choice, self.space.params[name]).options:
                if option == config[name]:
                    continue
                candidate = {**config, name: option}
                value = yield from self._measure(candidate)
                if value < best:
                    best_config, best = candidate, value
        return best_config, best
