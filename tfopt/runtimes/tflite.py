"""TensorFlow Lite: the SavedModel converted at float32 with no optimizations, run by
``tf.lite.Interpreter`` (its default XNNPACK CPU delegate) through set_tensor/invoke/get_tensor,
one interpreter per input shape (and per thread, for concurrent requests) so a
batch-size sweep never resizes tensors between timed calls."""

from __future__ import annotations

import threading
from pathlib import Path

from .base import Runtime, Session

MODEL = "model.tflite"


class TfLite(Runtime):
    name = "tflite"
    package = "tensorflow-cpu"

    def convert(self, saved_model: str, signature: str, folder: Path) -> None:
        import tensorflow as tf

        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, [signature])
        (folder / MODEL).write_bytes(converter.convert())

    def load(self, folder: Path, signature: str, threads: int) -> Session:
        content = (folder / MODEL).read_bytes()
        runner = _interpreter(content, threads).get_signature_runner(signature)
        inputs = {name: d["index"] for name, d in runner.get_input_details().items()}
        outputs = {name: d["index"] for name, d in runner.get_output_details().items()}
        interpreters: dict[tuple, object] = {}

        def interpreter_for(feed: dict):
            key = (threading.get_ident(),  # one per thread: concurrent requests
                   *((name, value.shape) for name, value in sorted(feed.items())))
            if key not in interpreters:  # resized and allocated once, before any timed call
                interpreter = _interpreter(content, threads)
                for name, value in feed.items():
                    interpreter.resize_tensor_input(inputs[name], value.shape)
                interpreter.allocate_tensors()
                interpreters[key] = interpreter
            return interpreters[key]

        def run(feed: dict) -> dict:
            interpreter = interpreter_for(feed)
            for name, value in feed.items():
                interpreter.set_tensor(inputs[name], value)
            interpreter.invoke()
            return {name: interpreter.get_tensor(index) for name, index in outputs.items()}

        return run


def _interpreter(content: bytes, threads: int):
    import warnings

    import tensorflow as tf

    with warnings.catch_warnings():  # tf.lite.Interpreter's deprecation notice
        warnings.simplefilter("ignore")
        return tf.lite.Interpreter(model_content=content, num_threads=threads)
