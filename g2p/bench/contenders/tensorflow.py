"""`g2p.Model` in one TensorFlow mode, on one inter-op and one intra-op thread."""

from __future__ import annotations

from g2p import Model

from . import Predictor


def load(batch_size: int, mode: str) -> Predictor:
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    return Model(mode=mode, batch_size=batch_size).predict
