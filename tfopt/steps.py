"""The optimisation steps the lab walks through, each a change to the best configuration so far.

A step proposes a candidate from the current configuration; the lab measures both and keeps the
candidate only when it wins (significant and above the threshold). One class per kind of change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .matrix import with_updates

Tune = Callable[[dict], dict]  # current config -> tuned knobs {"inter", "intra", "omp"}


@dataclass(frozen=True)
class Step:
    """A fixed change: ``updates`` maps dotted keys (``"knobs.onednn"``) to new values."""

    name: str
    change: str
    updates: dict

    def candidate(self, current: dict, tune: Tune) -> dict:
        return with_updates(current, self.updates)


@dataclass(frozen=True)
class OneDnnToggle:
    """Turn oneDNN off if it is on (TensorFlow's default on x86), or on if it is off."""

    name: str = "onednn"
    change: str = "toggle TF_ENABLE_ONEDNN_OPTS"

    def candidate(self, current: dict, tune: Tune) -> dict:
        on = current["knobs"].get("onednn")
        return with_updates(current, {"knobs.onednn": on is False})


@dataclass(frozen=True)
class TunedThreads:
    """Inter-op, intra-op and OpenMP threads as the forking tuner finds best for this config."""

    name: str = "threads"
    change: str = "inter/intra/OMP threads tuned by the forking tuner"

    def candidate(self, current: dict, tune: Tune) -> dict:
        knobs = tune(current)
        return with_updates(current, {f"knobs.{k}": v for k, v in knobs.items()})


@dataclass(frozen=True)
class VariantStep:
    """The same configuration on another build of TensorFlow."""

    variant: str

    @property
    def name(self) -> str:
        return f"variant_{self.variant}"

    @property
    def change(self) -> str:
        return f"variant {self.variant}"

    def candidate(self, current: dict, tune: Tune) -> dict:
        return with_updates(current, {"variant": self.variant})


MODEL_STEPS = {
    "graph": Step("graph", "tf.function graph mode", {"mode": "graph"}),
    "xla": Step("xla", "XLA-compiled graph", {"mode": "xla"}),
    "batching": Step("batching", "batch 256 words, bucketed by length",
                     {"batch_size": 256, "bucket": True}),  # fmt: skip
}
RUNTIME_STEPS = {"onednn": OneDnnToggle(), "threads": TunedThreads()}
STEP_NAMES = (*MODEL_STEPS, *RUNTIME_STEPS)


def default_steps(workload: str) -> list[str]:
    """All steps for g2p; runtime steps only for models whose options the lab cannot vary."""
    return list(STEP_NAMES) if workload == "g2p" else list(RUNTIME_STEPS)


def build(names: list[str], variants: list[str]) -> list:
    unknown = [name for name in names if name not in STEP_NAMES]
    if unknown:
        raise ValueError(f"unknown step(s) {unknown}; choose from {', '.join(STEP_NAMES)}")
    chosen = [MODEL_STEPS.get(name) or RUNTIME_STEPS[name] for name in names]
    return chosen + [VariantStep(variant) for variant in variants]
