"""The graph-mode decoder converted to TensorFlow Lite and run by its interpreter.

A TensorFlow call costs ~0.12 ms before its first op runs, most of a single word's time; an
interpreter `invoke` costs a few microseconds. The conversion keeps float32 (no quantization, no
optimizations), the while-loops and their early exit; the interpreter runs the float ops with its
default CPU delegate (XNNPACK), token-exact on every CMUdict word like the other modes.
The interpreter plans its memory for one input shape and is re-planned (~5 µs) when the padded
shape changes, so memory follows the current batch rather than every shape seen.
"""

from __future__ import annotations

import warnings

import numpy as np

import tensorflow as tf


def flatbuffer(graph: tf.types.experimental.ConcreteFunction) -> bytes:
    converter = tf.lite.TFLiteConverter.from_concrete_functions([graph], tf.Module())
    converter.optimizations = []  # float32 as trained: quantization would change tokens
    return converter.convert()


class TFLiteDecoder:
    """`decode(ids [rows, time] int32) -> phoneme ids [rows, 20]`, as NumPy arrays.

    The interpreter takes TensorFlow's intra-op thread setting at creation (all cores if unset).
    """

    def __init__(self, graph: tf.types.experimental.ConcreteFunction):
        with warnings.catch_warnings():
            # tf.lite.Interpreter still ships with TensorFlow; its successor is the same
            # interpreter in a separate package (ai_edge_litert) that this project does not need.
            warnings.filterwarnings("ignore", r"\s*Warning: tf.lite.Interpreter is deprecated")
            interpreter = tf.lite.Interpreter(
                model_content=flatbuffer(graph),
                num_threads=tf.config.threading.get_intra_op_parallelism_threads() or None,
            )
        (inputs,), (outputs,) = interpreter.get_input_details(), interpreter.get_output_details()
        self._interpreter = interpreter
        self._input, self._output = inputs["index"], outputs["index"]
        self._shape: tuple[int, ...] = ()

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        if ids.shape != self._shape:
            self._interpreter.resize_tensor_input(self._input, ids.shape, strict=True)
            self._interpreter.allocate_tensors()
            self._shape = ids.shape
        self._interpreter.set_tensor(self._input, ids)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)
