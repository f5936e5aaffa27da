"""Workloads: what a worker measures. One module per kind behind `Workload`.

A spec names the workload: ``g2p`` (the default), ``module:factory`` (a user callable, with an
``inputs`` generator ``module:function``), or ``savedmodel:/path`` (a SavedModel and the name of
its serving signature). Specs are checked in the parent without importing TensorFlow or the
user's module; ``build`` runs in the worker, after its thread settings.
"""

from __future__ import annotations

from .base import Built, Workload
from .python_callable import CallableWorkload
from .savedmodel import SavedModelWorkload
from .text_to_phonemes import G2pWorkload

__all__ = ["Built", "Workload", "resolve"]


def resolve(spec: str, inputs: str | None = None, signature: str = "serving_default",
            input: list[str] | None = None) -> Workload:  # fmt: skip
    """The workload a spec names; a bad spec raises ValueError naming the problem."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"workload must be a non-empty string, got {spec!r}")
    if spec.startswith("savedmodel:"):
        return SavedModelWorkload(spec.removeprefix("savedmodel:"), signature, input)
    if input:
        raise ValueError(f"--input describes a SavedModel's inputs; workload {spec!r} is not one")
    if spec == "g2p":
        return G2pWorkload()
    if ":" in spec:
        return CallableWorkload(spec, inputs)
    raise ValueError(
        f"workload {spec!r} is not 'g2p', 'module:factory' or 'savedmodel:/path/to/model'"
    )
