"""The same model in ONNX Runtime, what many users would reach for instead of TensorFlow.

The encoder is one ONNX `GRU` node over the padded batch (`sequence_lens` stops each row at its
own length); the greedy decoder is a `Loop` that stops once every row has emitted `</s>`. ONNX
orders the gates z, r, h where g2p_en orders r, z, n; `linear_before_reset=1` is g2p_en's n gate.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from g2p._checkpoint import HIDDEN, MAX_DECODE_STEPS, START, STOP, load_weights
from g2p._inputs import predict_in_batches

from . import Predictor

OPSET = 17
IR_VERSION = 8  # what opset 17 needs; newer onnx writes newer IRs than ONNX Runtime reads


def _zrn(rzn: np.ndarray) -> np.ndarray:
    r, z, n = np.split(rzn, 3, axis=0)
    return np.concatenate([z, r, n])


def _gru_initializers(weights: dict[str, np.ndarray], prefix: str) -> list[onnx.TensorProto]:
    bias = np.concatenate([_zrn(weights[f"{prefix}_b_ih"]), _zrn(weights[f"{prefix}_b_hh"])])
    arrays = {
        f"{prefix}_emb": weights[f"{prefix}_emb"],
        f"{prefix}_W": _zrn(weights[f"{prefix}_w_ih"])[None],
        f"{prefix}_R": _zrn(weights[f"{prefix}_w_hh"])[None],
        f"{prefix}_B": bias[None],
    }
    return [numpy_helper.from_array(np.ascontiguousarray(a), name) for name, a in arrays.items()]


def _gru(prefix: str, x: str, h0: str, outputs: list[str], lengths: str = "") -> onnx.NodeProto:
    inputs = [x, f"{prefix}_W", f"{prefix}_R", f"{prefix}_B", lengths, h0]
    return helper.make_node(
        "GRU", inputs, outputs, hidden_size=HIDDEN, linear_before_reset=1, name=f"{prefix}_gru"
    )


def _decoder_step() -> onnx.GraphProto:
    """Loop body: (i, cond, h, prev, done) -> (cond, h, prev, done, emitted)."""
    nodes = [
        helper.make_node("Gather", ["dec_emb", "prev_in"], ["dec_x"]),
        helper.make_node("Unsqueeze", ["dec_x", "axis0"], ["dec_x3"]),
        _gru("dec", "dec_x3", "h_in", ["", "h_out"]),
        helper.make_node("Squeeze", ["h_out", "axis0"], ["h2"]),
        helper.make_node("Gemm", ["h2", "fc_w", "fc_b"], ["logits"], transB=1),
        helper.make_node("ArgMax", ["logits"], ["prev_out"], axis=1, keepdims=0),
        helper.make_node("Where", ["done_in", "stop", "prev_out"], ["emitted"]),
        helper.make_node("Equal", ["prev_out", "stop"], ["is_stop"]),
        helper.make_node("Or", ["done_in", "is_stop"], ["done_out"]),
        helper.make_node("Cast", ["done_out"], ["done_int"], to=TensorProto.INT32),
        helper.make_node("ReduceMin", ["done_int"], ["all_done"], keepdims=0),
        helper.make_node("Cast", ["all_done"], ["all_done_bool"], to=TensorProto.BOOL),
        helper.make_node("Not", ["all_done_bool"], ["cond_out"]),
    ]

    def value(name, dtype, shape):
        return helper.make_tensor_value_info(name, dtype, shape)

    inputs = [
        value("i", TensorProto.INT64, []),
        value("cond_in", TensorProto.BOOL, []),
        value("h_in", TensorProto.FLOAT, [1, "rows", HIDDEN]),
        value("prev_in", TensorProto.INT64, ["rows"]),
        value("done_in", TensorProto.BOOL, ["rows"]),
    ]
    outputs = [
        value("cond_out", TensorProto.BOOL, []),
        value("h_out", TensorProto.FLOAT, [1, "rows", HIDDEN]),
        value("prev_out", TensorProto.INT64, ["rows"]),
        value("done_out", TensorProto.BOOL, ["rows"]),
        value("emitted", TensorProto.INT64, ["rows"]),
    ]
    return helper.make_graph(nodes, "decoder_step", inputs, outputs)


def build_model(weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    """Inputs: ids [time, rows] int64, lengths [rows] int32 (>= 1), padding [rows] bool.
    Output: emitted phoneme ids [steps <= 20, rows] int64."""
    constants = {
        "fc_w": weights["fc_w"],
        "fc_b": weights["fc_b"],
        "axis0": np.array([0], np.int64),
        "stop": np.array(STOP, np.int64),
        "start": np.array([START], np.int64),
        "max_steps": np.array(MAX_DECODE_STEPS, np.int64),
        "true": np.array(True),
    }
    initializers = _gru_initializers(weights, "enc") + _gru_initializers(weights, "dec")
    initializers += [numpy_helper.from_array(a, name) for name, a in constants.items()]
    nodes = [
        helper.make_node("Gather", ["enc_emb", "ids"], ["x"]),
        _gru("enc", "x", "", ["", "h0"], lengths="lengths"),
        helper.make_node("Shape", ["lengths"], ["rows"]),
        helper.make_node("Expand", ["start", "rows"], ["prev0"]),
        helper.make_node(
            "Loop",
            ["max_steps", "true", "h0", "prev0", "padding"],
            ["h_last", "prev_last", "done_last", "emitted"],
            body=_decoder_step(),
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "g2p",
        [
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["time", "rows"]),
            helper.make_tensor_value_info("lengths", TensorProto.INT32, ["rows"]),
            helper.make_tensor_value_info("padding", TensorProto.BOOL, ["rows"]),
        ],
        [helper.make_tensor_value_info("emitted", TensorProto.INT64, ["steps", "rows"])],
        initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION
    )
    onnx.checker.check_model(model)
    return model


def load(batch_size: int) -> Predictor:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        build_model(load_weights()).SerializeToString(), options, providers=["CPUExecutionProvider"]
    )

    def decode(ids: np.ndarray) -> np.ndarray:
        lengths = (ids != 0).sum(axis=1).astype(np.int32)
        feeds = {
            "ids": ids.T.astype(np.int64),
            "lengths": np.maximum(lengths, 1),
            "padding": lengths == 0,
        }
        (emitted,) = session.run(None, feeds)
        return emitted.T

    return lambda words: predict_in_batches(words, batch_size, True, decode)
