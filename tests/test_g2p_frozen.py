"""The frozen and optimized graph modes: the weights are really folded in, and tokens stay exact
(every mode against g2p_en: tests/test_g2p_model.py and, slow, tests/test_g2p_exhaustive.py)."""

import numpy as np
import pytest

import g2p

pytestmark = pytest.mark.tf_runtime


@pytest.fixture(scope="module")
def graph():
    from g2p import _tf_decoder
    from g2p._checkpoint import load_weights

    return _tf_decoder.compile_graph(_tf_decoder.Decoder(load_weights()))


def test_freezing_folds_every_captured_weight_into_the_graph(graph):
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    assert len(graph.inputs) > 1  # the word ids, then each captured weight tensor
    frozen = convert_variables_to_constants_v2(graph)
    assert len(frozen.inputs) == 1  # the word ids alone


def test_the_optimized_graph_is_rewritten_and_decodes_the_same(graph):
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    import tensorflow as tf
    from g2p import _frozen, _inputs

    frozen = convert_variables_to_constants_v2(graph)
    optimized = _frozen._optimized(frozen)
    nodes = {op.type for op in optimized.graph.get_operations()}
    assert len(optimized.graph.get_operations()) != len(frozen.graph.get_operations())
    assert "Placeholder" in nodes
    ids = tf.constant(_inputs.encode(g2p.sample_words(40, seed=3), 64))
    assert np.array_equal(optimized(ids)[0].numpy(), graph(ids).numpy())


@pytest.mark.parametrize("mode", ["frozen", "optimized"])
def test_the_frozen_modes_stream_words_of_every_length(mode):
    words = ["a", "aardvark", "supercalifragilistic", "x" * 32]
    assert g2p.Model(mode=mode, batch_size=2).predict(words) == g2p.Model(
        mode="graph", batch_size=2).predict(words)  # fmt: skip
