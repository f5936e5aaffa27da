"""tfopt's lab harness: measure, compare and report TensorFlow CPU inference performance.

    >>> from tfopt import Sample, compare
    >>> compare(Sample([2.0, 2.1, 2.0, 2.2]), Sample([1.0, 1.1, 1.0, 1.05])).speedup > 1.5
    True

The command line (``tfopt`` or ``python profile.py``) is the main interface; see ``tfopt.cli``.
Names load lazily: a worker spawned in another interpreter (a variant's venv, with only
TensorFlow, numpy and the model's packages) imports ``tfopt.worker`` without SciPy or Matplotlib.
"""

from importlib import import_module

_EXPORTS = {"Sample": "tfopt.stats", "Comparison": "tfopt.stats", "compare": "tfopt.stats"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tfopt' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
