"""The interface of a runtime, the conversion cache and the output check against TensorFlow."""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import sys
import tempfile
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from .. import cache

FAILED = "conversion-failed.txt"
Session = Callable[[dict], dict]  # {input name: array} -> {output name: array}

# Outputs agree when max |runtime - tensorflow| / max |tensorflow|, per output, stays within the
# tolerance of the runtime's precision. Relative to the output's own scale: an absolute bound
# would pass anything on outputs as small as a randomly initialised network's logits.
TOLERANCE = {"f32": 1e-3, "bf16": 5e-2}


class Runtime(ABC):
    name: str
    precision: str = "f32"
    package: str  # the distribution whose version keys the conversion cache

    @abstractmethod
    def convert(self, saved_model: str, signature: str, folder: Path) -> None:
        """Write this runtime's model for the SavedModel's ``signature`` into ``folder``."""

    @abstractmethod
    def load(self, folder: Path, signature: str, threads: int) -> Session:
        """A callable that runs the converted model on ``threads`` threads."""

    def version(self) -> str:
        try:
            return importlib.metadata.version(self.package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    def convert_key(self) -> str:
        return f"{self.name} {self.package} {self.version()}"

    def describe(self, threads: int) -> dict:
        return {"runtime": self.name, "version": self.version(), "precision": self.precision,
                "threads": threads, "tolerance": TOLERANCE[self.precision]}  # fmt: skip


def _model_digest(saved_model: str) -> str:
    """The SavedModel's graph and variables index: a changed model converts again."""
    digest = hashlib.sha256()
    for name in ("saved_model.pb", "variables/variables.index"):
        path = Path(saved_model) / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def converted(runtime: Runtime, saved_model: str, signature: str) -> Path:
    """The runtime's model, converted once per (model, signature, converter version) and cached;
    a failed conversion is cached too, so every later worker reports it at once."""
    key = hashlib.sha256("|".join([_model_digest(saved_model), signature, runtime.convert_key(),
                                   sys.version.split()[0]]).encode()).hexdigest()[:16]  # fmt: skip
    folder = cache.folder("converted") / f"{runtime.name}-{key}"
    if (folder / FAILED).exists():
        raise ConversionError((folder / FAILED).read_text())
    if folder.exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{runtime.name}-", dir=folder.parent))
    try:
        runtime.convert(saved_model, signature, work)
    except Exception as err:  # a converter's own error, whatever its type: the row says why
        reason = f"{runtime.name} cannot convert this model: {_last_line(err)}"
        (work / FAILED).write_text(reason + "\n\n" + traceback.format_exc())
        _publish(work, folder)
        raise ConversionError(reason) from err
    _publish(work, folder)
    return folder


def _publish(work: Path, folder: Path) -> None:
    try:
        work.rename(folder)
    except OSError:  # another worker published first
        shutil.rmtree(work, ignore_errors=True)


def _last_line(err: Exception) -> str:
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[-1] if lines else ''}"[:400]


class ConversionError(RuntimeError):
    """The converter could not handle the model; the message says why."""


def output_difference(reference: dict, outputs: dict, precision: str) -> dict:
    """Max absolute and relative difference of ``outputs`` against TensorFlow's ``reference``
    (matched by name, else by position); relative is max |diff| / max |reference|."""
    import numpy as np

    names = list(reference)
    if set(outputs) != set(names):
        outputs = dict(zip(names, outputs.values(), strict=False))
    max_abs = max_rel = 0.0
    for name in names:
        ref = np.asarray(reference[name], dtype=np.float64)
        got = np.asarray(outputs[name], dtype=np.float64).reshape(ref.shape)
        largest = float(np.max(np.abs(got - ref))) if ref.size else 0.0
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
        max_abs = max(max_abs, largest)
        max_rel = max(max_rel, largest / scale if scale else largest)
    return {"max_abs": max_abs, "max_rel": max_rel,
            "within_tolerance": max_rel <= TOLERANCE[precision]}  # fmt: skip
