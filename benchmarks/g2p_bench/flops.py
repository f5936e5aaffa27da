"""FLOPs a word needs, as the benchmark counts them, and the core's measured GEMM peak."""

from __future__ import annotations

import statistics
import time

import numpy as np

from g2p._checkpoint import HIDDEN, MAX_DECODE_STEPS, PHONEMES

EMBEDDING = 256
GATES = 3 * HIDDEN
GRU_STEP_FLOPS = 2 * GATES * (EMBEDDING + HIDDEN)
"""x W_ih^T plus h W_hh^T, 786,432 (about 0.8 MFLOP per GRU step)."""
RECURRENT_STEP_FLOPS = 2 * GATES * HIDDEN
"""What a step still multiplies once x W_ih^T + b_ih is a lookup table, as in `g2p.Model`."""
OUTPUT_FLOPS = 2 * len(PHONEMES) * HIDDEN
"""The decoder's logits, once per decoder step."""


def steps(word: str, phonemes: list[str]) -> tuple[int, int]:
    """Encoder steps (letters and `</s>`) and decoder steps (phonemes and `</s>`, at most 20)."""
    return len(word) + 1, min(len(phonemes) + 1, MAX_DECODE_STEPS)


def flops_per_word(word: str, phonemes: list[str], *, input_tables: bool = False) -> int:
    encoder, decoder = steps(word, phonemes)
    per_step = RECURRENT_STEP_FLOPS if input_tables else GRU_STEP_FLOPS
    return (encoder + decoder) * per_step + decoder * OUTPUT_FLOPS


def numpy_gemm_flops(size: int, seconds: float) -> dict[str, float]:
    """Float32 GEMM rate NumPy's BLAS reaches on a size^3 product."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), np.float32) for _ in range(2))
    return _rates(lambda: a @ b, 2 * size**3, seconds)


def tensorflow_gemm_flops(size: int, seconds: float) -> dict[str, float]:
    """Float32 GEMM rate TensorFlow reaches on a size^3 product (on its configured threads)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a, b = (tf.constant(rng.standard_normal((size, size), np.float32)) for _ in range(2))
    matmul = tf.function(lambda: tf.matmul(a, b))
    return _rates(lambda: matmul().numpy(), 2 * size**3, seconds)


def _rates(run, flops: int, seconds: float) -> dict[str, float]:
    """Median and best FLOP/s over repeated runs (CPU time, as the contenders are timed). The
    roofline uses the best: a peak is what the core can do, and contenders are held to it with
    their median, so noise never helps them."""
    run()
    rates, deadline = [], time.process_time() + seconds
    while time.process_time() < deadline:
        start = time.process_time()
        run()
        rates.append(flops / (time.process_time() - start))
    return {"median": statistics.median(rates), "best": max(rates)}
