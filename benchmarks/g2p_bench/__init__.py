"""The g2p benchmark: g2p_en's NumPy decoder, a batched NumPy peer, ONNX Runtime and each
TensorFlow mode, side by side on one pinned core, into JSON and a PNG
(`python -m benchmarks.g2p_bench`, `make bench`)."""
