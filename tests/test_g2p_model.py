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
    ],
)
def test_bad_words_get_a_clear_error(words, error, message):
    with pytest.raises(error, match=message):
        g2p.predict(words)


def test_words_of_up_to_32_characters_are_accepted():
    longest = "pneumonoultramicroscopicsilicovo"
    assert len(longest) == _inputs.MAX_WORD_LENGTH == 32
    assert g2p.predict(longest) == [shipped_g2p_en().predict(longest)]
    with pytest.raises(ValueError, match="limited to 32 characters"):
        g2p.predict(longest + "l")


def test_the_default_is_the_tflite_mode():
    """TFLite is the fastest mode at every call size (`make bench`)."""
    from g2p._tflite import TFLiteDecoder

    assert g2p.Model().mode == g2p.DEFAULT_MODE == "tflite"
    assert g2p.predict("aardvark") == [["AA1", "R", "D", "V", "AA2", "R", "K"]]
    assert isinstance(g2p._model.default_model(g2p.DEFAULT_MODE)._decode, TFLiteDecoder)


@pytest.mark.parametrize("mode", g2p.MODES)
def test_without_the_length_limit_long_words_match_g2p_en(mode):
    """The text pipeline's path: g2p_en encodes a word of any length (20 phonemes at most)."""
    words = ["cat", "a" + "b" * 40, "supercalifragilisticexpialidociousness", "q" * 70]
    got = list(g2p.Model(mode=mode).iter_predict(words, max_length=None))
    assert got == [shipped_g2p_en().predict(word) for word in words]


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


@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
def test_graph_modes_trace_once_for_every_length_and_batch_size(mode):
    """Eager runs the decoder's Python on every call (which shows the count works); the graph
    modes trace it once, however many lengths, batch sizes and compiled shapes follow."""
    from g2p import _tf_decoder

    words = [("abcdefghijklmnopqrstuvwxyz" * 2)[:length] for length in range(1, 33)]
    decoder = _tf_decoder.Decoder(_checkpoint.load_weights(), shrink=mode != "xla")
    predict = _tf_decoder.in_mode(mode, decoder)
    by_size = {size: _inputs.predict_in_batches(words, size, True, predict) for size in (1, 3, 32)}
    calls = sum(len(_inputs.plan_batches(words, size, True)) for size in by_size)
    assert decoder.trace_count == (calls if mode == "eager" else 1)
    assert by_size[1] == by_size[3] == by_size[32]


def _run_in_tflite(graph, ids: np.ndarray) -> list[np.ndarray]:
    """A graph's outputs, run by the TFLite interpreter as `g2p._tflite` converts it."""
    import tensorflow as tf
    from g2p import _tflite

    interpreter = tf.lite.Interpreter(model_content=_tflite.flatbuffer(graph))
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], ids.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], ids)
    interpreter.invoke()
    outputs = sorted(interpreter.get_output_details(), key=lambda detail: detail["name"])
    return [interpreter.get_tensor(detail["index"]) for detail in outputs]


@pytest.mark.parametrize(
    ("mode", "shrink"), [("eager", True), ("graph", True), ("tflite", True), ("xla", False)]
)
def test_encoder_and_decoder_stop_early_without_changing_a_token(mode, shrink):
    """The encoder runs the longest word's steps (not the padded width), the decoder stops once
    every row has emitted `</s>`, far short of its 20 steps; where it shrinks (every mode but XLA,
    whose shapes are static) it computes each word's row only until that word's `</s>`."""
    import tensorflow as tf
    from g2p import _tf_decoder

    words = ["a", "at", "cat", "a"]
    expected = [shipped_g2p_en().predict(word) for word in words]
    decoder = _tf_decoder.Decoder(_checkpoint.load_weights(), shrink=shrink)
    ids = _inputs.encode(words, 32)  # four padding rows (eight in all), 4 time steps
    wide = np.pad(ids, [(0, 0), (0, _inputs.MAX_WORD_LENGTH + 1 - ids.shape[1])])
    run = decoder.decode_counting_steps
    if mode == "tflite":
        outputs = _run_in_tflite(_tf_decoder.compile_graph(run), wide)
    else:
        if mode != "eager":
            run = _tf_decoder.compile_graph(run, jit_compile=mode == "xla")
        outputs = [t.numpy() for t in run(tf.constant(wide))]
    phonemes, encoder_steps, decoder_steps, decoder_rows = outputs
    assert [_inputs.to_phonemes(row) for row in phonemes[: len(words)]] == expected
    assert np.array_equal(phonemes, _tf_decoder.in_mode(mode, decoder)(ids))
    assert encoder_steps == len("cat") + 1
    assert decoder_steps == max(len(p) for p in expected) + 1  # "cat": K AE1 T, then </s>
    assert decoder_steps < _checkpoint.MAX_DECODE_STEPS / 4
    useful = sum(len(p) + 1 for p in expected)  # each word's phonemes and its </s>
    assert decoder_rows == (useful if shrink else decoder_steps * len(ids))


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
