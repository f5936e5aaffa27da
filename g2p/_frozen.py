"""The graph mode frozen (and optimized) the TensorFlow 2 way, as the original experiment did in
1.x.

- ``frozen``: the traced graph function with everything it captures (the weights) folded into
  the graph as constants by ``convert_variables_to_constants_v2``, so a call feeds one input
  instead of the input plus every captured weight tensor;
- ``optimized``: the frozen graph rewritten once, ahead of time, by grappler (constant folding,
  arithmetic and layout rewrites, loop and function optimizations), the TF 2.x successor of
  1.x's ``optimize_for_inference``; TensorFlow still runs its runtime grappler pass on top.

Both run the same ops on the same float32 weights: token-exact like every other mode.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from tensorflow.core.protobuf import config_pb2, meta_graph_pb2
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
from tensorflow.python.grappler import tf_optimizer

import tensorflow as tf

from ._tf_decoder import Decoder, compile_graph

GRAPPLER_PASSES = ("constfold", "arithmetic", "dependency", "function", "loop", "layout",
                   "remap", "shape", "common_subgraph_elimination")  # fmt: skip


def frozen_decoder(mode: str, decode: Decoder) -> Callable[[np.ndarray], np.ndarray]:
    """``decode`` traced as in graph mode, frozen, and for ``optimized`` grappler-rewritten."""
    frozen = convert_variables_to_constants_v2(compile_graph(decode))
    if mode == "optimized":
        frozen = _optimized(frozen)
    return lambda ids: frozen(tf.constant(ids))[0].numpy()


def _optimized(frozen: tf.types.experimental.ConcreteFunction
               ) -> tf.types.experimental.ConcreteFunction:  # fmt: skip
    inputs = [tensor.name for tensor in frozen.inputs]
    outputs = [tensor.name for tensor in frozen.outputs]
    graph_def = _grappler(frozen.graph, outputs)
    return _imported(graph_def, inputs, outputs)


def _grappler(graph: tf.Graph, outputs: list[str]) -> tf.compat.v1.GraphDef:
    """One offline grappler pass over ``graph``, keeping ``outputs`` (it prunes the rest)."""
    meta_graph = tf.compat.v1.train.export_meta_graph(graph_def=graph.as_graph_def(), graph=graph)
    fetches = meta_graph_pb2.CollectionDef()
    fetches.node_list.value.extend(outputs)
    meta_graph.collection_def["train_op"].CopyFrom(fetches)  # what grappler must keep
    config = config_pb2.ConfigProto()
    rewrites = config.graph_options.rewrite_options
    rewrites.optimizers.extend(GRAPPLER_PASSES)
    rewrites.meta_optimizer_iterations = rewrites.TWO
    return tf_optimizer.OptimizeGraph(config, meta_graph)


def _imported(graph_def: tf.compat.v1.GraphDef, inputs: list[str], outputs: list[str]
              ) -> tf.types.experimental.ConcreteFunction:  # fmt: skip
    """A GraphDef back as a callable concrete function, from ``inputs`` to ``outputs``."""
    wrapped = tf.compat.v1.wrap_function(
        lambda: tf.compat.v1.import_graph_def(graph_def, name=""), []
    )
    element = wrapped.graph.as_graph_element
    return wrapped.prune([element(name) for name in inputs], [element(name) for name in outputs])
