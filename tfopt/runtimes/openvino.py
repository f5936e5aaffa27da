"""OpenVINO: reads the SavedModel directly (``openvino.convert_model``), saved as IR without
float16 compression, compiled for the CPU once per input shape (an infer request per thread,
for concurrent requests). Precision is pinned: ``openvino`` runs float32 (on CPUs with
AVX512_BF16 or AMX OpenVINO would pick bfloat16 by itself), and ``openvino-bf16`` is the same
model at bfloat16, its own row."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from .base import Runtime, Session

MODEL = "model.xml"
SIGNATURE = "serving_default"  # the only signature openvino.convert_model reads


class OpenVino(Runtime):
    package = "openvino"

    def __init__(self, precision: str):
        self.precision = precision
        self.name = "openvino" if precision == "f32" else f"openvino-{precision}"

    def convert_key(self) -> str:
        return f"openvino {self.version()}"  # one IR serves both precisions

    def convert(self, saved_model: str, signature: str, folder: Path) -> None:
        import openvino as ov

        if signature != SIGNATURE:
            raise ValueError(f"openvino.convert_model reads only the {SIGNATURE!r} signature")
        ov.save_model(ov.convert_model(saved_model), folder / MODEL, compress_to_fp16=False)

    def load(self, folder: Path, signature: str, threads: int) -> Session:
        import openvino as ov

        core = ov.Core()
        config = {"INFERENCE_PRECISION_HINT": self.precision, "INFERENCE_NUM_THREADS": threads,
                  "PERFORMANCE_HINT": "LATENCY"}  # fmt: skip
        compiled: dict[tuple, Any] = {}
        requests: dict[tuple, tuple] = {}

        def request_for(feed: dict):
            shapes = tuple((name, value.shape) for name, value in sorted(feed.items()))
            if shapes not in compiled:
                model = core.read_model(folder / MODEL)
                model.reshape({name: list(value.shape) for name, value in feed.items()})
                compiled[shapes] = core.compile_model(model, "CPU", config)
            key = (threading.get_ident(), shapes)  # infer requests are not shared by threads
            if key not in requests:
                requests[key] = (compiled[shapes].create_infer_request(), compiled[shapes].outputs)
            return requests[key]

        def run(feed: dict) -> dict:
            request, outputs = request_for(feed)
            results = request.infer(feed)
            return {output.get_any_name(): results[output] for output in outputs}

        return run
