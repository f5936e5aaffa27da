"""The g2p workload plus a known amount of real extra arithmetic: a true, fixed slowdown.

``make_model`` builds the lab's default g2p workload and wraps its call: every call on an input
of ``n`` words runs g2p and then ``products[n]`` small matrix products, the counts read from
``CREDIBILITY_EXTRA_PRODUCTS`` (``1:15;2:17;...``; absent or 0: nothing added). The work is
arithmetic, not a wait: it slows down with the machine just as the model does.

The counts are calibrated once, before any compare, in a process of their own, for every
fraction at once (``python -m benchmarks.extra_compute --fraction 0.10 --fraction 0.05 --mode
xla``): per input length, the median time of several g2p calls and of one product, the two taken
in turns, so that the products add that fraction of the call's time; then a sweep with the
products is timed against one without, in turns, and the fraction it measured is recorded.
(Two fractions calibrated in two processes once got products timed 1.8x apart, and so the same
counts for 5% as for 10%.) Fixed counts make every worker of side b do the same extra
work: a worker calibrating for itself would do so while the other workers of its round build
(tandem rounds start them together), and its count would follow that moment's contention.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

PRODUCTS_ENV = "CREDIBILITY_EXTRA_PRODUCTS"
CALIBRATION_CALLS = 9
MEASURED_PAIRS = 41
PRODUCT_BLOCK = 20
# 56x56x56 stays under OpenBLAS's multithreading threshold (64**3): one core, like the model.
MATRIX_SIZE = 56
SIZES = (1, 2, 6, 7, 10, 15, 20)  # the lab's default input sizes


def parse_products(text: str) -> dict[int, int]:
    """``1:15;2:17`` -> {1: 15, 2: 17}; a clear error naming the variable otherwise."""
    try:
        pairs = [item.split(":") for item in text.split(";") if item.strip()]
        products = {int(words): int(count) for words, count in pairs}
    except ValueError:
        raise ValueError(f"{PRODUCTS_ENV}={text!r}: expected WORDS:COUNT pairs such as "
                         "1:15;2:17") from None  # fmt: skip
    if any(count < 0 for count in products.values()):
        raise ValueError(f"{PRODUCTS_ENV}={text!r}: counts must be >= 0")
    return products


def products_text(products: dict[int, int]) -> str:
    return ";".join(f"{words}:{count}" for words, count in sorted(products.items()))


class ExtraCompute:
    """``predict`` followed by ``products[len(words)]`` matrix products (none for other lengths)."""

    def __init__(self, predict: Callable[[Any], Any], products: dict[int, int]):
        import numpy as np

        self.predict, self.products = predict, products
        random = np.random.default_rng(0).standard_normal((MATRIX_SIZE, MATRIX_SIZE))
        # orthogonal, so repeated products neither grow nor vanish
        self.matrix = np.linalg.qr(random)[0]

    def __call__(self, words: list[str]) -> Any:
        result = self.predict(words)
        self.multiply(self.products.get(len(words), 0))
        return result

    def multiply(self, count: int) -> float:
        state = self.matrix
        for _ in range(count):
            state = state @ self.matrix
        return float(state[0, 0])


def calibrate(predict: Callable[[Any], Any], inputs: dict[int, Any],
              fractions: list[float]) -> dict[str, dict]:  # fmt: skip
    """Per fraction, the products per input length worth that fraction of a call, with the times
    they rest on and the fraction then measured (`measured_sweep`: a sweep's time with the
    products over its time without, less 1; on g2p it scatters by +/-5% between calibrations,
    too much to size the counts from, so it is recorded only). The times are taken once for
    every fraction, so a smaller fraction always gets proportionally fewer products."""
    product, calls = _product_and_calls(predict, inputs)
    found = {}
    for fraction in fractions:
        products = {words: round(fraction * call / product) if product > 0 else 0
                    for words, call in calls.items()}  # fmt: skip
        found[str(fraction)] = {
            "fraction": fraction, "product_s": product, "products": products, "call_s": calls,
            "realised": {words: count * product / calls[words] if calls[words] > 0 else 0.0
                         for words, count in products.items()},
            "measured_sweep": _measured_fraction(predict, inputs, products),
        }  # fmt: skip
    return found


def _product_and_calls(predict: Callable[[Any], Any],
                       inputs: dict[int, Any]) -> tuple[float, dict[int, float]]:  # fmt: skip
    """The median time of one product and of one call per input length, taken in turns (a
    block of products, then a call), so that a slow moment weighs on both alike."""
    wrapped = ExtraCompute(predict, {})
    for value in inputs.values():
        predict(value)  # a first call on a new input may trace or compile
    blocks: list[float] = []
    calls: dict[int, list[float]] = {words: [] for words in inputs}
    for _ in range(CALIBRATION_CALLS):
        for words, value in inputs.items():
            blocks.append(_timed(wrapped.multiply, PRODUCT_BLOCK))
            calls[words].append(_timed(predict, value))
    product = statistics.median(blocks) / PRODUCT_BLOCK
    return product, {words: statistics.median(times) for words, times in calls.items()}


def _measured_fraction(predict: Callable[[Any], Any], inputs: dict[int, Any],
                       products: dict[int, int]) -> float:  # fmt: skip
    """A sweep (one call per input length) with the products over the sweep without them just
    before, the median of `MEASURED_PAIRS` such ratios, less 1: the extra work as it turned out."""
    wrapped = ExtraCompute(predict, products)
    ratios = []
    for _ in range(MEASURED_PAIRS):
        plain = sum(_timed(predict, value) for value in inputs.values())
        extra = sum(_timed(wrapped, value) for value in inputs.values())
        ratios.append(extra / plain)
    return statistics.median(ratios) - 1.0


def _timed(function: Callable[[Any], Any], argument: Any) -> float:
    start = time.perf_counter()
    function(argument)
    return time.perf_counter() - start


def make_model(mode: str | None = None, batch_size: int | None = None,
               bucket: bool | None = None) -> ExtraCompute:  # fmt: skip
    """The lab's g2p workload with the options a config sets, plus the fixed extra work."""
    import os

    return ExtraCompute(_g2p(mode, batch_size, bucket),
                        parse_products(os.environ.get(PRODUCTS_ENV, "")))  # fmt: skip


def make_inputs(size: int, seed: int) -> list[str]:
    """The same texts the g2p workload times: ``size`` CMUdict words."""
    import g2p

    return g2p.sample_words(size, seed)


def _g2p(mode: str | None, batch_size: int | None = None, bucket: bool | None = None):
    from tfopt.workloads.text_to_phonemes import G2pWorkload

    options = {"mode": mode, "batch_size": batch_size, "bucket": bucket}
    return G2pWorkload().build(options).predict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.extra_compute",
                                     description="calibrate the extra products once")  # fmt: skip
    parser.add_argument("--fraction", type=float, action="append", required=True,
                        help="extra work as a fraction of a call; repeat for several")  # fmt: skip
    parser.add_argument("--mode", default="xla")
    args = parser.parse_args(argv)
    for fraction in args.fraction:
        if not 0 <= fraction < 1:
            parser.error(f"--fraction {fraction} must lie in [0, 1)")
    inputs = {words: make_inputs(words, 0) for words in SIZES}
    print(json.dumps(calibrate(_g2p(args.mode), inputs, args.fraction)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
