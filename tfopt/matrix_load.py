"""Reading a config: a JSON or TOML file merged deeply over the defaults, then validated (a
journey's points too, each as the config it is)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .matrix_checks import validate, workload_of
from .matrix_keys import (
    DEFAULT_SIZES,
    DEFAULTS,
    JOURNEY_POINT_KEYS,
    ConfigError,
    Matrix,
    deep_merge,
)


def load(path: str | Path) -> Matrix:
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


def _parse_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        raise ConfigError("TOML configs need Python 3.11 or newer; use JSON") from None
    return tomllib.loads(path.read_text())


def resolve(raw: Any) -> Matrix:
    """A config table merged over the defaults and validated: what `tfopt.matrix.expand`
    turns into permutations."""
    if not isinstance(raw, dict):
        raise ConfigError("a config must be a table/object of keys")
    config = deep_merge(DEFAULTS, raw)
    if "sizes" not in raw:
        config["sizes"] = _default_sizes(config)
    validate(config)
    journey_configs(config)  # each point of a journey is a valid config itself
    return config


def _default_sizes(config: Matrix) -> list[int]:
    """The workload's own default (a SavedModel: by ``hint``), else g2p's word counts."""
    try:
        return workload_of(config).default_sizes(config["hint"]) or DEFAULT_SIZES
    except ValueError:  # ConfigError too: validate names the problem
        return DEFAULT_SIZES


def journey_configs(config: Matrix) -> dict[str, Matrix]:
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
