"""The graph-mode decoder converted to TensorFlow Lite and run by its interpreter.

A TensorFlow call costs ~0.12 ms before the first op runs; an interpreter `invoke` costs a few
microseconds, which is what single words need. The conversion keeps float32 (no quantization, no
optimizations), the while-loops and their early exit. An interpreter plans its memory for one
input shape, so there is one per padded shape `_inputs.encode` makes: a few dozen at most.
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

    Interpreters take TensorFlow's intra-op thread setting at creation (all cores if unset).
    """

    def __init__(self, graph: tf.types.experimental.ConcreteFunction):
        self._model = flatbuffer(graph)
        self._threads = tf.config.threading.get_intra_op_parallelism_threads() or None
        self._calls: dict[tuple[int, ...], tuple[tf.lite.Interpreter, int, int]] = {}

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        call = self._calls.get(ids.shape) or self._interpreter(ids.shape)
        interpreter, input_index, output_index = call
        interpreter.set_tensor(input_index, ids)
        interpreter.invoke()
        return interpreter.get_tensor(output_index)

    def _interpreter(self, shape: tuple[int, ...]) -> tuple[tf.lite.Interpreter, int, int]:
        with warnings.catch_warnings():
            # tf.lite.Interpreter still ships with TensorFlow; its successor is the same
            # interpreter in a separate package (ai_edge_litert) that this project does not need.
            warnings.filterwarnings("ignore", r"\s*Warning: tf.lite.Interpreter is deprecated")
            interpreter = tf.lite.Interpreter(model_content=self._model, num_threads=self._threads)
        (inputs,), (outputs,) = interpreter.get_input_details(), interpreter.get_output_details()
        interpreter.resize_tensor_input(inputs["index"], shape, strict=True)
        interpreter.allocate_tensors()
        self._calls[shape] = interpreter, inputs["index"], outputs["index"]
        return self._calls[shape]
