"""``python -m benchmarks.tuner_bench``: the overhead and quality benchmarks, JSON into
``results/``."""

from benchmarks.tuner_bench import overhead, quality

overhead.main([])
quality.main([])
