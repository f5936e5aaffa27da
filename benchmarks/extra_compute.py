"""The g2p workload plus a known amount of real extra arithmetic: a true, calibrated slowdown.

``make_model`` builds the lab's default g2p workload and wraps its call. The first time the
wrapper sees an input of a given length it calibrates in-process: the median time of a few g2p
calls on that input (after an untimed one), and the median time of one small matrix product.
From then on every call on that input runs g2p and then a fixed number of matrix products, chosen
so they add ``CREDIBILITY_EXTRA_COMPUTE`` (a fraction, e.g. 0.10) of the call's own time. The
count is fixed after calibration, so the extra work is arithmetic, not a wait: it slows down with
the machine just as the model does. With a fraction of 0 the wrapper calibrates the same way and
adds nothing, so both sides of a comparison do the same warmup work.

Each calibration is appended as one JSON line to ``CREDIBILITY_LOG`` when that is set.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

FRACTION_ENV = "CREDIBILITY_EXTRA_COMPUTE"
LOG_ENV = "CREDIBILITY_LOG"
CALIBRATION_CALLS = 3
PRODUCT_SAMPLES, PRODUCT_BLOCK = 20, 20
# 56x56x56 stays under OpenBLAS's multithreading threshold (64**3): one core, like the model.
MATRIX_SIZE = 56


def extra_fraction() -> float:
    text = os.environ.get(FRACTION_ENV, "0")
    try:
        fraction = float(text)
    except ValueError:
        raise ValueError(f"{FRACTION_ENV}={text!r} is not a number such as 0.10") from None
    if not 0 <= fraction < 1:
        raise ValueError(f"{FRACTION_ENV}={text!r} must lie in [0, 1)")
    return fraction


class ExtraCompute:
    """``predict`` followed by matrix products worth ``fraction`` of its own time."""

    def __init__(self, predict: Callable[[Any], Any], fraction: float, log: str | None = None):
        import numpy as np

        self.predict, self.fraction, self.log = predict, fraction, log
        random = np.random.default_rng(0).standard_normal((MATRIX_SIZE, MATRIX_SIZE))
        # orthogonal, so repeated products neither grow nor vanish
        self.matrix = np.linalg.qr(random)[0]
        self.products: dict[int, int] = {}

    def __call__(self, words: list[str]) -> Any:
        if len(words) not in self.products:
            self.products[len(words)] = self._calibrate(words)
        result = self.predict(words)
        self._multiply(self.products[len(words)])
        return result

    def _multiply(self, count: int) -> float:
        state = self.matrix
        for _ in range(count):
            state = state @ self.matrix
        return float(state[0, 0])

    def _calibrate(self, words: list[str]) -> int:
        self.predict(words)  # a first call on a new input may trace or compile
        call = statistics.median(_timed(self.predict, words) for _ in range(CALIBRATION_CALLS))
        block = statistics.median(_timed(self._multiply, PRODUCT_BLOCK)
                                  for _ in range(PRODUCT_SAMPLES))  # fmt: skip
        product = block / PRODUCT_BLOCK
        count = round(self.fraction * call / product) if product > 0 else 0
        self._record({"words": len(words), "call_s": call, "product_s": product,
                      "products": count, "fraction": self.fraction,
                      "realised": count * product / call if call > 0 else 0.0})  # fmt: skip
        return count

    def _record(self, entry: dict) -> None:
        if self.log:
            with open(self.log, "a") as log:
                log.write(json.dumps({"pid": os.getpid(), **entry}) + "\n")


def _timed(function: Callable[[Any], Any], argument: Any) -> float:
    start = time.perf_counter()
    function(argument)
    return time.perf_counter() - start


def make_model(mode: str | None = None, batch_size: int | None = None,
               bucket: bool | None = None) -> ExtraCompute:  # fmt: skip
    """The lab's g2p workload with the options a config sets, plus the calibrated extra work."""
    from tfopt.workloads.text_to_phonemes import G2pWorkload

    options = {"mode": mode, "batch_size": batch_size, "bucket": bucket}
    built = G2pWorkload().build(options)
    return ExtraCompute(built.predict, extra_fraction(), os.environ.get(LOG_ENV))


def make_inputs(size: int, seed: int) -> list[str]:
    """The same texts the g2p workload times: ``size`` CMUdict words."""
    import g2p

    return g2p.sample_words(size, seed)
