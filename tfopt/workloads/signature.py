"""``python -m tfopt.workloads.signature PATH [NAME]``: a SavedModel signature's inputs as JSON.

Read from ``saved_model.pb`` alone with TensorFlow's generated protobuf modules, without
importing TensorFlow itself (its package is stood in for by bare namespace modules in this short
child process): the lab's own process checks ``--input`` specs in well under a second, before
anything runs, and never imports TensorFlow.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

# protobuf DataType names that do not read as NumPy's
DTYPE_NAMES = {"DT_FLOAT": "float32", "DT_DOUBLE": "float64", "DT_HALF": "float16"}


def _protobuf_modules():
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("TensorFlow is not installed: cannot read a SavedModel")
    root = Path(spec.submodule_search_locations[0])
    for name in ("tensorflow", "tensorflow.core", "tensorflow.core.framework",
                 "tensorflow.core.protobuf"):  # fmt: skip
        module = types.ModuleType(name)
        module.__path__ = [str(root.joinpath(*name.split(".")[1:]))]
        sys.modules[name] = module
    from tensorflow.core.framework import types_pb2
    from tensorflow.core.protobuf import saved_model_pb2

    return saved_model_pb2, types_pb2


def signature_inputs(path: str, name: str) -> dict[str, dict]:
    saved_model_pb2, types_pb2 = _protobuf_modules()
    model = saved_model_pb2.SavedModel()
    model.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    signatures = model.meta_graphs[0].signature_def
    if name not in signatures:
        raise ValueError(f"SavedModel {path!r} has no signature {name!r}; it has "
                         f"{sorted(k for k in signatures if not k.startswith('__'))}")  # fmt: skip
    declared = {}
    for key, info in sorted(signatures[name].inputs.items()):
        if info.tensor_shape.unknown_rank:
            raise ValueError(f"input {key!r} of signature {name!r} has an unknown rank")
        dtype = types_pb2.DataType.Name(info.dtype)
        declared[key] = {
            "shape": [None if dim.size < 0 else dim.size for dim in info.tensor_shape.dim],
            "dtype": DTYPE_NAMES.get(dtype, dtype.removeprefix("DT_").lower()),
        }
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
