"""`g2p.Model` in one TensorFlow mode, on one inter-op and one intra-op thread."""

from __future__ import annotations

from g2p import Model

from ..worker import one_tensorflow_thread
from . import Predictor


def load(batch_size: int, mode: str) -> Predictor:
    one_tensorflow_thread()
    return Model(mode=mode, batch_size=batch_size).predict
