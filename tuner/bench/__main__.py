"""``python -m tuner.bench``: the overhead and quality benchmarks, JSON into ``results/``."""

from tuner.bench import overhead, quality

overhead.main([])
quality.main([])
