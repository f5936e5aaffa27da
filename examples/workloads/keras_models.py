"""Real Keras architectures exported as SavedModels, for trying the lab on your kind of model.

Weights are random (``weights=None``: this machine has no network to fetch trained ones); the
architectures, shapes and operations, and so the timings, are the real ones. The classifiers end
in logits, not a softmax: with random weights a softmax saturates to exact 0s and 1s, which would
hide any difference between runtimes from the output check.

    python -m examples.workloads.keras_models mobilenetv2 /tmp/models/mobilenetv2
    python -m examples.workloads.keras_models lstm /tmp/models/lstm

Models: mobilenetv2, resnet50 (images 224x224x3), lstm (token ids of any length, a vocabulary of
10,000: an Embedding and an LSTM), transformer (a block over (None, 128) vectors), tiny (a small
dense network, for tests).
"""

from __future__ import annotations

import sys

VOCABULARY = 10_000
MODELS = ("mobilenetv2", "resnet50", "lstm", "transformer", "tiny")


def build(name: str):
    import keras

    keras.utils.set_random_seed(0)
    if name == "mobilenetv2":
        return keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3),
                                              classifier_activation=None)
    if name == "resnet50":
        return keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3),
                                           classifier_activation=None)
    if name == "lstm":
        tokens = keras.Input((None,), dtype="int32", name="tokens")
        states = keras.layers.LSTM(128)(keras.layers.Embedding(VOCABULARY, 64)(tokens))
        return keras.Model(tokens, keras.layers.Dense(10)(states))
    if name == "transformer":
        return _transformer_block(keras)
    if name == "tiny":
        x = keras.Input((8,), name="x")
        hidden = keras.layers.Dense(16, activation="relu")(x)
        return keras.Model(x, keras.layers.Dense(4)(hidden))
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")


def _transformer_block(keras, width: int = 128, heads: int = 4):
    x = keras.Input((None, width), name="x")
    attended = keras.layers.MultiHeadAttention(heads, width // heads)(x, x)
    x1 = keras.layers.LayerNormalization()(x + attended)
    feed_forward = keras.layers.Dense(width)(keras.layers.Dense(4 * width, activation="relu")(x1))
    return keras.Model(x, keras.layers.LayerNormalization()(x1 + feed_forward))


def export(name: str, path: str) -> str:
    """Build ``name`` and write it as a SavedModel (signature ``serving_default``) to ``path``."""
    build(name).export(path, verbose=False)
    return path


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(export(sys.argv[1], sys.argv[2]))
