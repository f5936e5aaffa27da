"""The batched NumPy peer: g2p_en's math unchanged (no precomputed tables), but a whole
length-sorted batch per matrix product, with the same padding and early exit as `g2p.Model`."""

from __future__ import annotations

import numpy as np

from g2p._checkpoint import HIDDEN, MAX_DECODE_STEPS, START, STOP, load_weights
from g2p._inputs import predict_in_batches

from . import Predictor


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """g2p_en's `grucell`, for a batch of rows."""
    rzn_ih = np.matmul(x, w_ih.T) + b_ih
    rzn_hh = np.matmul(h, w_hh.T) + b_hh
    rz = _sigmoid(rzn_ih[:, : 2 * HIDDEN] + rzn_hh[:, : 2 * HIDDEN])
    r, z = rz[:, :HIDDEN], rz[:, HIDDEN:]
    n = np.tanh(rzn_ih[:, 2 * HIDDEN :] + r * rzn_hh[:, 2 * HIDDEN :])
    return (1 - z) * n + z * h


def decode(ids: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    """Grapheme ids [rows, time] -> phoneme ids [rows, 20], as `g2p._tf_decoder` computes them."""
    enc = (w["enc_w_ih"], w["enc_w_hh"], w["enc_b_ih"], w["enc_b_hh"])
    dec = (w["dec_w_ih"], w["dec_w_hh"], w["dec_b_ih"], w["dec_b_hh"])
    steps = (ids != 0).sum(axis=1)
    h = np.zeros((len(ids), HIDDEN), np.float32)
    for t in range(ids.shape[1]):
        h = np.where((t < steps)[:, None], _gru_cell(w["enc_emb"][ids[:, t]], h, *enc), h)
    out = np.full((len(ids), MAX_DECODE_STEPS), STOP, np.int64)
    prev, done = np.full(len(ids), START), steps == 0
    for i in range(MAX_DECODE_STEPS):
        if done.all():
            break
        h = _gru_cell(w["dec_emb"][prev], h, *dec)
        prev = (np.matmul(h, w["fc_w"].T) + w["fc_b"]).argmax(axis=-1)
        out[:, i] = np.where(done, STOP, prev)
        done |= prev == STOP
    return out


def load(batch_size: int) -> Predictor:
    weights = load_weights()
    return lambda words: predict_in_batches(
        words, batch_size, True, lambda ids: decode(ids, weights)
    )
