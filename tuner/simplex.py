"""The Nelder-Mead simplex as a generator: it yields points and is sent their values.

Step for step the algorithm of ``scipy.optimize.minimize(method="Nelder-Mead")`` (standard
coefficients, optional bounds by clipping), so the continuous mode can be checked against it.
Written as a generator so the tuner can evaluate each point in a child process (ask/tell) and
so the integer mode can wrap it with rounding, caching and its own convergence test.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

Point = list[float]
Converged = Callable[[list[Point], list[float]], bool]

RHO, CHI, PSI, SIGMA = 1.0, 2.0, 0.5, 0.5  # reflection, expansion, contraction, shrink
_NONZDELT, _ZDELT = 0.05, 0.00025  # scipy's default initial simplex


@dataclass
class SimplexResult:
    x: Point
    fun: float
    nfev: int
    nit: int


def scipy_converged(xatol: float = 1e-4, fatol: float = 1e-4) -> Converged:
    """scipy's test: every vertex within ``xatol`` of the best, every value within ``fatol``."""

    def converged(sim: list[Point], fsim: list[float]) -> bool:
        xspread = max(abs(v - b) for vertex in sim[1:] for v, b in zip(vertex, sim[0], strict=True))
        fspread = max(abs(fsim[0] - f) for f in fsim[1:])
        return xspread <= xatol and fspread <= fatol

    return converged


def default_simplex(x0: Sequence[float]) -> list[Point]:
    sim = [list(x0)]
    for k in range(len(x0)):
        vertex = list(x0)
        vertex[k] = (1 + _NONZDELT) * vertex[k] if vertex[k] != 0 else _ZDELT
        sim.append(vertex)
    return sim


def simplex_search(
    x0: Sequence[float],
    initial_simplex: list[Point] | None = None,
    bounds: Sequence[tuple[float, float]] | None = None,
    converged: Converged | None = None,
    maxiter: int | None = None,
    maxfun: int | None = None,
) -> Generator[Point, float, SimplexResult]:
    """Minimise by Nelder-Mead: ``point = gen.send(value)``; returns a `SimplexResult`."""
    n = len(x0)
    maxiter = maxiter or 200 * n
    maxfun = maxfun or 200 * n
    converged = converged or scipy_converged()
    clip = _clipper(bounds)
    x0 = clip(list(map(float, x0)))
    sim = [list(map(float, v)) for v in initial_simplex] if initial_simplex else default_simplex(x0)
    sim = [clip(_reflect_above(v, bounds)) for v in sim]
    fsim = []
    for vertex in sim:
        fsim.append((yield vertex))
    nfev, nit = n + 1, 1
    sim, fsim = _sorted(sim, fsim)
    while nfev < maxfun and nit < maxiter and not converged(sim, fsim):
        nfev += yield from _step(sim, fsim, clip)
        nit += 1
        sim, fsim = _sorted(sim, fsim)
    return SimplexResult(x=sim[0], fun=min(fsim), nfev=nfev, nit=nit)


def _step(sim: list[Point], fsim: list[float], clip) -> Generator[Point, float, int]:
    """One Nelder-Mead iteration, replacing the worst vertex or shrinking; returns evaluations."""
    n = len(sim) - 1
    xbar = [sum(column) / n for column in zip(*sim[:-1], strict=True)]
    worst = sim[-1]

    def towards(coef: float) -> Point:  # xbar + coef * (xbar - worst)
        return clip([(1 + coef) * b - coef * w for b, w in zip(xbar, worst, strict=True)])

    xr = towards(RHO)
    fxr = yield xr
    if fxr < fsim[0]:
        xe = towards(RHO * CHI)
        fxe = yield xe
        sim[-1], fsim[-1] = (xe, fxe) if fxe < fxr else (xr, fxr)
        return 2
    if fxr < fsim[-2]:
        sim[-1], fsim[-1] = xr, fxr
        return 1
    if fxr < fsim[-1]:
        xc = towards(PSI * RHO)
        fxc = yield xc
        if fxc <= fxr:
            sim[-1], fsim[-1] = xc, fxc
            return 2
    else:
        xcc = clip([(1 - PSI) * b + PSI * w for b, w in zip(xbar, worst, strict=True)])
        fxcc = yield xcc
        if fxcc < fsim[-1]:
            sim[-1], fsim[-1] = xcc, fxcc
            return 2
    for j in range(1, n + 1):
        sim[j] = clip([b + SIGMA * (v - b) for v, b in zip(sim[j], sim[0], strict=True)])
        fsim[j] = yield sim[j]
    return 2 + n


def _sorted(sim: list[Point], fsim: list[float]) -> tuple[list[Point], list[float]]:
    order = sorted(range(len(fsim)), key=fsim.__getitem__)
    return [sim[i] for i in order], [fsim[i] for i in order]


def _clipper(bounds: Sequence[tuple[float, float]] | None) -> Callable[[Point], Point]:
    if bounds is None:
        return lambda point: point
    return lambda point: [min(hi, max(lo, v)) for v, (lo, hi) in zip(point, bounds, strict=True)]


def _reflect_above(vertex: Point, bounds: Sequence[tuple[float, float]] | None) -> Point:
    """scipy reflects initial vertices beyond an upper bound back inside before clipping."""
    if bounds is None:
        return vertex
    return [2 * hi - v if v > hi else v for v, (_, hi) in zip(vertex, bounds, strict=True)]
