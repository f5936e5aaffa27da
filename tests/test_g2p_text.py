"""The text pipeline g2p.G2p / g2p.g2p against g2p_en's own `G2p.__call__`.

g2p_en tags words with NLTK's perceptron tagger, whose data cannot be had offline; both sides
get the same tagger here (a real function, the injection point G2p offers), so the comparison
covers everything else: number spelling, accents, tokenizing, CMUdict, homographs, OOV words.
"""

import pytest

import g2p
from g2p.reference import shipped_g2p_en, shipped_module

pytestmark = pytest.mark.tf_runtime

TEXTS = [
    "I have $250 in my pocket.",
    "popular pets, e.g. cats and dogs",
    "I refuse to collect the refuse around here.",
    "I'm an activationist.",
    "The 3rd café in 1999 sold £12 crêpes for 4.5 hours, i.e. 1,000,000 of them!",
    "Don't read the record; lead the lead minute -- 2007's project.",
    "Zyxqwv and blorptastic tfopt?",
    "",
    "... !!",
]


def tag_all(tag):
    return lambda words: [(word, tag) for word in words]


@pytest.fixture(scope="module")
def shipped():
    return shipped_g2p_en()


@pytest.mark.parametrize("tag", ["NN", "VB"])
@pytest.mark.parametrize("text", TEXTS)
def test_pipeline_matches_g2p_en(text, tag, shipped, monkeypatch):
    monkeypatch.setattr(shipped_module(), "pos_tag", tag_all(tag))
    assert g2p.G2p(tagger=tag_all(tag))(text) == shipped(text)


def test_homographs_follow_the_tag_and_default_to_g2p_ens_fallback():
    verb, noun = g2p.G2p(tagger=tag_all("VB")), g2p.G2p(tagger=tag_all("NN"))
    assert verb("refuse") == ["R", "IH0", "F", "Y", "UW1", "Z"]
    assert noun("refuse") == ["R", "EH1", "F", "Y", "UW2", "Z"]
    assert g2p.G2p()("refuse") == noun("refuse")  # no tagger: the not-a-verb pronunciation


def test_out_of_vocabulary_words_come_from_the_model():
    assert g2p.g2p("I'm an activationist.") == [
        "AY1", "M", " ", "AE1", "N", " ",
        "AE2", "K", "T", "IH0", "V", "EY1", "SH", "AH0", "N", "IH0", "S", "T", " ", ".",
    ]  # fmt: skip


def test_bad_text_gets_a_clear_error():
    with pytest.raises(TypeError, match="text must be a str"):
        g2p.g2p(None)
    with pytest.raises(TypeError, match="text must be a str"):
        g2p.G2p()(["a", "list"])


def test_unknown_words_longer_than_predicts_limit_are_pronounced_as_g2p_en_does(
    shipped, monkeypatch
):
    """g2p_en has no length limit: it encodes the whole word and stops after 20 phonemes."""
    monkeypatch.setattr(shipped_module(), "pos_tag", tag_all(""))
    text = "a" + "b" * 40 + " and supercalifragilisticexpialidociousness" + "x" * 300
    expected = shipped(text)
    assert g2p.g2p(text) == expected
    assert expected.count(" ") == 2 and len(expected) > 20  # three words, the last cut short
    with pytest.raises(ValueError, match="limited to 32 characters"):
        g2p.predict("a" + "b" * 40)  # the model's own entry point keeps its limit


@pytest.mark.parametrize("text", ["9" * 400, "costs $" + "1" * 37, "the " + "9" * 40 + "th"])
def test_numbers_too_large_to_spell_get_a_clear_error(text):
    """g2p_en raises inflect's NumOutOfRangeError with an empty message on these."""
    digits = sum(char.isdigit() for char in text)
    with pytest.raises(ValueError, match=rf"\({digits} digits\) is too large to spell out"):
        g2p.g2p(text)
    assert g2p.g2p("9" * 36)  # the largest inflect spells
