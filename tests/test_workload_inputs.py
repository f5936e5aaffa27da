"""--input specs against a signature, and the data they make: plain Python, no TensorFlow."""

import numpy as np
import pytest

from tfopt.workloads import inputs

LSTM = {"tokens": {"shape": [None, None], "dtype": "int32"}}
IMAGES = {"x": {"shape": [None, 224, 224, 3], "dtype": "float32"}}
WHERE = "signature 'serving_default' of /m"


def test_specs_parse_shape_dtype_range_and_files(tmp_path):
    assert inputs.parse("tokens:-1x64:int32:0..9999") == inputs.InputSpec(
        "tokens", (-1, 64), "int32", 0, 9999)  # fmt: skip
    assert inputs.parse("x:1x224x224x3") == inputs.InputSpec("x", (1, 224, 224, 3))
    np.save(tmp_path / "rows.npy", np.zeros((5, 8), np.float32))
    assert inputs.parse(f"x:{tmp_path}/rows.npy").npy == f"{tmp_path}/rows.npy"


@pytest.mark.parametrize(("text", "message"), [
    ("tokens", "expected NAME:SHAPE"),
    ("tokens:-1x-1", "at most one -1"),
    ("tokens:64xq", "is not like -1x64"),
    ("tokens:-1x64:int33", "neither a dtype"),
    ("tokens:-1x64:int32:9..1", "is empty"),
    ("x:/nowhere/data.npy", "does not exist"),
])  # fmt: skip
def test_bad_specs_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        inputs.parse(text)


def test_an_unknown_non_batch_dimension_is_refused_naming_input_and_signature():
    with pytest.raises(ValueError) as refused:
        inputs.resolve(LSTM, [], WHERE)
    message = str(refused.value)
    assert "input 'tokens'" in message and WHERE in message and "(None, None)" in message
    assert "--input tokens:-1x64:int32" in message  # says what to write


def test_a_leading_unknown_dimension_is_the_batch_and_the_rest_is_taken_as_declared():
    (feed,) = inputs.resolve(IMAGES, [], WHERE)
    assert feed.shape == (-1, 224, 224, 3) and feed.dtype == "float32" and feed.batched
    assert feed.describe()["shape"] == "Nx224x224x3"


def test_given_shapes_fill_unknown_dimensions_and_must_agree_with_declared_ones():
    (feed,) = inputs.resolve(LSTM, [inputs.parse("tokens:-1x64:int32:0..999")], WHERE)
    assert feed.shape == (-1, 64) and (feed.low, feed.high) == (0, 999)
    assert feed.source() == "uniform integers in [0, 999]"
    with pytest.raises(ValueError, match="fixes it at 224"):
        inputs.resolve(IMAGES, [inputs.parse("x:-1x200x224x3")], WHERE)
    with pytest.raises(ValueError, match="declares int32"):
        inputs.resolve(LSTM, [inputs.parse("tokens:-1x64:int64")], WHERE)
    with pytest.raises(ValueError, match="has no such input; its inputs: tokens"):
        inputs.resolve(LSTM, [inputs.parse("words:-1x64")], WHERE)
    with pytest.raises(ValueError, match="range applies to integer inputs"):
        inputs.resolve(IMAGES, [inputs.parse("x:-1x224x224x3:0..9")], WHERE)


def test_a_fixed_batch_is_its_only_size():
    feeds = inputs.resolve(IMAGES, [inputs.parse("x:1x224x224x3")], WHERE)
    assert inputs.batch_size_of(feeds) == 1
    assert inputs.batch_size_of(inputs.resolve(IMAGES, [], WHERE)) is None


def test_arrays_follow_the_feed_and_the_seed():
    (feed,) = inputs.resolve(LSTM, [inputs.parse("tokens:-1x64:int32:3..5")], WHERE)
    first, again = inputs.make_array(feed, 4, seed=1), inputs.make_array(feed, 4, seed=1)
    assert first.shape == (4, 64) and first.dtype == np.int32
    assert np.array_equal(first, again) and set(np.unique(first)) <= {3, 4, 5}
    assert not np.array_equal(first, inputs.make_array(feed, 4, seed=2))


def test_npy_rows_are_taken_in_order_and_cycled(tmp_path):
    path = tmp_path / "rows.npy"
    np.save(path, np.arange(12, dtype=np.float32).reshape(3, 4))
    signature = {"x": {"shape": [None, 4], "dtype": "float32"}}
    (feed,) = inputs.resolve(signature, [inputs.parse(f"x:{path}")], WHERE,
                             lambda p: np.load(p).shape)  # fmt: skip
    assert feed.shape == (-1, 4) and feed.source() == f"rows of {path}"
    rows = inputs.make_array(feed, 5, seed=0)
    assert rows[:, 0].tolist() == [0, 4, 8, 0, 4]
    with pytest.raises(ValueError, match="dimension 1 is 4"):
        inputs.resolve({"x": {"shape": [None, 5], "dtype": "float32"}},
                       [inputs.parse(f"x:{path}")], WHERE, lambda p: np.load(p).shape)  # fmt: skip
