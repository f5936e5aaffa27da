"""The config's keys: their defaults, which of them expand, the typed form of one permutation,
and the table helpers (deep merge, dotted flattening) the loader, the checks and the expansion
share."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:  # Python 3.11's; the annotations below are never evaluated
    from typing import NotRequired

DEFAULT_SIZES = [1, 2, 6, 7, 10, 15, 20]  # words per text, as in the original experiment


class Knobs(TypedDict):
    inter: int
    intra: int
    omp: int | None
    onednn: bool | None


class MemTrace(TypedDict):
    enabled: bool
    interval: float
    top: int


class Config(TypedDict):
    """One permutation of a validated config: every key holds a single value (the matrix's own
    keys, ``exclude``, ``variants`` and ``journey``, ride along as data). Kept a dict: it is the
    file's table, what the run id hashes and what a child is sent."""

    name: str
    workload: str
    inputs: str | None
    signature: str
    input: list[str]
    hint: str | None
    sizes: list[int]
    workers: int
    warmup: int
    repeats: int | None
    duration: float | None
    timeout: float
    seed: int
    tag: str
    parallel: bool
    zygote: bool
    tandem: bool | str
    cpus: float | None
    memory: int | str | None
    variant: str
    node: str | None
    mode: str | None
    batch_size: int | None
    bucket: bool | None
    knobs: Knobs
    env: dict[str, str | int | float]
    exclude: list[dict[str, Any]]
    variants: dict[str, dict[str, Any]]
    journey: list[dict[str, Any]]
    mem_trace: MemTrace
    alpha: float
    threshold: float
    # configurations measured in one process, ABBA (`tfopt.interleave`); never in a file
    sides: NotRequired[list[dict[str, Any]] | None]


#: A validated config table before expansion: any key of `AXIS_KEYS` may still hold a list.
Matrix = dict[str, Any]

DEFAULTS: Matrix = {
    "name": "lab",
    "workload": "g2p",
    "inputs": None,
    "signature": "serving_default",
    "input": [],
    "hint": None,
    "sizes": DEFAULT_SIZES,
    "workers": 3,
    "warmup": 2,
    "repeats": 10,
    "duration": None,
    "timeout": 600,
    "seed": 0,
    "tag": "",
    "parallel": False,
    "zygote": True,
    "tandem": "auto",  # true, false, or "auto": in tandem unless an OpenMP runtime spins
    "cpus": None,
    "memory": None,
    "variant": "stock",
    "node": None,
    "mode": None,
    "batch_size": None,
    "bucket": None,
    "knobs": {"inter": 0, "intra": 0, "omp": None, "onednn": None},
    "env": {},
    "exclude": [],
    "variants": {},
    "journey": [],
    "mem_trace": {"enabled": True, "interval": 5.0, "top": 5},
    "alpha": 0.05,
    "threshold": 0.05,
}

# The knobs that are environment variables, by the one name a config and a result use for each;
# the variable is named here only (a child sees it before TensorFlow loads).
KNOB_ENV = {"omp": "OMP_NUM_THREADS", "onednn": "TF_ENABLE_ONEDNN_OPTS"}

# Keys whose list values are data, not axes of the matrix.
LITERAL_KEYS = {"sizes", "exclude", "variants", "journey", "mem_trace", "input"}
# The only keys that may take a list of values (tables: every key inside them).
AXIS_KEYS = {"cpus", "memory", "variant", "node", "mode", "batch_size", "bucket", "knobs", "env"}
# Keys that do not change what a run measures, so they stay out of its id.
NON_RUN_KEYS = {"name", "workers", "timeout", "parallel", "zygote", "tandem", "exclude", "variants",
                "journey", "mem_trace", "alpha", "threshold"}  # fmt: skip
# Keys added after results existed: left out of the run id while unset, so old ids still match.
UNSET_OUT_OF_ID = {"node"}
# A journey point's own keys (`tfopt.journey`); the rest of a point are config keys.
JOURNEY_POINT_KEYS = {"name", "reference", "against", "note"}


class ConfigError(ValueError):
    """A config problem, named by its key."""


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> Matrix:
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "variants":
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def flatten(tree: Mapping[str, Any], prefix: str = "",
            literal: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:  # fmt: skip
    """``{"knobs": {"inter": 1}}`` -> ``{"knobs.inter": 1}``; literal keys stay whole."""
    flat = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and dotted not in literal:
            flat.update(flatten(value, f"{dotted}.", literal))
        else:
            flat[dotted] = value
    return flat


def axes(config: Mapping[str, Any]) -> Iterator[tuple[str, list]]:
    """Each dotted key with its values: a list for an axis of the matrix, else one value."""
    for key, value in flatten(config, literal=LITERAL_KEYS).items():
        if isinstance(value, list) and key not in LITERAL_KEYS:
            yield key, value
        else:
            yield key, [value]
