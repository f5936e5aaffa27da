"""TensorFlow knobs: thread pools set from a trial's attempt, and environment knobs applied at the
moment they are read.

Two moments matter:

- **runtime start** (the first tensor or op): the inter-/intra-op thread pools are created and
  fixed. ``set_threading`` and the ``TF_NUM_*_THREADS`` variables work in a forked child, as long
  as the parent created no tensor (the tuner checks this before forking).
- **library load** (``import tensorflow`` and the libraries it loads): the variables marked
  ``"load"`` below are read then. A forked child inherits an already loaded TensorFlow, so these
  knobs need ``start_method="spawn"``, where the worker sets them before importing anything.

This module imports TensorFlow only inside ``set_threading``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Knob:
    read_at: str  # "load" or "runtime"
    doc: str


KNOBS: dict[str, Knob] = {
    "TF_NUM_INTEROP_THREADS": Knob(
        "runtime", "inter-op pool size: how many independent ops run at once (0 = TF's choice)"
    ),
    "TF_NUM_INTRAOP_THREADS": Knob(
        "runtime", "intra-op pool size: threads one op (a matmul, a GRU step) may use"
    ),
    "OMP_NUM_THREADS": Knob(
        "load",
        "OpenMP team size, read when the OpenMP runtime starts; matters for OpenMP builds "
        "(Intel's TensorFlow, ITEX with ITEX_OMP_THREADPOOL=1), not for stock wheels, "
        "whose oneDNN runs on TF's own Eigen pool",
    ),
    "KMP_BLOCKTIME": Knob(
        "load",
        "Intel OpenMP: milliseconds an idle thread spins before sleeping (0-1 for throughput "
        "with other work on the cores, higher for back-to-back parallel regions)",
    ),
    "KMP_AFFINITY": Knob(
        "load",
        "Intel OpenMP thread pinning, e.g. 'granularity=fine,compact,1,0' (one thread per core)",
    ),
    "OMP_PROC_BIND": Knob("load", "OpenMP thread binding policy (true, close, spread)"),
    "TF_ENABLE_ONEDNN_OPTS": Knob(
        "load", "1/0: TensorFlow's oneDNN custom operations on x86 (on by default since 2.9)"
    ),
    "ITEX_OMP_THREADPOOL": Knob(
        "load", "Intel Extension for TensorFlow: 1 = OpenMP pool (default), 0 = Eigen pool"
    ),
    "TF_CPP_MIN_LOG_LEVEL": Knob("load", "C++ log filter: 0 all, 1 no INFO, 2 no WARNING, 3 none"),
}


def load_time_knobs(names: Iterable[str]) -> list[str]:
    return [name for name in names if name in KNOBS and KNOBS[name].read_at == "load"]


def check_knobs(names: Iterable[str], start_method: str) -> None:
    """Refuse load-time knobs in forked trials once TensorFlow is loaded: they would do nothing."""
    late = load_time_knobs(names)
    if start_method == "fork" and late and "tensorflow" in sys.modules:
        raise ValueError(
            f"{', '.join(late)} {'is' if len(late) == 1 else 'are'} read when TensorFlow loads, "
            "and this process has already imported it, so forked trials would ignore them: tune "
            "them with tuner.minimize(..., start_method='spawn') and a 'module:function' objective"
        )


def set_threading(attempt: Sequence[int] | Mapping[str, int]) -> None:
    """Size TensorFlow's thread pools: ``[inter, intra]`` or ``{"inter_op": .., "intra_op": ..}``.

    Must run before the process creates its first tensor (in the tuner: in the child).
    """
    inter, intra = _threads(attempt)
    import tensorflow as tf

    try:
        tf.config.threading.set_inter_op_parallelism_threads(inter)
        tf.config.threading.set_intra_op_parallelism_threads(intra)
    except RuntimeError as exc:
        raise RuntimeError(
            "TensorFlow's runtime already started in this process, so its thread pools are "
            "fixed: set the threading before creating any tensor or model"
        ) from exc


def _threads(attempt: Sequence[int] | Mapping[str, int]) -> tuple[int, int]:
    if isinstance(attempt, Mapping):
        missing = {"inter_op", "intra_op"} - set(attempt)
        if missing:
            raise ValueError(f"set_threading needs keys inter_op and intra_op, missing {missing}")
        values = [attempt["inter_op"], attempt["intra_op"]]
    elif isinstance(attempt, Sequence) and not isinstance(attempt, (str, bytes)):
        values = list(attempt)
    else:
        raise TypeError(f"set_threading takes [inter, intra] or a dict, got {attempt!r}")
    if len(values) != 2:
        raise ValueError(f"set_threading takes two thread counts [inter, intra], got {values!r}")
    for count in values:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"thread counts are integers >= 0 (0 = TF's default), got {values}")
    return values[0], values[1]
