"""Where one word's time goes in a TensorFlow mode: the per-call dispatch, the cost of each GRU
step, and the Python around the call. A least-squares line through (steps, seconds) over many
single words separates the fixed cost from the per-step cost."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from g2p import Model
from g2p._inputs import encode

from .flops import steps
from .measure import clock

REPEATS = 5


def _best_seconds(run: Callable[[], object]) -> float:
    """The fastest of a few calls: other processes only ever add time."""
    times = []
    for _ in range(REPEATS):
        start = clock()
        run()
        times.append(clock() - start)
    return min(times)


def _empty_call_seconds(mode: str, ids: np.ndarray) -> float:
    """A one-op function in the same mode, on the same input: what any call costs before the
    model's work. (One op, not `tf.identity`: returning the int32 input itself takes a slower
    path.)"""
    from g2p import _tf_decoder

    empty = _tf_decoder.in_mode(mode, lambda ids: ids + 1)
    empty(ids)
    return _best_seconds(lambda: empty(ids))


def anatomy(mode: str, words: list[str]) -> dict[str, float]:
    model = Model(mode=mode, batch_size=1)
    rows = []
    for word in words:
        ids = encode([word], 1)
        phonemes = model.predict([word])[0]  # also the warmup
        call = _best_seconds(functools.partial(model.predict_ids, ids))
        whole = _best_seconds(functools.partial(model.predict, [word]))
        rows.append((sum(steps(word, phonemes)), call, whole))
    step_counts, calls, wholes = (np.array(column) for column in zip(*rows, strict=True))
    per_step, fixed = np.polyfit(step_counts, calls, 1)
    return {
        "per_step_us": per_step * 1e6,
        "fixed_us": fixed * 1e6,
        "empty_call_us": _empty_call_seconds(mode, encode(words[:1], 1)) * 1e6,
        "python_us": float(np.median(wholes - calls)) * 1e6,
        "mean_steps": float(step_counts.mean()),
    }
