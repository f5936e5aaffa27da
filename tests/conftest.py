"""Shared fixtures. Tests run from the repo root against the project's .venv."""

import os

# Keep TensorFlow's C++ log noise out of test output; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
