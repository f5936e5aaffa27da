"""Tune g2p's TensorFlow thread pools with the tuner's for-loop API (one forked child per
attempt).

    python examples/tune_g2p_threading.py [--budget 25] [--words 512]

TensorFlow is imported once, here in the parent, and never started; every attempt runs the loop
body in a child forked from this point, which sets the pools, builds the model and measures it.
The last number each body prints is its objective (seconds); the rest of its output is shown as
each trial ends, progress goes to stderr, and the parent prints the best attempt.
"""

import argparse
import statistics
import time

import g2p
import tensorflow  # noqa: F401 - imported before the loop, so each forked attempt skips it
from tuner import nelder_mead
from tuner.tf import set_threading

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--budget", type=int, default=25, help="attempts (distinct thread counts)")
parser.add_argument("--words", type=int, default=512, help="words converted per measurement")
args = parser.parse_args()
words = g2p.sample_words(args.words, seed=0)

search = nelder_mead(
    vertex=[2, 2], bounds=[(1, 16), (1, 16)], names=["inter", "intra"], budget=args.budget
)
for attempt in search:
    set_threading(attempt)  # [inter_op, intra_op], before the model creates any tensor
    model = g2p.Model(mode="graph", batch_size=64)
    model.predict(words[:64])  # warm-up: traces the graph
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        model.predict(words)
        seconds.append(time.perf_counter() - start)
    print(attempt)
    print(statistics.median(seconds))  # the objective: median seconds per pass
