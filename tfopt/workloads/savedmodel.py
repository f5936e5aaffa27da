"""A SavedModel on disk, called through one of its signatures, in TensorFlow or another runtime.

Inputs follow the signature and the ``--input`` specs (`tfopt.workloads.inputs`): the input size
is the batch dimension; an unknown dimension that is not the batch must be given, never guessed.
The parent checks all of it before anything runs (`check`, reading the signature in a short
child process: the parent never imports TensorFlow). In a worker, ``TFOPT_RUNTIME`` (set by a
runtime variant) picks the runtime; its outputs are compared with TensorFlow's on every input
the worker times, and the difference lands in the payload's ``details``.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..runtimes.base import output_difference
from ..variants import RUNTIME_ENV
from . import inputs as inputs_mod
from .base import Built, Workload

TENSORFLOW = "tensorflow"
HINT_SIZES = {"latency": [1], "throughput": [1, 2, 4, 8, 16, 32]}
HINTS = tuple(HINT_SIZES)
DEFAULT_HINT = "throughput"
# Concurrent requests per batch size (a worker keeps those up to its visible cores): like
# OpenVINO benchmark_app's streams/infer requests, N threads calling the model at once.
HINT_CONCURRENCY = {"latency": None, "throughput": [1, 2, 4]}


def concurrency_levels(config: Mapping[str, Any]) -> list[int] | None:
    """The concurrent requests a config's workers measure: a SavedModel with the throughput
    hint (the default) sweeps them; anything else does not."""
    if not str(config.get("workload", "")).startswith("savedmodel:"):
        return None
    return HINT_CONCURRENCY[config.get("hint") or DEFAULT_HINT]


class SavedModelWorkload(Workload):
    unit = "rows"

    def __init__(self, path: str, signature: str = "serving_default",
                 input: list[str] | None = None):  # fmt: skip
        if not (Path(path) / "saved_model.pb").exists():
            raise ValueError(f"workload 'savedmodel:{path}': no saved_model.pb in {path!r}")
        self.path, self.signature = path, signature
        self.spec = f"savedmodel:{path}"
        self.input = list(input or [])
        self.specs = [inputs_mod.parse(text) for text in self.input]

    @property
    def where(self) -> str:
        return f"signature {self.signature!r} of {self.path}"

    def feeds(self) -> list[inputs_mod.Feed]:
        """The inputs as they will be fed; reads the signature in a child (cached)."""
        declared = read_signature(self.path, self.signature)
        return inputs_mod.resolve(declared, self.specs, self.where, _npy_shape)

    def default_sizes(self, hint: str | None) -> list[int]:
        fixed = inputs_mod.batch_size_of(self.feeds())
        return [fixed] if fixed else HINT_SIZES[hint or DEFAULT_HINT]

    def check(self, config: dict) -> None:
        """Refuse, before anything runs, what this model cannot be measured with."""
        options = sorted(k for k in ("mode", "batch_size", "bucket") if config.get(k) is not None)
        if options:
            raise ValueError(f"a SavedModel workload takes no {options}: its batch size is the "
                             "input size (--sizes, --hint throughput)")  # fmt: skip
        fixed = inputs_mod.batch_size_of(self.feeds())
        if fixed and config["sizes"] != [fixed]:
            raise ValueError(f"every input of {self.where} has a fixed batch of {fixed}, so the "
                             f"sizes can only be [{fixed}], not {config['sizes']}; mark the batch "
                             "dimension with -1 in --input to sweep it")  # fmt: skip
        if config.get("hint") == "latency" and config["sizes"] != [1]:
            raise ValueError(f"--hint latency measures batch 1, one request at a time; sizes "
                             f"{config['sizes']} belong to --hint throughput")  # fmt: skip

    def build(self, options: dict) -> Built:
        import tensorflow as tf

        unused = sorted(k for k, v in options.items() if v is not None)
        if unused:
            raise ValueError(f"a SavedModel workload takes no options, got {unused}")
        loaded = tf.saved_model.load(self.path)
        if self.signature not in loaded.signatures:
            raise ValueError(f"SavedModel {self.path!r} has no signature {self.signature!r}; "
                             f"it has {sorted(loaded.signatures)}")  # fmt: skip
        function = loaded.signatures[self.signature]
        feeds = inputs_mod.resolve(_declared(function), self.specs, self.where, _npy_shape)
        details: dict[str, Any] = {"inputs": [feed.describe() for feed in feeds]}

        def reference(feed: dict) -> dict:
            return {name: tensor.numpy() for name, tensor in function(**feed).items()}

        runtime = os.environ.get(RUNTIME_ENV) or TENSORFLOW
        if runtime == TENSORFLOW:
            predict, make_input = _tensorflow_calls(tf, function, feeds)
            details["runtime"] = {"runtime": TENSORFLOW, "version": tf.__version__,
                                  "precision": "f32", "threads": _tf_threads(tf)}  # fmt: skip
        else:
            predict, make_input = _runtime_calls(self, runtime, feeds, reference, details, tf)
        predict.keepalive = loaded  # the function needs its SavedModel object alive
        return Built(predict=predict, make_input=make_input, details=details)


def _tensorflow_calls(tf, function, feeds):
    def predict(feed: dict):
        return function(**feed)

    def make_input(size: int, seed: int) -> dict:
        return {feed.name: tf.constant(inputs_mod.make_array(feed, size, seed), dtype=feed.dtype)
                for feed in feeds}  # fmt: skip

    return predict, make_input


def _runtime_calls(workload: SavedModelWorkload, name: str, feeds, reference, details: dict, tf):
    """Another runtime's session; each input it is given is checked against TensorFlow's."""
    from .. import runtimes

    runtime = runtimes.get(name)
    threads = _tf_threads(tf)
    details["runtime"] = runtime.describe(threads)
    folder = runtimes.converted(runtime, workload.path, workload.signature)
    session = runtime.load(folder, workload.signature, threads)
    checks = details.setdefault("outputs", {})

    def predict(feed: dict):
        return session(feed)

    def make_input(size: int, seed: int) -> dict:
        feed = {f.name: inputs_mod.make_array(f, size, seed) for f in feeds}
        checks[str(size)] = output_difference(reference(feed), session(feed), runtime.precision)
        return feed

    return predict, make_input


def _tf_threads(tf) -> int:
    """The intra-op threads TensorFlow was given (the threads step), else the visible cores: the
    thread count every runtime of the same run gets."""
    return tf.config.threading.get_intra_op_parallelism_threads() or len(os.sched_getaffinity(0))


def _declared(function) -> dict[str, dict]:
    specs = function.structured_input_signature[1]
    return {name: {"shape": spec.shape.as_list(), "dtype": spec.dtype.name}
            for name, spec in specs.items()}  # fmt: skip


def _npy_shape(path: str) -> tuple[int, ...]:
    import numpy as np

    return np.load(path, mmap_mode="r").shape


@functools.lru_cache(maxsize=32)
def _signature_cached(path: str, signature: str, stamp: float) -> dict[str, dict]:
    command = [sys.executable, "-m", "tfopt.workloads.signature", path, signature]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise ValueError(lines[-1] if lines else f"cannot read the signatures of {path}")
    return json.loads(done.stdout)


def read_signature(path: str, signature: str) -> dict[str, dict]:
    """The signature's inputs, {name: {"shape": [dims, None if unknown], "dtype"}}."""
    stamp = (Path(path) / "saved_model.pb").stat().st_mtime
    return _signature_cached(str(Path(path).resolve()), signature, stamp)
