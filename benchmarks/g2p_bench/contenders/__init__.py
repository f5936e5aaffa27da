"""The benchmark's contenders, one module each, all behind `load(batch_size) -> Predictor`.

A Predictor maps a list of words to their phoneme lists, exactly as `g2p.predict` does.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from g2p import MODES

Predictor = Callable[[list[str]], list[list[str]]]

TF_CONTENDERS = {f"tf-{mode}": mode for mode in MODES}
"""Contender name -> `g2p.Model` mode, one per TensorFlow mode."""

# name -> (module in this package, keyword options of its `load`)
CONTENDERS: dict[str, tuple[str, dict[str, str]]] = {
    "g2p_en-numpy": ("g2p_en_numpy", {}),
    "g2p-default": ("default", {}),
    "numpy-batched": ("numpy_batched", {}),
    "onnxruntime": ("onnxruntime", {}),
    **{name: ("tensorflow", {"mode": mode}) for name, mode in TF_CONTENDERS.items()},
}
REFERENCE = "g2p_en-numpy"
DEFAULT = "g2p-default"
"""`g2p.predict` with its defaults: what a user gets without choosing a mode."""


def load(name: str, batch_size: int) -> Predictor:
    if name not in CONTENDERS:
        raise ValueError(f"unknown contender {name!r}; known: {', '.join(CONTENDERS)}")
    module_name, options = CONTENDERS[name]
    module = importlib.import_module(f"{__name__}.{module_name}")
    return module.load(batch_size, **options)
