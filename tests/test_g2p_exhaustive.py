"""Every alphabetic CMUdict word (about 117,000) and 2,000 random made-up words, every mode,
against g2p_en's own decoder. Eager mode runs the Python code that graph mode traces into one
`tf.function`, op by op and far slower: it checks every fourth CMUdict word (and every made-up
one), graph mode all of them."""

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import multiprocessing
import random
import string
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

import g2p
from g2p._inputs import MAX_WORD_LENGTH
from g2p._sample import alphabetic_cmudict_words
from tfopt import cache
from tfopt.export.atomic import replace_text

pytestmark = pytest.mark.tf_runtime
EAGER_STEP = 4  # eager mode checks words[::4]


def shipped_predictions(words: list[str]) -> list[list[str]]:
    from g2p.reference import shipped_g2p_en

    reference = shipped_g2p_en()
    return [reference.predict(word) for word in words]


def random_words(count: int, seed: int) -> list[str]:
    """Random a-z strings of 1 to 32 letters (the first eight of exactly 32), reproducibly."""
    rng = random.Random(seed)
    longest = [MAX_WORD_LENGTH] * 8
    lengths = longest + [rng.randint(1, MAX_WORD_LENGTH) for _ in range(count - len(longest))]
    return ["".join(rng.choices(string.ascii_lowercase, k=length)) for length in lengths]


def assert_all_match(words: list[str], got: list[list[str]], expected: list[list[str]]) -> None:
    wrong = [(w, a, b) for w, a, b in zip(words, got, expected, strict=True) if a != b]
    assert wrong == [], f"{len(wrong)} words differ, e.g. {wrong[:5]}"


@pytest.fixture(scope="module")
def words() -> list[str]:
    return list(alphabetic_cmudict_words())


def reference_file(words: list[str]) -> Path:
    """Where g2p_en's predictions for ``words`` are kept, named by all they depend on: g2p_en's
    decoder code and weights, NumPy's version and the words."""
    # Found, not imported: importing g2p_en tries to download NLTK data (see g2p/reference.py).
    package = Path(importlib.util.find_spec("g2p_en").origin).parent
    digest = hashlib.sha256(importlib.metadata.version("numpy").encode())
    for name in ("g2p.py", "checkpoint20.npz"):
        digest.update((package / name).read_bytes())
    digest.update("\n".join(words).encode())
    return cache.folder("g2p-reference") / f"{digest.hexdigest()[:16]}.json"


@pytest.fixture(scope="module")
def expected(words):
    """g2p_en's per-word decoder is slow (~1,200 words/s): it runs in two fresh processes while
    the TensorFlow modes run here, and each test waits for it only when comparing. Its
    predictions are kept by content hash: a rerun with the same g2p_en and words reads them."""
    kept = reference_file(words)
    if kept.exists():
        yield functools.cache(lambda: json.loads(kept.read_text()))
        return
    halves = [words[: len(words) // 2], words[len(words) // 2 :]]
    context = multiprocessing.get_context("spawn")  # never fork a process that may hold TF
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        futures = [pool.submit(shipped_predictions, half) for half in halves]

        @functools.cache
        def predictions() -> list[list[str]]:
            found = [pron for future in futures for pron in future.result()]
            replace_text(kept, json.dumps(found))
            return found

        yield predictions


@pytest.fixture(scope="module")
def made_up() -> tuple[list[str], list[list[str]]]:
    made_up_words = random_words(2000, seed=0)
    return made_up_words, shipped_predictions(made_up_words)


@pytest.mark.slow
@pytest.mark.parametrize("mode", g2p.MODES)
def test_the_cmudict_words_match_g2p_en_in_every_mode(mode, words, expected):
    assert len(words) > 100_000
    step = EAGER_STEP if mode == "eager" else 1
    chosen, wanted = words[::step], expected()[::step]
    assert_all_match(chosen, g2p.Model(mode=mode, batch_size=256).predict(chosen), wanted)


@pytest.mark.slow
@pytest.mark.parametrize("mode", g2p.MODES)
def test_random_made_up_words_match_g2p_en_in_every_mode(mode, made_up):
    made_up_words, made_up_expected = made_up
    assert len(made_up_words) == 2000
    assert {len(word) for word in made_up_words} == set(range(1, MAX_WORD_LENGTH + 1))
    got = g2p.Model(mode=mode, batch_size=256).predict(made_up_words)
    assert_all_match(made_up_words, got, made_up_expected)
