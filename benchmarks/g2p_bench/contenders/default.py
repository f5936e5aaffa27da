"""`g2p.predict` as it comes (its default mode and batch size), in calls of `batch_size` words:
the call size is what a default may choose by, so each batch size is one call per batch."""

from __future__ import annotations

import g2p
from tuner.tf import set_threading

from . import Predictor


def load(batch_size: int) -> Predictor:
    set_threading([1, 1])  # one inter-op, one intra-op thread
    return lambda words: [
        phonemes
        for start in range(0, len(words), batch_size)
        for phonemes in g2p.predict(words[start : start + batch_size])
    ]
