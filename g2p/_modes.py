"""The execution modes of `Model`, in a module of their own: the decoders check a mode too."""

from __future__ import annotations

MODES = ("eager", "graph", "xla", "tflite", "frozen", "optimized")
"""eager: op by op from Python; graph: one `tf.function`; xla: the same, compiled by XLA;
tflite: the same graph converted to TensorFlow Lite (float32), whose calls cost far less;
frozen/optimized: the graph with its weights folded in as constants (and grappler run ahead of
time), see `_frozen`."""


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
