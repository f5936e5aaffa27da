"""g2p.Model / g2p.predict: real TensorFlow on g2p_en's trained weights, checked token for token
against g2p_en's own per-word NumPy decoder (its shipped code, see g2p.reference)."""

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import g2p
from g2p import _checkpoint, _inputs
from g2p._sample import alphabetic_cmudict_words
from g2p.reference import shipped_g2p_en

pytestmark = pytest.mark.tf_runtime

ROOT = Path(__file__).resolve().parents[1]
MADE_UP = ["activationist", "tfopt", "zyxqwv", "qqqq", "blorptastic", "x", "pneumonoultra"]
ODD_CHARACTERS = ["o'brien", "Hello", "naïve", "well-known", "a b", "42"]  # all map to <unk>


@pytest.fixture(scope="module")
def words() -> list[str]:
    """A representative subset: random CMUdict words, every length, made-up and odd words."""
    by_length = {len(w): w for w in alphabetic_cmudict_words()}
    return g2p.sample_words(400, seed=7) + sorted(by_length.values()) + MADE_UP + ODD_CHARACTERS


@pytest.fixture(scope="module")
def expected(words) -> list[list[str]]:
    reference = shipped_g2p_en()
    return [reference.predict(word) for word in words]


def test_aardvark_is_the_models_own_prediction():
    assert g2p.predict("aardvark") == [["AA1", "R", "D", "V", "AA2", "R", "K"]]
    assert shipped_g2p_en().predict("aardvark") == ["AA1", "R", "D", "V", "AA2", "R", "K"]


@pytest.mark.parametrize("mode", g2p.MODES)
def test_every_mode_matches_g2p_en_token_for_token(mode, words, expected):
    assert g2p.Model(mode=mode, batch_size=64).predict(words) == expected


@pytest.mark.parametrize(("batch_size", "bucket"), [(1, True), (7, False), (256, False)])
def test_batch_size_and_bucketing_do_not_change_the_result(batch_size, bucket, words, expected):
    subset = words[::5]
    assert g2p.Model(batch_size=batch_size, bucket=bucket).predict(subset) == expected[::5]


def test_results_come_back_in_input_order_for_any_iterable():
    words = ("cat", "antidisestablishmentarianism", "dog")
    got = g2p.predict(iter(words))
    assert got == [g2p.predict(w)[0] for w in words]
    assert g2p.predict([]) == []


def test_huge_inputs_are_read_in_bounded_chunks(monkeypatch):
    monkeypatch.setattr(g2p._model, "STREAM_CHUNK", 50)
    read = 0

    def endless():
        nonlocal read
        while True:
            read += 1
            yield "cat"

    first = next(g2p.Model().iter_predict(endless()))
    assert first == ["K", "AE1", "T"]
    assert read <= 51  # one chunk (plus the look-ahead that ends it), not the whole stream


@pytest.mark.parametrize(
    ("words", "error", "message"),
    [
        (None, TypeError, "str or an iterable of str"),
        (42, TypeError, "not int"),
        (["cat", 3], TypeError, r"words\[1\] is a int"),
        ([b"cat"], TypeError, "bytes"),
        ("", ValueError, "empty"),
        (["cat", ""], ValueError, r"words\[1\] is an empty string"),
        ("a" * 33, ValueError, "limited to 32 characters"),
    ],
)
def test_bad_words_get_a_clear_error(words, error, message):
    with pytest.raises(error, match=message):
        g2p.predict(words)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"mode": "fast"}, ValueError, "mode must be one of eager, graph, xla, tflite"),
        ({"batch_size": 0}, ValueError, "at least 1"),
        ({"batch_size": "8"}, TypeError, "batch_size must be an int"),
        ({"batch_size": True}, TypeError, "batch_size must be an int"),
        ({"bucket": "yes"}, TypeError, "bucket must be a bool"),
    ],
)
def test_bad_model_settings_get_a_clear_error(kwargs, error, message):
    with pytest.raises(error, match=message):
        g2p.Model(**kwargs)
    with pytest.raises(ValueError, match="mode must be"):
        g2p.predict("cat", mode="turbo")


def test_compiled_shapes_stay_few_whatever_the_lengths():
    """Padding to a few shapes is what keeps XLA from compiling per word length."""
    shapes = {
        _inputs.encode(["a" * length] * rows, 256).shape
        for length in range(1, _inputs.MAX_WORD_LENGTH + 1)
        for rows in range(1, 257)
    }
    assert len(shapes) == len(_inputs.STEP_BUCKETS) * 9  # 9 row counts: 1, 2, 4, ..., 256
    assert all(rows & (rows - 1) == 0 for rows, _ in shapes)


def test_importing_and_building_leave_tensorflow_thread_pools_to_the_caller():
    script = (
        "import sys, g2p\n"
        "model = g2p.Model(mode='xla')\n"
        "assert 'tensorflow' not in sys.modules\n"
        "import tensorflow as tf\n"
        "tf.config.threading.set_inter_op_parallelism_threads(1)\n"
        "tf.config.threading.set_intra_op_parallelism_threads(1)\n"
        "print(model.predict('aardvark'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "['AA1', 'R', 'D', 'V', 'AA2', 'R', 'K']" in out.stdout


def test_a_tampered_checkpoint_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "checkpoint20.npz"
    data = bytearray(_checkpoint.checkpoint_path().read_bytes())
    assert hashlib.sha256(data).hexdigest() == _checkpoint.CHECKPOINT_SHA256
    data[-100] ^= 1
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(_checkpoint, "checkpoint_path", lambda: copy)
    with pytest.raises(ValueError, match="SHA-256"):
        _checkpoint.load_weights.__wrapped__()


def test_weights_have_the_documented_shapes():
    weights = _checkpoint.load_weights()
    assert weights["enc_emb"].shape == (len(_checkpoint.GRAPHEMES), 256)
    assert weights["dec_emb"].shape == (len(_checkpoint.PHONEMES), 256)
    assert weights["enc_w_hh"].shape == weights["dec_w_ih"].shape == (768, 256)
    assert all(array.dtype == np.float32 for array in weights.values())


def test_sample_words_is_reproducible_and_realistic():
    sample = g2p.sample_words(500, seed=3)
    assert sample == g2p.sample_words(500, seed=3)
    assert sample != g2p.sample_words(500, seed=4)
    assert set(sample) <= set(alphabetic_cmudict_words())
    assert 6 <= np.mean([len(w) for w in sample]) <= 9  # CMUdict's own mean is about 7.6
    assert len(g2p.sample_words(200_000)) == 200_000
    with pytest.raises(ValueError, match=">= 0"):
        g2p.sample_words(-1)
    with pytest.raises(TypeError, match="int"):
        g2p.sample_words(2.5)
