"""ONNX Runtime: the SavedModel converted by tf2onnx (its command line, opset 17), run on the CPU
execution provider with the worker's thread count."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .base import Runtime, Session

MODEL = "model.onnx"
OPSET = 17


class OnnxRuntime(Runtime):
    name = "onnxruntime"
    package = "onnxruntime"

    def convert_key(self) -> str:
        import importlib.metadata

        return f"{super().convert_key()} tf2onnx {importlib.metadata.version('tf2onnx')}"

    def convert(self, saved_model: str, signature: str, folder: Path) -> None:
        command = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", saved_model,
                   "--signature_def", signature, "--opset", str(OPSET),
                   "--output", str(folder / MODEL)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        (folder / "tf2onnx.log").write_text(done.stderr)
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if "rror" in line]
            raise RuntimeError("tf2onnx: " + (errors[-1] if errors else done.stderr[-400:]))

    def load(self, folder: Path, signature: str, threads: int) -> Session:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(folder / MODEL), options,
                                       providers=["CPUExecutionProvider"])  # fmt: skip
        names = [output.name for output in session.get_outputs()]

        def run(feed: dict) -> dict:
            return dict(zip(names, session.run(names, feed), strict=True))

        return run
