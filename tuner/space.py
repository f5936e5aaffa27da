"""Search spaces: integer knobs (`Int`) and categorical knobs (`Choice`) by name.

A configuration is a plain dict ``{name: value}``. Nelder-Mead moves through the integer knobs as
continuous coordinates and rounds; categorical knobs are never given an order (see
`tuner.strategies.nelder_mead`).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Int:
    """An integer knob in ``[lo, hi]``, both included, e.g. ``Int(1, 16)`` intra-op threads.

    ``log=True`` says the knob acts by ratios (thread counts: 1 -> 2 matters as much as 16 -> 32),
    so Nelder-Mead moves along ``log2`` of it; it needs ``lo >= 1``.
    """

    lo: int
    hi: int
    log: bool = False

    def __post_init__(self) -> None:
        for bound in (self.lo, self.hi):
            if isinstance(bound, bool) or not isinstance(bound, int):
                raise TypeError(f"Int bounds must be integers, got Int({self.lo!r}, {self.hi!r})")
        if self.lo > self.hi:
            raise ValueError(f"Int({self.lo}, {self.hi}): lo is above hi")
        if self.log and self.lo < 1:
            raise ValueError(f"Int({self.lo}, {self.hi}, log=True) needs lo >= 1")

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    def coordinate(self, value: float) -> float:
        """Where ``value`` sits on the axis Nelder-Mead moves along."""
        return math.log2(value) if self.log else float(value)

    def round(self, x: float) -> int:
        """The nearest allowed integer to a coordinate."""
        value = 2**x if self.log else x
        return min(self.hi, max(self.lo, math.floor(value + 0.5)))

    def contains(self, value: Any) -> bool:
        return (
            isinstance(value, int) and not isinstance(value, bool) and self.lo <= value <= self.hi
        )

    def values(self) -> range:
        return range(self.lo, self.hi + 1)


@dataclass(frozen=True)
class Choice:
    """A categorical knob: one of ``options`` (JSON values), in no meaningful order."""

    options: tuple

    def __init__(self, options: Sequence[Any]) -> None:
        if isinstance(options, (str, bytes)) or not isinstance(options, Sequence):
            raise TypeError(f"Choice takes a list of options, got {options!r}")
        if not options:
            raise ValueError("Choice needs at least one option")
        keys = [_key(option) for option in options]
        if len(set(keys)) != len(keys):
            raise ValueError(f"Choice options must be distinct, got {list(options)!r}")
        object.__setattr__(self, "options", tuple(options))

    @property
    def size(self) -> int:
        return len(self.options)

    def contains(self, value: Any) -> bool:
        return any(_key(value) == _key(option) for option in self.options)

    def values(self) -> tuple:
        return self.options


Param = Int | Choice


class Space:
    """Named knobs; iterates, indexes, validates and keys configurations."""

    params: dict[str, Param]

    def __init__(self, params: Mapping[str, Param] | Space) -> None:
        if isinstance(params, Space):
            params = params.params
        if not isinstance(params, Mapping) or not params:
            raise TypeError(
                f"space must be a non-empty dict of tuner.Int/tuner.Choice, got {params!r}"
            )
        for name, param in params.items():
            if not isinstance(name, str):
                raise TypeError(f"knob names must be strings, got {name!r}")
            if not isinstance(param, (Int, Choice)):
                raise TypeError(f"knob {name!r} must be tuner.Int or tuner.Choice, got {param!r}")
        self.params = dict(params)

    @property
    def ints(self) -> list[str]:
        return [n for n, p in self.params.items() if isinstance(p, Int)]

    @property
    def choices(self) -> list[str]:
        return [n for n, p in self.params.items() if isinstance(p, Choice)]

    @property
    def size(self) -> int:
        return math.prod(p.size for p in self.params.values())

    def grid(self) -> Iterator[dict]:
        names = list(self.params)
        for values in itertools.product(*(p.values() for p in self.params.values())):
            yield dict(zip(names, values, strict=True))

    def at(self, index: int) -> dict:
        """The ``index``-th configuration of `grid` (mixed radix), without enumerating."""
        config = {}
        for name, param in reversed(self.params.items()):
            index, digit = divmod(index, param.size)
            config[name] = param.values()[digit]
        return {name: config[name] for name in self.params}

    def validate(self, config: Mapping[str, Any]) -> dict:
        if not isinstance(config, Mapping):
            raise TypeError(f"a configuration is a dict of knob values, got {config!r}")
        if set(config) != set(self.params):
            raise ValueError(
                f"configuration knobs {sorted(config)} are not the space's {sorted(self.params)}"
            )
        for name, param in self.params.items():
            if not param.contains(config[name]):
                raise ValueError(f"{name}={config[name]!r} is outside {param}")
        return {name: config[name] for name in self.params}

    def key(self, config: Mapping[str, Any]) -> str:
        """A canonical string for a configuration: the identity used for caching and resuming."""
        return _key({name: config[name] for name in self.params})

    def as_dict(self) -> dict:
        return {name: _describe(p) for name, p in self.params.items()}


def _describe(param: Param) -> dict:
    if isinstance(param, Choice):
        return {"choice": list(param.options)}
    return {"int": [param.lo, param.hi], **({"log": True} if param.log else {})}


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
