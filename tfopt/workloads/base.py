"""The interface every workload implements."""

from __future__ import annotations

import importlib
import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuner.worker import resolve


@dataclass(frozen=True)
class Built:
    """A workload made ready inside a worker: the call to time and its input maker."""

    predict: Callable[[Any], Any]
    make_input: Callable[[int, int], Any]  # (size, seed) -> one input of that size
    details: dict = field(default_factory=dict)  # inputs, runtime, output checks: for the report


class Workload(ABC):
    """``build`` runs in the worker; the rest must stay cheap and TensorFlow-free."""

    spec: str
    unit: str = "items"  # what an input's size counts, for throughput

    @abstractmethod
    def build(self, options: dict) -> Built:
        """Construct the model with ``options`` (mode, batch_size, bucket: None = default)."""

    def check(self, config: dict) -> None:
        """Refuse, in the parent and before anything runs, a config this workload cannot run."""
        return None

    def default_sizes(self, hint: str | None) -> list[int] | None:
        """Input sizes when the config names none (None: the lab's default)."""
        return None


def check_importable(target: str, what: str) -> tuple[str, str]:
    """Split ``module:function`` and check the module exists, without importing it."""
    module, sep, function = target.partition(":")
    if not sep or not module or not function.isidentifier():
        raise ValueError(f"{what} {target!r} must look like 'package.module:function'")
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise ValueError(f"{what} {target!r}: module {module!r} cannot be found on sys.path")
    return module, function


def load_callable(target: str, what: str) -> Callable:
    module, function = check_importable(target, what)
    importlib.import_module(module)  # an error inside the module surfaces as itself
    try:
        return resolve(target)
    except (AttributeError, TypeError):  # no such name, or not callable
        raise ValueError(
            f"{what} {target!r}: {module} has no callable named {function!r}"
        ) from None
