"""The optimisation steps the lab walks through, each a change to the best configuration so far.

A step proposes a candidate from the current configuration; the lab measures both and keeps the
candidate only when it wins (significant and above the threshold). One class per kind of change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .grappler import GRAPPLER_ENV, encode
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


# TensorFlow's auto-clustering: on CPUs it also needs the global-jit flag.
XLA_AUTO_JIT = "--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit"

# The grappler step: does TensorFlow's graph optimizer pay for itself on this model? (Its
# rewrites, such as the oneDNN fusions of remapping, usually help; a small model can lose more
# to them than it gains.) Other options go in a config's env as TFOPT_GRAPPLER.
GRAPPLER_OPTIONS = {"disable_meta_optimizer": True}

MODEL_STEPS = {
    "graph": Step("graph", "tf.function graph mode", {"mode": "graph"}),
    "xla": Step("xla", "XLA-compiled graph", {"mode": "xla"}),
    "batching": Step("batching", "batch 256 words, bucketed by length",
                     {"batch_size": 256, "bucket": True}),  # fmt: skip
}
SAVEDMODEL_STEPS = {
    "xla": Step("xla", f"XLA auto-clustering (TF_XLA_FLAGS={XLA_AUTO_JIT})",
                {"env.TF_XLA_FLAGS": XLA_AUTO_JIT}),  # fmt: skip
    "grappler": Step("grappler", "grappler options "
                     f"tf.config.optimizer.set_experimental_options({GRAPPLER_OPTIONS})",
                     {f"env.{GRAPPLER_ENV}": encode(GRAPPLER_OPTIONS)}),  # fmt: skip
}
RUNTIME_STEPS = {"onednn": OneDnnToggle(), "threads": TunedThreads()}
STEP_NAMES = (*MODEL_STEPS, "grappler", *RUNTIME_STEPS)
# Why the grappler step does not reach runtime variants.
GRAPPLER_ON_RUNTIMES = ("TensorFlow Lite, ONNX Runtime and OpenVINO run their own converted model: "
                        "grappler options reach only the TensorFlow reference their outputs are "
                        "checked against")  # fmt: skip

# Why a step does not apply to a kind of workload: said on the console and in the report, and
# the reason a step asked for by name is refused before anything runs.
NOT_APPLICABLE = {
    "savedmodel": {
        "graph": "a SavedModel signature already runs as a TensorFlow graph",
        "batching": "the batch size is the input size: the lab measures every size in --sizes "
                    "(--hint throughput) and names the best batch",
    },
    "g2p": {
        "grappler": "g2p's own steps choose how it runs (eager, graph, XLA); set TFOPT_GRAPPLER "
                    "in a config's env to try grappler options on its graph modes",
    },
    "callable": {
        "graph": "the lab cannot change how a Python callable runs its model",
        "xla": "the lab cannot change how a Python callable runs its model (set "
               "TF_XLA_FLAGS in a config's env to try auto-clustering)",
        "batching": "the batch size is the callable's own option (batch_size in a config)",
        "grappler": "the lab cannot tell whether a Python callable runs TensorFlow graphs (set "
                    "TFOPT_GRAPPLER in a config's env to try grappler options)",
    },
}


def workload_kind(workload: str) -> str:
    if workload == "g2p":
        return "g2p"
    return "savedmodel" if workload.startswith("savedmodel:") else "callable"


def _applicable(workload: str) -> dict:
    kind = workload_kind(workload)
    model = {"g2p": MODEL_STEPS, "savedmodel": SAVEDMODEL_STEPS}.get(kind, {})
    return {**model, **RUNTIME_STEPS}


def skipped_steps(workload: str, runtimes: list[str] | tuple = ()) -> dict[str, str]:
    """The steps that do not apply to this workload (and to its runtime variants, by name),
    each with the reason."""
    skipped = dict(NOT_APPLICABLE.get(workload_kind(workload), {}))
    if runtimes and "grappler" not in skipped:
        skipped[f"grappler on {', '.join(runtimes)}"] = GRAPPLER_ON_RUNTIMES
    return skipped


def default_steps(workload: str) -> list[str]:
    """Every step that applies to the workload, in the lab's order."""
    return [name for name in STEP_NAMES if name in _applicable(workload)]


def build(names: list[str], variants: list[str], workload: str = "g2p") -> list:
    """The steps by name; an unknown or inapplicable one raises ValueError saying why."""
    unknown = [name for name in names if name not in STEP_NAMES]
    if unknown:
        raise ValueError(f"unknown step(s) {unknown}; choose from {', '.join(STEP_NAMES)}")
    refused = skipped_steps(workload)
    inapplicable = [name for name in names if name in refused]
    if inapplicable:
        reasons = "; ".join(f"{name}: {refused[name]}" for name in inapplicable)
        raise ValueError(f"step(s) {inapplicable} do not apply to {workload!r} ({reasons})")
    applicable = _applicable(workload)
    return [applicable[name] for name in names] + [VariantStep(variant) for variant in variants]
