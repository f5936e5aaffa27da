"""``python -m tfopt.workloads.signature PATH [NAME]``: a SavedModel signature's inputs as JSON.

Read from ``saved_model.pb`` alone (no variables loaded), in a child process, so the lab's own
process can check ``--input`` specs before anything runs without importing TensorFlow.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def signature_inputs(path: str, name: str) -> dict[str, dict]:
    from tensorflow.core.protobuf import saved_model_pb2

    import tensorflow as tf

    model = saved_model_pb2.SavedModel()
    model.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    signatures = model.meta_graphs[0].signature_def
    if name not in signatures:
        raise ValueError(f"SavedModel {path!r} has no signature {name!r}; it has "
                         f"{sorted(k for k in signatures if not k.startswith('__'))}")  # fmt: skip
    declared = {}
    for key, info in sorted(signatures[name].inputs.items()):
        dims = None if info.tensor_shape.unknown_rank else [
            None if d.size < 0 else d.size for d in info.tensor_shape.dim]  # fmt: skip
        if dims is None:
            raise ValueError(f"input {key!r} of signature {name!r} has an unknown rank")
        declared[key] = {"shape": dims, "dtype": tf.dtypes.as_dtype(info.dtype).name}
    return declared


def main(argv: list[str]) -> int:
    path, name = argv[0], argv[1] if len(argv) > 1 else "serving_default"
    try:
        print(json.dumps(signature_inputs(path, name)))
    except (ValueError, OSError) as err:
        print(err, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
