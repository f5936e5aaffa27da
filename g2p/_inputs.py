"""Checking, encoding and batching words for the batched predictors (TensorFlow and its peers).

Every character outside a-z maps to `<unk>`, exactly as g2p_en's `G2p.encode` does; the text
pipeline (`g2p.G2p`) lowercases and strips text before it gets here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from ._checkpoint import END_OF_WORD, GRAPHEMES, MAX_DECODE_STEPS, PHONEMES, STOP, UNK

MAX_WORD_LENGTH = 32
"""Longest word accepted. The decoder emits at most 20 phonemes, so longer words cannot be
pronounced in full; CMUdict's longest alphabetic entry has 28 letters."""

# Encoder steps (letters + `</s>`) are padded up to one of these, so compiled graphs see few shapes.
STEP_BUCKETS = (4, 6, 8, 10, 12, 14, 16, 20, 24, 28, MAX_WORD_LENGTH + 1)
LONG_STEP_MULTIPLE = 16
"""Longer words (only the text pipeline passes them) are padded to a multiple of this."""

_GRAPHEME_IDS = {g: i for i, g in enumerate(GRAPHEMES)}


def check_word(word: object, index: int, max_length: int | None = MAX_WORD_LENGTH) -> str:
    if not isinstance(word, str):
        raise TypeError(f"words[{index}] is a {type(word).__name__}, expected str")
    if not word:
        raise ValueError(f"words[{index}] is an empty string")
    if max_length is not None and len(word) > max_length:
        raise ValueError(
            f"words[{index}] has {len(word)} characters; the model decodes at most "
            f"{MAX_DECODE_STEPS} phonemes, so words are limited to {MAX_WORD_LENGTH} characters"
        )
    return word


def iter_words(
    words: str | Iterable[str], max_length: int | None = MAX_WORD_LENGTH
) -> Iterator[str]:
    """The checked words of a str or an iterable of str, read lazily."""
    if isinstance(words, str):
        words = [words]
    elif words is None or not isinstance(words, Iterable):
        raise TypeError(f"words must be a str or an iterable of str, not {type(words).__name__}")
    return (check_word(word, index, max_length) for index, word in enumerate(words))


def chunks(words: Iterable[str], size: int) -> Iterator[list[str]]:
    """Consecutive lists of at most `size` words: a huge input is read piece by piece."""
    iterator = iter(words)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def plan_batches(words: list[str], batch_size: int, bucket: bool) -> list[list[int]]:
    """Index lists of at most `batch_size` words, grouped by length when `bucket`."""
    order = sorted(range(len(words)), key=lambda i: len(words[i])) if bucket else range(len(words))
    return [list(order[start : start + batch_size]) for start in range(0, len(words), batch_size)]


def padded_steps(steps: int) -> int:
    if steps > STEP_BUCKETS[-1]:
        return -(-steps // LONG_STEP_MULTIPLE) * LONG_STEP_MULTIPLE
    return next(bucket for bucket in STEP_BUCKETS if bucket >= steps)


def padded_rows(rows: int, batch_size: int) -> int:
    """The next power of two (at most `batch_size`): a few batch shapes, little padding."""
    return min(1 << (rows - 1).bit_length(), max(batch_size, rows))


def encode(words: list[str], batch_size: int) -> np.ndarray:
    """Grapheme ids [rows, time]: each word then `</s>`, zero-padded; padding rows are all zero."""
    width = padded_steps(max(len(w) for w in words) + 1)
    ids = [_graphemes(word, width) for word in words]
    ids += [[0] * width] * (padded_rows(len(words), batch_size) - len(words))
    return np.array(ids, np.int32)


def _graphemes(word: str, width: int) -> list[int]:
    ids = [_GRAPHEME_IDS.get(char, UNK) for char in word]
    return [*ids, END_OF_WORD] + [0] * (width - len(ids) - 1)


def to_phonemes(row: np.ndarray) -> list[str]:
    """Phoneme ids up to the first `</s>`, as symbols."""
    ids = row.tolist()
    return [PHONEMES[i] for i in ids[: ids.index(STOP) if STOP in ids else len(ids)]]


def predict_in_batches(
    words: list[str], batch_size: int, bucket: bool, decode: Callable[[np.ndarray], np.ndarray]
) -> list[list[str]]:
    """Phonemes of `words` in input order, `decode` mapping each `encode`d batch to phoneme ids."""
    phonemes: dict[int, list[str]] = {}
    for batch in plan_batches(words, batch_size, bucket):
        out = decode(encode([words[i] for i in batch], batch_size))
        # `out` ends with the padding rows `encode` added: zip stops at the batch's last word.
        phonemes.update(zip(batch, map(to_phonemes, out), strict=False))
    return [phonemes[index] for index in range(len(words))]
