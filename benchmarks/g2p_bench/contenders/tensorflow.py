"""`g2p.Model` in one TensorFlow mode, on one inter-op and one intra-op thread."""

from __future__ import annotations

from g2p import Model
from tuner.tf import set_threading

from . import Predictor


def load(batch_size: int, mode: str) -> Predictor:
    set_threading([1, 1])  # one inter-op, one intra-op thread
    return Model(mode=mode, batch_size=batch_size).predict
