"""Every alphabetic CMUdict word (about 117,000), every mode, against g2p_en's own decoder."""

import functools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest

import g2p
from g2p._sample import alphabetic_cmudict_words

pytestmark = pytest.mark.tf_runtime


def shipped_predictions(words: list[str]) -> list[list[str]]:
    from g2p.reference import shipped_g2p_en

    reference = shipped_g2p_en()
    return [reference.predict(word) for word in words]


@pytest.fixture(scope="module")
def words() -> list[str]:
    return list(alphabetic_cmudict_words())


@pytest.fixture(scope="module")
def expected(words):
    """g2p_en's per-word decoder is slow (~1,200 words/s): it runs in two fresh processes while
    the TensorFlow modes run here, and each test waits for it only when comparing."""
    halves = [words[: len(words) // 2], words[len(words) // 2 :]]
    context = multiprocessing.get_context("spawn")  # never fork a process that may hold TF
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        futures = [pool.submit(shipped_predictions, half) for half in halves]
        yield functools.cache(lambda: [pron for f in futures for pron in f.result()])


@pytest.mark.slow
@pytest.mark.parametrize("mode", g2p.MODES)
def test_all_cmudict_words_match_g2p_en_in_every_mode(mode, words, expected):
    got = g2p.Model(mode=mode, batch_size=256).predict(words)
    wrong = [(w, a, b) for w, a, b in zip(words, got, expected(), strict=True) if a != b]
    assert len(words) > 100_000
    assert wrong == [], f"{len(wrong)} words differ, e.g. {wrong[:5]}"
