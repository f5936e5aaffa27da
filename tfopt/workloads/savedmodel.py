"""A SavedModel on disk, called through one of its signatures.

Inputs follow the signature: each input's first unknown dimension takes the input size (a batch of
``size`` rows), other unknown dimensions are 1; floats are standard normal, integers lie in [0, 10).
"""

from __future__ import annotations

from pathlib import Path

from .base import Built, Workload


class SavedModelWorkload(Workload):
    unit = "rows"

    def __init__(self, path: str, signature: str = "serving_default"):
        if not (Path(path) / "saved_model.pb").exists():
            raise ValueError(f"workload 'savedmodel:{path}': no saved_model.pb in {path!r}")
        self.path, self.signature = path, signature
        self.spec = f"savedmodel:{path}"

    def build(self, options: dict) -> Built:
        import tensorflow as tf

        unused = sorted(k for k, v in options.items() if v is not None)
        if unused:
            raise ValueError(f"a SavedModel workload takes no options, got {unused}")
        loaded = tf.saved_model.load(self.path)
        if self.signature not in loaded.signatures:
            raise ValueError(
                f"SavedModel {self.path!r} has no signature {self.signature!r}; "
                f"it has {sorted(loaded.signatures)}"
            )
        function = loaded.signatures[self.signature]
        specs = function.structured_input_signature[1]

        def predict(feed: dict):
            return function(**feed)

        def make_input(size: int, seed: int) -> dict:
            rng = tf.random.Generator.from_seed(seed)
            return {name: _random_tensor(tf, rng, spec, size) for name, spec in specs.items()}

        predict.keepalive = loaded  # the function needs its SavedModel object alive
        return Built(predict=predict, make_input=make_input)


def _random_tensor(tf, rng, spec, size: int):
    dims, sized = [], False
    for dim in spec.shape:
        if dim is None and not sized:
            dims.append(size)
            sized = True
        else:
            dims.append(1 if dim is None else dim)
    if spec.dtype.is_floating:
        return tf.cast(rng.normal(dims), spec.dtype)
    if spec.dtype.is_integer:
        return tf.cast(rng.uniform(dims, 0, 10, dtype=tf.int64), spec.dtype)
    if spec.dtype == tf.bool:
        return rng.uniform(dims) > 0.5
    raise ValueError(f"cannot generate inputs of dtype {spec.dtype.name} for {spec.name!r}")
