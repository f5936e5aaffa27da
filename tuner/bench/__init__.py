"""`python -m tuner.bench`: the tuner's benchmarks, which live in the repository's
`benchmarks/tuner_bench/` (`python -m benchmarks.tuner_bench`)."""
