"""The experiment matrix: list-valued keys expand to every permutation (as in the furcate
experiment runner).

Fixed against the original: the merge with defaults is deep (a partial ``knobs`` table keeps the
other defaults), lists nested in tables expand too, ``exclude`` entries match on all their pairs
(dotted keys such as ``"knobs.inter"`` reach into tables), and each permutation has a stable id so
a rerun really skips what finished.

The config's keys and types live in `tfopt.matrix_keys`, its checks in `tfopt.matrix_checks`,
reading it in `tfopt.matrix_load` and live edits in `tfopt.reload`; the names the rest of the lab
uses are importable from here.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from .matrix_checks import validate
from .matrix_keys import (
    DEFAULTS,
    NON_RUN_KEYS,
    UNSET_OUT_OF_ID,
    Config,
    ConfigError,
    Matrix,
    axes,
    deep_merge,
    flatten,
)
from .matrix_load import journey_configs, load, resolve
from .reload import LiveConfig

__all__ = [
    "DEFAULTS", "Config", "ConfigError", "LiveConfig", "Matrix", "Permutation", "deep_merge",
    "expand", "flatten", "journey_configs", "load", "resolve", "validate", "varying_keys",
    "with_updates",
]  # fmt: skip


@dataclass(frozen=True, init=False)
class Permutation:
    """One point of the matrix: scalar values only, with a stable id."""

    config: Config

    def __init__(self, config: Mapping[str, Any]) -> None:
        """``config``: a validated config whose axes hold one value each (`expand`'s, or one
        built from `resolve`'s table)."""
        object.__setattr__(self, "config", cast(Config, config))

    @property
    def run_params(self) -> dict[str, Any]:
        return {k: v for k, v in self.config.items()
                if k not in NON_RUN_KEYS and not (k in UNSET_OUT_OF_ID and v is None)}  # fmt: skip

    @functools.cached_property  # asked for every pending job after every run: hash it once
    def run_id(self) -> str:
        canonical = json.dumps(self.run_params, sort_keys=True, default=str)
        return hashlib.sha1(canonical.encode()).hexdigest()[:12]

    def folder_name(self, varying: list[str]) -> str:
        flat = flatten(self.config)
        parts = [_short(key) + _slug(flat[key]) for key in varying if key in flat]
        return "_".join([_slug(self.config["name"]), *parts, self.run_id[:6]])


def expand(config: Matrix) -> list[Permutation]:
    """Every permutation of the list-valued keys, minus the excluded ones, in a stable order."""
    found = list(axes(config))
    keys = [key for key, _ in found]
    perms = []
    for combo in itertools.product(*(values for _, values in found)):
        flat = dict(zip(keys, combo, strict=True))
        if not any(_matches(flat, rule) for rule in config["exclude"]):
            perms.append(Permutation(with_updates(config, flat)))
    return perms


def varying_keys(config: Matrix) -> list[str]:
    return [key for key, values in axes(config) if len(values) > 1]


def with_updates(config: Mapping[str, Any], flat: Mapping[str, Any]) -> Matrix:
    """A copy of ``config`` with dotted keys (``"knobs.inter"``) set to new values."""
    result = copy.deepcopy(dict(config))
    for dotted, value in flat.items():
        *parents, leaf = dotted.split(".")
        node = result
        for part in parents:
            node = node[part]
        node[leaf] = value
    return result


def _matches(flat: dict[str, Any], rule: dict[str, Any]) -> bool:
    return all(flat.get(key) == value for key, value in flatten(rule).items())


def _short(key: str) -> str:
    leaf = key.split(".")[-1]
    return {"batch_size": "bs", "variant": "", "memory": "mem"}.get(leaf, leaf)


def _slug(value: Any) -> str:
    text = str(value).replace("/", "-").replace(" ", "")
    return "".join(ch for ch in text if ch.isalnum() or ch in "-.") or "none"
