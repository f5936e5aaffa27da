"""Benchmarks of the tuner itself: ``python -m benchmarks.tuner_bench`` writes JSON into
``results/``.

- `overhead`: the cost of one trial, forked after ``import tensorflow`` against a fresh interpreter;
- `quality`: evaluations and gap to the grid optimum for Nelder-Mead, random and grid search on
  synthetic noisy landscapes and on a recorded real one.
"""
