"""The runtimes a user would pick instead of TensorFlow, run on the same SavedModel.

One module per runtime behind `Runtime`: ``tflite`` (TensorFlow Lite's converter and
interpreter), ``onnxruntime`` (converted by tf2onnx), ``openvino`` (reads the SavedModel directly;
``openvino-bf16`` is the same at bfloat16). A variant ``--variant NAME=tflite`` selects one (see
`tfopt.variants`); its workers convert the model once (cached, failures too, see `convert`),
then time the runtime on the same inputs and check its outputs against TensorFlow's.
"""

from __future__ import annotations

from .base import Runtime, converted
from .onnxruntime import OnnxRuntime
from .openvino import OpenVino
from .tflite import TfLite

RUNTIMES: dict[str, Runtime] = {
    runtime.name: runtime
    for runtime in (TfLite(), OnnxRuntime(), OpenVino("f32"), OpenVino("bf16"))
}

__all__ = ["RUNTIMES", "Runtime", "converted", "get"]


def get(name: str) -> Runtime:
    if name not in RUNTIMES:
        raise ValueError(f"unknown runtime {name!r}; choose from {', '.join(RUNTIMES)}")
    return RUNTIMES[name]
