"""`python -m g2p.bench`: the g2p benchmark, which lives in the repository's
`benchmarks/g2p_bench/` (`python -m benchmarks.g2p_bench`, `make bench`)."""
