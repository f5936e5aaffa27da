"""The experiment matrix: list-valued keys expand to every permutation (as in the furcate
experiment runner).

Fixed against the original: the merge with defaults is deep (a partial ``knobs`` table keeps the
other defaults), lists nested in tables expand too, ``exclude`` entries match on all their pairs
(dotted keys such as ``"knobs.inter"`` reach into tables), and each permutation has a stable id so
a rerun really skips what finished.
"""

from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import itertools
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from g2p import MODES as G2P_MODES
from tuner import Limits

from . import grappler
from .grappler import GRAPPLER_ENV
from .variants import NAME_PATTERN, from_config
from .workloads.savedmodel import HINTS

DEFAULT_SIZES = [1, 2, 6, 7, 10, 15, 20]  # words per text, as in the original experiment

DEFAULTS: dict = {
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
    "tandem": True,
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

# Keys whose list values are data, not axes of the matrix.
LITERAL_KEYS = {"sizes", "exclude", "variants", "journey", "mem_trace", "input"}
# The only keys that may take a list of values (tables: every key inside them).
AXIS_KEYS = {"cpus", "memory", "variant", "node", "mode", "batch_size", "bucket", "knobs", "env"}
# Keys that do not change what a run measures, so they stay out of its id.
NON_RUN_KEYS = {"name", "workers", "timeout", "parallel", "zygote", "tandem", "exclude", "variants",
                "journey", "mem_trace", "alpha", "threshold"}  # fmt: skip
# Keys added after results existed: left out of the run id while unset, so old ids still match.
UNSET_OUT_OF_ID = {"node"}
# g2p's modes but TensorFlow Lite, which the lab measures as a runtime (`--variant NAME=tflite`).
MODES = tuple(mode for mode in G2P_MODES if mode != "tflite")
MIN_TF_MEMORY = 512 * 1024**2
# A journey point's own keys (`tfopt.journey`); the rest of a point are config keys.
JOURNEY_POINT_KEYS = {"name", "reference", "against", "note"}


class ConfigError(ValueError):
    """A config problem, named by its key."""


@dataclass(frozen=True)
class Permutation:
    """One point of the matrix: scalar values only, with a stable id."""

    config: dict

    @property
    def run_params(self) -> dict:
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


def load(path: str | Path) -> dict:
    """Read a JSON or TOML config, merge it deeply over the defaults and validate it."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    if not path.is_file():
        raise ConfigError(f"config file {path} is not a file")
    try:
        raw = _parse_toml(path) if path.suffix == ".toml" else json.loads(path.read_text())
    except ValueError as err:  # both decoders' errors are ValueErrors
        raise ConfigError(f"config file {path} could not be parsed: {err}") from err
    except OSError as err:
        raise ConfigError(f"config file {path} could not be read: {err.strerror}") from err
    return resolve(raw)


def _parse_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        raise ConfigError("TOML configs need Python 3.11 or newer; use JSON") from None
    return tomllib.loads(path.read_text())


def resolve(raw: dict) -> dict:
    if not isinstance(raw, dict):
        raise ConfigError("a config must be a table/object of keys")
    config = deep_merge(DEFAULTS, raw)
    if "sizes" not in raw:
        config["sizes"] = _default_sizes(config)
    validate(config)
    return config


def _default_sizes(config: dict) -> list[int]:
    """The workload's own default (a SavedModel: by ``hint``), else g2p's word counts."""
    try:
        return _workload_of(config).default_sizes(config["hint"]) or DEFAULT_SIZES
    except ValueError:  # ConfigError too: validate names the problem
        return DEFAULT_SIZES


def deep_merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "variants":
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def expand(config: dict) -> list[Permutation]:
    """Every permutation of the list-valued keys, minus the excluded ones, in a stable order."""
    axes = [(key, values) for key, values in _axes(config)]
    keys = [key for key, _ in axes]
    perms = []
    for combo in itertools.product(*(values for _, values in axes)):
        flat = dict(zip(keys, combo, strict=True))
        if not any(_matches(flat, rule) for rule in config["exclude"]):
            perms.append(Permutation(with_updates(config, flat)))
    return perms


def varying_keys(config: dict) -> list[str]:
    return [key for key, values in _axes(config) if len(values) > 1]


def _axes(config: dict) -> Iterator[tuple[str, list]]:
    for key, value in flatten(config, literal=LITERAL_KEYS).items():
        if isinstance(value, list) and key not in LITERAL_KEYS:
            yield key, value
        else:
            yield key, [value]


def with_updates(config: dict, flat: dict) -> dict:
    """A copy of ``config`` with dotted keys (``"knobs.inter"``) set to new values."""
    result = copy.deepcopy(config)
    for dotted, value in flat.items():
        *parents, leaf = dotted.split(".")
        node = result
        for part in parents:
            node = node[part]
        node[leaf] = value
    return result


def _matches(flat: dict, rule: dict) -> bool:
    return all(flat.get(key) == value for key, value in flatten(rule).items())


def flatten(tree: dict, prefix: str = "", literal: set[str] = frozenset()) -> dict:
    """``{"knobs": {"inter": 1}}`` -> ``{"knobs.inter": 1}``; literal keys stay whole."""
    flat = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and dotted not in literal:
            flat.update(flatten(value, f"{dotted}.", literal))
        else:
            flat[dotted] = value
    return flat


# --- validation -------------------------------------------------------------------------------


def validate(config: dict) -> None:
    _check_known(config, DEFAULTS, "")
    for key, value in config.items():
        if isinstance(value, list) and key not in AXIS_KEYS | LITERAL_KEYS:
            _fail(key, "a single value (only these keys expand: " + ", ".join(sorted(AXIS_KEYS))
                  + ")", value)
    for key, values in _axes(config):
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
        _check_journey(config)


def _each(value) -> list:
    return value if isinstance(value, list) else [value]


def _check_known(tree: dict, defaults: dict, prefix: str) -> None:
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


def _fail(key: str, expected: str, value) -> None:
    raise ConfigError(f"config key '{key}': expected {expected}, got {value!r}")


def _check_count(key: str, value, minimum: int = 1) -> None:
    if value is None and key.startswith("knobs."):
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _fail(key, f"an integer >= {minimum}", value)


def _check_positive_number(key: str, value, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _positive(value):
        _fail(key, "a positive finite number" + (" or null" if allow_none else ""), value)


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def _check_string(key: str, value) -> None:
    if not isinstance(value, str) or not value:
        _fail(key, "a non-empty string", value)


def _check_optional_string(key: str, value) -> None:
    if value is not None:
        _check_string(key, value)


def _check_optional_bool(key: str, value) -> None:
    if value is not None and not isinstance(value, bool):
        _fail(key, "true, false or null", value)


def _check_sizes(key: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        _fail(key, "a list of input sizes (integers >= 1)", value)


def _check_memory(key: str, value) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        _fail(key, "a size such as '4G', '512M' or a number of bytes", value)
    _check_limit(key, memory=value)
    if Limits(memory=value).memory < MIN_TF_MEMORY:
        raise ConfigError(
            f"config key '{key}': {value!r} is below the {MIN_TF_MEMORY // 1024**2} MiB a "
            "TensorFlow worker needs to import TensorFlow and build a model"
        )


def _check_limit(key: str, **limit) -> None:
    """The tuner's `Limits` refuses what this machine cannot give (more cores than exist...)."""
    try:
        Limits(**limit)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"config key '{key}': {err}") from None


def _check_mode(key: str, value) -> None:
    if value is not None and value not in MODES:
        _fail(key, f"one of {', '.join(MODES)}", value)


def _check_cpus(key: str, value) -> None:
    _check_positive_number(key, value, allow_none=True)
    _check_limit(key, cpus=value)


def _check_optional_count(key: str, value) -> None:
    if value is not None:
        _check_count(key, value)


def _check_probability(key: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        _fail(key, "a number between 0 and 1", value)


def _check_bool(key: str, value) -> None:
    if not isinstance(value, bool):
        _fail(key, "true or false", value)


_CHECKS = {
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
    "tag": lambda k, v: isinstance(v, str) or _fail(k, "a string", v),
    "parallel": _check_bool,
    "zygote": _check_bool,
    "tandem": _check_bool,
    "cpus": _check_cpus,
    "memory": _check_memory,
    "variant": _check_string,
    "node": _check_optional_string,
    "mode": _check_mode,
    "batch_size": _check_optional_count,
    "bucket": _check_optional_bool,
    "hint": lambda k, v: v is None or v in HINTS or _fail(k, f"one of {', '.join(HINTS)}", v),
    "alpha": _check_probability,
    "threshold": lambda k, v: _check_positive_number(k, v),
}


def _check_workload(config: dict) -> None:
    """Resolving a workload spec checks it without importing TensorFlow or the user's module."""
    specs = config["input"]
    if not isinstance(specs, list) or not all(isinstance(text, str) for text in specs):
        _fail("input", "a list of input specs such as 'tokens:-1x64:int32'", config["input"])
    workload = _workload_of(config)
    if config["hint"] and not config["workload"].startswith("savedmodel:"):
        raise ConfigError("config key 'hint': latency/throughput hints apply to SavedModel "
                          "workloads, whose input size is a batch size")  # fmt: skip
    try:
        workload.check(config)
    except ValueError as err:
        raise ConfigError(f"config key 'workload': {err}") from None


def _workload_of(config: dict):
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


def _check_env(env) -> None:
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


def _check_exclude(rules) -> None:
    if not isinstance(rules, list):
        _fail("exclude", "a list of tables", rules)
    known = set(flatten(DEFAULTS, literal=LITERAL_KEYS)) | {"env"}
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict) or not rule:
            _fail(f"exclude[{index}]", "a non-empty table of key/value pairs", rule)
        for key in flatten(rule):
            if key not in known and not key.startswith("env."):
                _fail(f"exclude[{index}].{key}", "a key of the matrix", key)


def _check_variants(config: dict) -> None:
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


# --- live edits ---------------------------------------------------------------------------------


class LiveConfig:
    """A config file re-read when it changes, so edits add or drop pending permutations."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config = load(self.path)
        self._stamp = self._current_stamp()
        self.last_error: str | None = None

    def _current_stamp(self) -> tuple[float, int]:
        stat = self.path.stat()
        return stat.st_mtime, stat.st_size

    def refresh(self) -> bool:
        """Reload if the file changed; a broken edit keeps the old config and sets last_error."""
        try:
            stamp = self._current_stamp()
        except FileNotFoundError:
            self.last_error = f"config file {self.path} disappeared; keeping the loaded config"
            return False
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            self.config = load(self.path)
        except ConfigError as err:
            self.last_error = f"ignoring the edit of {self.path}: {err}"
            return False
        self.last_error = None
        return True


def _check_journey(config: dict) -> None:
    """A journey's errors, named by their key; its points are configs themselves."""
    points = config["journey"]
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
    journey_configs(config)  # each point is a valid config


def journey_configs(config: dict) -> dict[str, dict]:
    """Each point's full config: the file's settings with the point's own on top."""
    base = {key: value for key, value in config.items() if key != "journey"}
    configs = {}
    for point in config["journey"]:
        overrides = {k: v for k, v in point.items() if k not in JOURNEY_POINT_KEYS}
        try:
            configs[point["name"]] = resolve(deep_merge(base, overrides))
        except ConfigError as err:
            raise ConfigError(f"journey point {point['name']!r}: {err}") from None
    return configs


def _short(key: str) -> str:
    leaf = key.split(".")[-1]
    return {"batch_size": "bs", "variant": "", "memory": "mem"}.get(leaf, leaf)


def _slug(value) -> str:
    text = str(value).replace("/", "-").replace(" ", "")
    return "".join(ch for ch in text if ch.isalnum() or ch in "-.") or "none"
