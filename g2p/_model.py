"""`Model`: batched greedy decoding in TensorFlow, in one of several execution modes."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator

import numpy as np

from ._checkpoint import load_weights
from ._inputs import MAX_WORD_LENGTH, chunks, iter_words, predict_in_batches
from ._modes import check_mode

DEFAULT_MODE = "tflite"
"""The fastest mode at every call size measured by `make bench` on one core: a call costs
microseconds where a TensorFlow call costs ~0.1 ms (single words), and its XNNPACK kernels
with the shrinking decoder beat graph and XLA on whole batches too. It is converted (~1 s) on the
first prediction."""


STREAM_CHUNK = 8192
"""Words read from the input at a time: memory stays bounded however long the input is."""


class Model:
    """The g2p_en GRU encoder-decoder on its trained weights.

    TensorFlow is imported and the weights placed on first use, not at construction, so a caller
    can still set TensorFlow's thread pools after building a Model.

    >>> Model(mode="xla", batch_size=64).predict(["aardvark"])
    [['AA1', 'R', 'D', 'V', 'AA2', 'R', 'K']]
    """

    def __init__(self, mode: str = DEFAULT_MODE, batch_size: int = 256, bucket: bool = True):
        check_mode(mode)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool):
            raise TypeError(f"batch_size must be an int, not {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if not isinstance(bucket, bool):
            raise TypeError(f"bucket must be a bool, not {type(bucket).__name__}")
        self.mode, self.batch_size, self.bucket = mode, batch_size, bucket

    def __repr__(self) -> str:
        return f"Model(mode={self.mode!r}, batch_size={self.batch_size}, bucket={self.bucket})"

    def predict(self, words: str | Iterable[str]) -> list[list[str]]:
        """Phonemes of each word, in input order."""
        return list(self.iter_predict(words))

    def iter_predict(
        self, words: str | Iterable[str], *, max_length: int | None = MAX_WORD_LENGTH
    ) -> Iterator[list[str]]:
        """Phonemes of each word, yielded in input order while the input is still being read.

        `max_length=None` lifts the length limit as g2p_en has none: the whole word is encoded
        and the pronunciation stops at the decoder's 20 phonemes, so a longer word's is cut short
        (the text pipeline does this; XLA compiles one more program per 16 extra letters).
        """
        for chunk in chunks(iter_words(words, max_length), STREAM_CHUNK):
            yield from predict_in_batches(chunk, self.batch_size, self.bucket, self.predict_ids)

    def predict_ids(self, ids: np.ndarray) -> np.ndarray:
        """One padded batch as `_inputs.encode` makes it -> phoneme ids [rows, 20]."""
        return self._decode(ids)

    @functools.cached_property
    def _decode(self):
        from . import _tf_decoder

        if self.mode in ("frozen", "optimized"):
            from ._frozen import frozen_decoder

            return frozen_decoder(self.mode, _tf_decoder.Decoder(load_weights()))
        return _tf_decoder.model_in_mode(self.mode)


@functools.cache
def default_model(mode: str) -> Model:
    return Model(mode=mode)


def predict(words: str | Iterable[str], *, mode: str = DEFAULT_MODE) -> list[list[str]]:
    """Phonemes of each word, by the neural model alone (no dictionary lookup), by default in
    the fastest mode (see `DEFAULT_MODE`).

    >>> predict("aardvark")
    [['AA1', 'R', 'D', 'V', 'AA2', 'R', 'K']]
    """
    return default_model(mode).predict(words)  # an unknown mode fails in Model()
