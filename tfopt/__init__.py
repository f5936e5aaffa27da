"""tfopt's lab harness: measure, compare and report TensorFlow CPU inference performance.

    >>> from tfopt import Sample, compare
    >>> compare(Sample([2.0, 2.1, 2.0, 2.2]), Sample([1.0, 1.1, 1.0, 1.05])).speedup > 1.5
    True

The command line (``tfopt`` or ``python profile.py``) is the main interface; see ``tfopt.cli``.
"""

from .stats import Comparison, Sample, compare

__all__ = ["Comparison", "Sample", "compare"]
