"""Validating a config table: every problem is a `ConfigError` that names its key, what was
expected and what was given."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from g2p import MODES as G2P_MODES
from tuner import Limits

from . import grappler
from .grappler import GRAPPLER_ENV
from .matrix_keys import (
    AXIS_KEYS,
    DEFAULTS,
    JOURNEY_POINT_KEYS,
    LITERAL_KEYS,
    ConfigError,
    Matrix,
    axes,
    flatten,
)
from .variants import NAME_PATTERN, from_config
from .workloads.base import Workload
from .workloads.savedmodel import HINTS

# g2p's modes but TensorFlow Lite, which the lab measures as a runtime (`--variant NAME=tflite`).
MODES = tuple(mode for mode in G2P_MODES if mode != "tflite")
MIN_TF_MEMORY = 512 * 1024**2


def validate(config: Matrix) -> None:
    _check_known(config, DEFAULTS, "")
    for key, value in config.items():
        if isinstance(value, list) and key not in AXIS_KEYS | LITERAL_KEYS:
            _fail(key, "a single value (only these keys expand: " + ", ".join(sorted(AXIS_KEYS))
                  + ")", value)
    for key, values in axes(config):
        if values == []:
            _fail(key, "at least one value (an empty list leaves no permutation to run)", values)
    if not isinstance(config["sizes"], list) or not config["sizes"]:
        _fail("sizes", "a non-empty list of input sizes", config["sizes"])
    for key, check in _CHECKS.items():
        for value in _each(config.get(key)):
            check(key, value)
    for key in ("inter", "intra", "omp"):
        for value in _each(config["knobs"].get(key)):
            _check_count(f"knobs.{key}", value, minimum=0)
    for value in _each(config["knobs"].get("onednn")):
        _check_optional_bool("knobs.onednn", value)
    _check_workload(config)
    _check_mem_trace(config["mem_trace"])
    _check_env(config["env"])
    _check_exclude(config["exclude"])
    _check_variants(config)
    if config["repeats"] is None and config["duration"] is None:
        raise ConfigError("config key 'repeats': set 'repeats' or 'duration'")
    if config["journey"]:
        _check_journey(config["journey"])


def _each(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _check_known(tree: Mapping[str, Any], defaults: Mapping[str, Any], prefix: str) -> None:
    for key, value in tree.items():
        if key not in defaults:
            hint = difflib.get_close_matches(key, list(defaults), n=1)
            extra = f" (did you mean '{prefix}{hint[0]}'?)" if hint else ""
            known = ", ".join(sorted(defaults))
            raise ConfigError(f"unknown config key '{prefix}{key}'{extra}; known keys: {known}")
        nested_defaults = defaults[key]
        if isinstance(nested_defaults, dict) and nested_defaults and key not in ("env",):
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{prefix}{key}' must be a table/object")
            _check_known(value, nested_defaults, f"{prefix}{key}.")


def _fail(key: str, expected: str, value: Any) -> NoReturn:
    raise ConfigError(f"config key '{key}': expected {expected}, got {value!r}")


def _check_count(key: str, value: Any, minimum: int = 1) -> None:
    if value is None and key.startswith("knobs."):
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _fail(key, f"an integer >= {minimum}", value)


def _check_positive_number(key: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _positive(value):
        _fail(key, "a positive finite number" + (" or null" if allow_none else ""), value)


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def _check_string(key: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        _fail(key, "a non-empty string", value)


def _check_optional_string(key: str, value: Any) -> None:
    if value is not None:
        _check_string(key, value)


def _check_optional_bool(key: str, value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        _fail(key, "true, false or null", value)


def _check_sizes(key: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        _fail(key, "a list of input sizes (integers >= 1)", value)


def _check_memory(key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        _fail(key, "a size such as '4G', '512M' or a number of bytes", value)
    memory = _check_limit(key, memory=value).memory_bytes
    if memory is not None and memory < MIN_TF_MEMORY:
        raise ConfigError(
            f"config key '{key}': {value!r} is below the {MIN_TF_MEMORY // 1024**2} MiB a "
            "TensorFlow worker needs to import TensorFlow and build a model"
        )


def _check_limit(key: str, **limit: Any) -> Limits:
    """The tuner's `Limits` refuses what this machine cannot give (more cores than exist...)."""
    try:
        return Limits(**limit)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"config key '{key}': {err}") from None


def _check_mode(key: str, value: Any) -> None:
    if value is not None and value not in MODES:
        _fail(key, f"one of {', '.join(MODES)}", value)


def _check_cpus(key: str, value: Any) -> None:
    _check_positive_number(key, value, allow_none=True)
    _check_limit(key, cpus=value)


def _check_optional_count(key: str, value: Any) -> None:
    if value is not None:
        _check_count(key, value)


def _check_probability(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        _fail(key, "a number between 0 and 1", value)


def _check_bool(key: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(key, "true or false", value)


def _check_tandem(key: str, value: Any) -> None:
    if not isinstance(value, bool) and value != "auto":
        _fail(key, 'true, false or "auto"', value)


def _check_tag(key: str, value: Any) -> None:
    if not isinstance(value, str):
        _fail(key, "a string", value)


def _check_hint(key: str, value: Any) -> None:
    if value is not None and value not in HINTS:
        _fail(key, f"one of {', '.join(HINTS)}", value)


_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "name": _check_string,
    "workload": _check_string,
    "inputs": _check_optional_string,
    "signature": _check_string,
    "sizes": _check_sizes,
    "workers": _check_count,
    "warmup": lambda k, v: _check_count(k, v, minimum=0),
    "repeats": _check_optional_count,
    "duration": lambda k, v: _check_positive_number(k, v, allow_none=True),
    "timeout": _check_positive_number,
    "seed": lambda k, v: _check_count(k, v, minimum=0),
    "tag": _check_tag,
    "parallel": _check_bool,
    "zygote": _check_bool,
    "tandem": _check_tandem,
    "cpus": _check_cpus,
    "memory": _check_memory,
    "variant": _check_string,
    "node": _check_optional_string,
    "mode": _check_mode,
    "batch_size": _check_optional_count,
    "bucket": _check_optional_bool,
    "hint": _check_hint,
    "alpha": _check_probability,
    "threshold": lambda k, v: _check_positive_number(k, v),
}


def _check_workload(config: Matrix) -> None:
    """Resolving a workload spec checks it without importing TensorFlow or the user's module."""
    specs = config["input"]
    if not isinstance(specs, list) or not all(isinstance(text, str) for text in specs):
        _fail("input", "a list of input specs such as 'tokens:-1x64:int32'", config["input"])
    workload = workload_of(config)
    if config["hint"] and not config["workload"].startswith("savedmodel:"):
        raise ConfigError("config key 'hint': latency/throughput hints apply to SavedModel "
                          "workloads, whose input size is a batch size")  # fmt: skip
    try:
        workload.check(config)
    except ValueError as err:
        raise ConfigError(f"config key 'workload': {err}") from None


def workload_of(config: Matrix) -> Workload:
    """The config's workload, its spec resolved (a `ConfigError` names what is wrong)."""
    from .workloads import resolve as resolve_workload

    try:
        return resolve_workload(config["workload"], config["inputs"], config["signature"],
                                config["input"])  # fmt: skip
    except ValueError as err:
        raise ConfigError(f"config key 'workload': {err}") from None


def _check_mem_trace(table: dict) -> None:
    _check_bool("mem_trace.enabled", table["enabled"])
    _check_positive_number("mem_trace.interval", table["interval"])
    _check_count("mem_trace.top", table["top"], minimum=0)


def _check_env(env: Any) -> None:
    if not isinstance(env, dict):
        _fail("env", "a table of environment variables", env)
    for name, value in env.items():
        if not name or "=" in name or "\0" in name:
            _fail(f"env.{name}", "a variable name without '=' or NUL", name)
        for item in _each(value):
            if not isinstance(item, (str, int, float)) or isinstance(item, bool):
                _fail(f"env.{name}", "a string or number", item)
            if "\0" in str(item):
                _fail(f"env.{name}", "a value without NUL characters", item)
            if name == GRAPPLER_ENV:
                try:
                    grappler.parse(str(item))
                except ValueError as err:
                    raise ConfigError(f"config key 'env.{name}': {err}") from None


def _check_exclude(rules: Any) -> None:
    if not isinstance(rules, list):
        _fail("exclude", "a list of tables", rules)
    known = set(flatten(DEFAULTS, literal=LITERAL_KEYS)) | {"env"}
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict) or not rule:
            _fail(f"exclude[{index}]", "a non-empty table of key/value pairs", rule)
        for key in flatten(rule):
            if key not in known and not key.startswith("env."):
                _fail(f"exclude[{index}].{key}", "a key of the matrix", key)


def _check_variants(config: Matrix) -> None:
    variants = config["variants"]
    if not isinstance(variants, dict):
        _fail("variants", "a table of named variants", variants)
    for name, table in variants.items():
        try:
            from_config(name, table)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    for name in _each(config["variant"]):
        if name != "stock" and name not in variants:
            raise ConfigError(
                f"config key 'variant': {name!r} is not defined under 'variants' "
                f"(defined: {', '.join(sorted(variants)) or 'none'})"
            )


def _check_journey(points: Any) -> None:
    """A journey's own errors, named by their key (`tfopt.matrix_load.resolve` then checks each
    point as the config it is)."""
    if not isinstance(points, list):
        raise ConfigError(f"config key 'journey': expected a list of tables, got {points!r}")
    names: list[str] = []
    for index, point in enumerate(points):
        where = f"journey[{index}]"
        if not isinstance(point, dict) or not NAME_PATTERN.match(str(point.get("name", ""))):
            raise ConfigError(f"config key '{where}': expected a table with a 'name' of letters, "
                              f"digits, '-', '_' or '.'")  # fmt: skip
        unknown = sorted(set(point) - JOURNEY_POINT_KEYS - AXIS_KEYS)
        if unknown:
            raise ConfigError(f"config key '{where}.{unknown[0]}' is not one of "
                              f"{', '.join(sorted(JOURNEY_POINT_KEYS | AXIS_KEYS))}")  # fmt: skip
        if point["name"] in names:
            raise ConfigError(f"config key '{where}.name': {point['name']!r} is used twice")
        if point.get("against") is not None and point["against"] not in names:
            raise ConfigError(f"config key '{where}.against': {point['against']!r} is not an "
                              f"earlier point of the journey")  # fmt: skip
        reference = point.get("reference")
        if reference is not None and (isinstance(reference, bool)
                                      or not isinstance(reference, (int, float))):  # fmt: skip
            raise ConfigError(f"config key '{where}.reference': expected a number, got "
                              f"{reference!r}")  # fmt: skip
        names.append(point["name"])
