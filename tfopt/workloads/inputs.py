"""A model's inputs as the user states them (``--input``) against what its signature declares.

``--input NAME:SHAPE[:DTYPE][:LOW..HIGH]`` or ``--input NAME:FILE.npy``. In SHAPE (``-1x64``,
``1x224x224x3``) ``-1`` marks the batch dimension the lab sweeps: each input size becomes that
dimension. ``LOW..HIGH`` is the range of integer inputs (``0..9999`` for a vocabulary of 10,000);
a ``.npy`` file gives the data itself, its first axis being rows (a batch of ``n`` takes the first
``n`` rows, cycled). An input the user does not name takes its signature's shape, a leading
unknown dimension being the batch; any other unknown dimension is refused rather than guessed.

Everything here is plain Python: the parent checks a spec before anything runs, the worker
resolves the same specs against the loaded model.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BATCH = -1
INTEGER_RANGE = (0, 10)  # integers when no LOW..HIGH is given: valid ids for any vocabulary >= 10
DTYPES = ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
          "uint8", "uint16", "uint32", "uint64", "bool")  # fmt: skip
_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")


@dataclass(frozen=True)
class InputSpec:
    """One ``--input`` as given; ``None`` fields are taken from the signature."""

    name: str
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    low: int | None = None
    high: int | None = None  # inclusive, as written
    npy: str | None = None


@dataclass(frozen=True)
class Feed:
    """One input as it is fed: full shape (``BATCH`` where the size goes), dtype, data source."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    low: int | None = None
    high: int | None = None
    npy: str | None = None

    @property
    def batched(self) -> bool:
        return BATCH in self.shape

    def source(self) -> str:
        if self.npy:
            return f"rows of {self.npy}"
        if self.dtype == "bool":
            return "random booleans"
        if self.low is not None:
            return f"uniform integers in [{self.low}, {self.high}]"
        return "standard normal"

    def describe(self) -> dict:
        shape = "x".join("N" if d == BATCH else str(d) for d in self.shape)
        return {**asdict(self), "shape": shape, "source": self.source()}


def parse(text: str) -> InputSpec:
    """``NAME:SHAPE[:DTYPE][:LOW..HIGH]`` or ``NAME:FILE.npy``; ValueError naming the problem."""
    name, sep, rest = text.partition(":")
    if not sep or not name or not rest:
        raise ValueError(f"--input {text!r}: expected NAME:SHAPE[:DTYPE][:LOW..HIGH] "
                         "(e.g. tokens:-1x64:int32:0..999) or NAME:FILE.npy")  # fmt: skip
    if rest.endswith(".npy"):
        if not Path(rest).is_file():
            raise ValueError(f"--input {text!r}: file {rest!r} does not exist")
        return InputSpec(name, npy=rest)
    shape_text, *extra = rest.split(":")
    spec: dict[str, Any] = {"name": name, "shape": _shape(shape_text, text)}
    for part in extra:
        found = _RANGE.match(part)
        if found:
            spec["low"], spec["high"] = int(found[1]), int(found[2])
            if spec["low"] > spec["high"]:
                raise ValueError(f"--input {text!r}: range {part!r} is empty")
        elif part in DTYPES:
            spec["dtype"] = part
        else:
            raise ValueError(f"--input {text!r}: {part!r} is neither a dtype ({', '.join(DTYPES)})"
                             " nor a range LOW..HIGH")  # fmt: skip
    return InputSpec(**spec)


def _shape(text: str, whole: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--input {whole!r}: shape {text!r} is not like -1x64 or 1x224x224x3") \
            from None
    if any(d == 0 or d < BATCH for d in dims) or dims.count(BATCH) > 1:
        raise ValueError(f"--input {whole!r}: dimensions are positive, with at most one -1 "
                         "(the batch dimension the lab sweeps)")  # fmt: skip
    return dims


def resolve(signature: dict[str, dict], specs: list[InputSpec], where: str,
            npy_shape=None) -> list[Feed]:  # fmt: skip
    """Every input of ``signature`` (name -> {"shape": [dims or None], "dtype"}) as it will be fed.

    ``where`` names the model and signature in errors; ``npy_shape(path)`` reads a file's shape.
    """
    given = {spec.name: spec for spec in specs}
    unknown = sorted(set(given) - set(signature))
    if unknown:
        raise ValueError(f"--input {unknown[0]!r}: {where} has no such input; its inputs: "
                         f"{describe_signature(signature)}")  # fmt: skip
    return [_feed(name, declared, given.get(name), where, npy_shape)
            for name, declared in signature.items()]  # fmt: skip


def _feed(name: str, declared: dict, spec: InputSpec | None, where: str, npy_shape) -> Feed:
    dims, dtype = list(declared["shape"]), declared["dtype"]
    if spec is None:
        filled = [BATCH if i == 0 and d is None else d for i, d in enumerate(dims)]
        if None in filled:
            raise ValueError(
                f"input {name!r} of {where} has shape {_dims_text(dims)}: dimension "
                f"{filled.index(None)} is unknown and the lab will not guess it; give it with "
                f"--input {name}:{_example(dims)}:{dtype} (-1 marks the batch dimension)"
            )
        return Feed(name, tuple(filled), dtype, *_default_range(dtype))
    if spec.dtype and spec.dtype != dtype:
        raise ValueError(f"--input {name}: dtype {spec.dtype} but {where} declares {dtype}")
    if spec.npy:
        shape = (BATCH, *npy_shape(spec.npy)[1:])
        _check_fits(name, shape, dims, where, f"rows of {spec.npy}")
        return Feed(name, shape, dtype, npy=spec.npy)
    assert spec.shape is not None  # `parse` gives every spec without a file a shape
    _check_fits(name, spec.shape, dims, where, "the --input shape")
    if spec.low is not None and (dtype.startswith(("float", "bfloat")) or dtype == "bool"):
        raise ValueError(f"--input {name}: a range applies to integer inputs, not {dtype}")
    low, high = (spec.low, spec.high) if spec.low is not None else _default_range(dtype)
    return Feed(name, spec.shape, dtype, low, high)


def _check_fits(name: str, shape: tuple, dims: list, where: str, what: str) -> None:
    if len(shape) != len(dims):
        raise ValueError(f"--input {name}: {what} has {len(shape)} dimensions, {where} declares "
                         f"{_dims_text(dims)}")  # fmt: skip
    for index, (wanted, declared) in enumerate(zip(shape, dims, strict=True)):
        if declared is not None and wanted not in (declared, BATCH):
            raise ValueError(f"--input {name}: dimension {index} is {wanted} in {what}, but "
                             f"{where} fixes it at {declared} ({_dims_text(dims)})")  # fmt: skip
        if declared is not None and wanted == BATCH:
            raise ValueError(f"--input {name}: dimension {index} cannot be the batch (-1): "
                             f"{where} fixes it at {declared}")  # fmt: skip


def _default_range(dtype: str) -> tuple[int | None, int | None]:
    if dtype.startswith(("int", "uint")):
        return INTEGER_RANGE[0], INTEGER_RANGE[1] - 1
    return None, None


def _dims_text(dims: list) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in dims) + ")"


def _example(dims: list) -> str:
    return "x".join("-1" if i == 0 and d is None else ("64" if d is None else str(d))
                    for i, d in enumerate(dims))  # fmt: skip


def describe_signature(signature: dict[str, dict]) -> str:
    return ", ".join(f"{name} {_dims_text(d['shape'])} {d['dtype']}"
                     for name, d in signature.items())  # fmt: skip


def batch_size_of(feeds: list[Feed]) -> int | None:
    """None when some input has a batch dimension (the lab sweeps it); else the fixed rows."""
    if any(feed.batched for feed in feeds):
        return None
    return feeds[0].shape[0] if feeds and feeds[0].shape else 1


def concrete_shape(feed: Feed, size: int) -> tuple[int, ...]:
    return tuple(size if d == BATCH else d for d in feed.shape)


def make_array(feed: Feed, size: int, seed: int):
    """A NumPy array for ``feed`` at batch ``size``; the same seed gives the same data."""
    import numpy as np

    shape = concrete_shape(feed, size)
    if feed.npy:
        data = np.load(feed.npy, mmap_mode="r")
        return np.ascontiguousarray(np.take(data, np.arange(size) % len(data), axis=0),
                                    dtype=feed.dtype)  # fmt: skip
    rng = np.random.default_rng([seed, size])
    if feed.dtype == "bool":
        return rng.random(shape) > 0.5
    if feed.low is not None:
        return rng.integers(feed.low, feed.high, size=shape, endpoint=True).astype(feed.dtype)
    values = rng.standard_normal(shape, dtype=np.float32)
    return values if feed.dtype == "bfloat16" else values.astype(feed.dtype)
