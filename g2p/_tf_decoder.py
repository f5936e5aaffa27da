"""The GRU encoder-decoder in TensorFlow: greedy decoding of a whole batch in two while-loops.

Same math as g2p_en's `grucell` (gates r, z, n; n uses r * (h W_hn + b_hn)), rewritten for speed
without changing a token:
- the input projections `emb @ W_ih.T + b_ih` are tables computed once, row by row with the very
  NumPy call g2p_en makes, so each step gathers them instead of multiplying;
- the three gates share one GEMM against W_hh;
- the decoder stops as soon as every row has emitted `</s>` (or after 20 steps).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import tensorflow as tf

from ._checkpoint import HIDDEN, MAX_DECODE_STEPS, START, STOP, load_weights
from ._modes import check_mode
from ._tflite import TFLiteDecoder

DecodeFn = Callable[[tf.Tensor], tf.Tensor]
SIGNATURE = (tf.TensorSpec([None, None], tf.int32),)


def input_table(embedding: np.ndarray, w_ih: np.ndarray, b_ih: np.ndarray) -> np.ndarray:
    """`embedding[i] @ w_ih.T + b_ih` for every token i, one row at a time as g2p_en computes it."""
    rows = [np.matmul(embedding[i : i + 1], w_ih.T) + b_ih for i in range(len(embedding))]
    return np.concatenate(rows).astype(np.float32)


class _GRU:
    def __init__(self, weights: dict[str, np.ndarray], prefix: str):
        self.table = tf.constant(
            input_table(
                weights[f"{prefix}_emb"], weights[f"{prefix}_w_ih"], weights[f"{prefix}_b_ih"]
            )
        )
        self.w_hh_t = tf.constant(np.ascontiguousarray(weights[f"{prefix}_w_hh"].T))
        self.b_hh = tf.constant(weights[f"{prefix}_b_hh"])

    def step(self, x_proj: tf.Tensor, h: tf.Tensor) -> tf.Tensor:
        x_rz, x_n = tf.split(x_proj, [2 * HIDDEN, HIDDEN], axis=1)
        h_rz, h_n = tf.split(
            tf.nn.bias_add(tf.matmul(h, self.w_hh_t), self.b_hh), [2 * HIDDEN, HIDDEN], axis=1
        )
        r, z = tf.split(1 / (1 + tf.exp(-(x_rz + h_rz))), 2, axis=1)  # g2p_en's sigmoid
        n = tf.tanh(x_n + r * h_n)
        return (1 - z) * n + z * h


class Decoder:
    """`decoder(ids [rows, time]) -> phoneme ids [rows, 20]`, `</s>`-filled after the end.

    Each row of `ids` is a word's graphemes then `</s>`, zero-padded; all-zero rows are padding.
    `shrink`: each decoder step drops the rows that have emitted `</s>`, so later steps multiply
    only the words still being decoded; off, every row runs until the batch's last word ends
    (XLA needs that: its shapes are static).
    """

    def __init__(self, weights: dict[str, np.ndarray], shrink: bool = True):
        self.shrink = shrink
        self._encoder, self._decoder = _GRU(weights, "enc"), _GRU(weights, "dec")
        self._fc_w_t = tf.constant(np.ascontiguousarray(weights["fc_w"].T))
        self._fc_b = tf.constant(weights["fc_b"])
        self._python_runs = 0

    @property
    def trace_count(self) -> int:
        """How often the Python code of `__call__` ran: once per trace under `tf.function`
        (on every call in eager mode, where nothing is traced)."""
        return self._python_runs

    def __call__(self, ids: tf.Tensor) -> tf.Tensor:
        self._python_runs += 1
        return self.decode_counting_steps(ids)[0]

    def decode_counting_steps(self, ids: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """The phoneme ids, the encoder steps run, the decoder steps run and the rows the decoder
        computed summed over its steps."""
        steps = tf.reduce_sum(tf.cast(ids != 0, tf.int32), axis=1)
        encoder_steps, h = self._encode(ids, steps)
        decode = self._decode_shrinking if self.shrink else self._decode_masked
        decoder_steps, decoder_rows, out = decode(h, steps)
        return tf.transpose(out), encoder_steps, decoder_steps, decoder_rows

    def _decoder_step(self, prev: tf.Tensor, h: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The next hidden state and the greedy phoneme of each row."""
        h = self._decoder.step(tf.gather(self._decoder.table, prev), h)
        logits = tf.nn.bias_add(tf.matmul(h, self._fc_w_t), self._fc_b)
        return h, tf.argmax(logits, axis=-1, output_type=tf.int32)

    def _decode_masked(self, h: tf.Tensor, steps: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """Steps run, rows computed and phoneme ids [20, rows]; every row runs until all end."""

        def unfinished(i, h, prev, done, out):
            return tf.logical_and(i < MAX_DECODE_STEPS, tf.logical_not(tf.reduce_all(done)))

        def body(i, h, prev, done, out):
            h, pred = self._decoder_step(prev, h)
            out = _set_step(out, i, tf.where(done, STOP, pred))
            return i + 1, h, pred, tf.logical_or(done, pred == STOP), out

        rows = tf.shape(steps)[0]
        state = (0, h, tf.fill([rows], START), steps == 0, tf.fill([MAX_DECODE_STEPS, rows], STOP))
        decoder_steps, *_, out = tf.while_loop(unfinished, body, state)
        return decoder_steps, decoder_steps * rows, out

    def _decode_shrinking(self, h: tf.Tensor, steps: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """Steps run, rows computed and phoneme ids [20, rows]; a row leaves the batch when it
        emits `</s>`.

        `live` holds the batch rows still decoding (padding rows never start); their phonemes
        are scattered back to their rows, and rows that have left read `</s>`.
        """

        def unfinished(i, computed, live, h, prev, out):
            return tf.logical_and(i < MAX_DECODE_STEPS, tf.size(live) > 0)

        def body(i, computed, live, h, prev, out):
            h, pred = self._decoder_step(prev, h)
            out = _set_step(out, i, tf.scatter_nd(live[:, None], pred - STOP, [rows]) + STOP)
            going_on = pred != STOP
            return (
                i + 1,
                computed + tf.size(live),
                tf.boolean_mask(live, going_on),
                tf.boolean_mask(h, going_on),
                tf.boolean_mask(pred, going_on),
                out,
            )

        rows = tf.shape(steps)[0]
        live = tf.cast(tf.reshape(tf.where(steps > 0), [-1]), tf.int32)
        state = (
            0,
            0,
            live,
            tf.gather(h, live),
            tf.fill(tf.shape(live), START),
            tf.fill([MAX_DECODE_STEPS, rows], STOP),
        )
        invariants = (
            tf.TensorShape([]),
            tf.TensorShape([]),
            tf.TensorShape([None]),
            tf.TensorShape([None, HIDDEN]),
            tf.TensorShape([None]),
            tf.TensorShape([MAX_DECODE_STEPS, None]),
        )
        decoder_steps, computed, *_, out = tf.while_loop(
            unfinished, body, state, shape_invariants=invariants
        )
        return decoder_steps, computed, out

    def _encode(self, ids: tf.Tensor, steps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Steps run (the longest word's) and the final hidden state of every row."""
        x_proj = tf.gather(self._encoder.table, tf.transpose(ids))  # [time, rows, 3 * HIDDEN]

        def body(t, h):
            live = tf.expand_dims(t < steps, 1)
            return t + 1, tf.where(live, self._encoder.step(x_proj[t], h), h)

        h0 = tf.zeros([tf.shape(ids)[0], HIDDEN])
        return tf.while_loop(lambda t, h: t < tf.reduce_max(steps), body, (0, h0))


def _set_step(out: tf.Tensor, i: tf.Tensor, column: tf.Tensor) -> tf.Tensor:
    """`out` [20, rows] with row `i` replaced by `column` [rows]."""
    return tf.where(tf.range(MAX_DECODE_STEPS)[:, None] == i, column, out)


ArrayFn = Callable[[np.ndarray], np.ndarray]


def _on_arrays(decode: DecodeFn) -> ArrayFn:
    return lambda ids: decode(tf.constant(ids)).numpy()


def compile_graph(
    fn: Callable, jit_compile: bool = False
) -> tf.types.experimental.ConcreteFunction:
    """`fn` traced once into a graph (shapes left open in SIGNATURE), optionally XLA-compiled."""
    return tf.function(
        fn, input_signature=SIGNATURE, jit_compile=jit_compile
    ).get_concrete_function()


# Graph modes trace once (shapes are left open in SIGNATURE) and are called through their concrete
# function, which skips tf.function's per-call argument matching (~0.1 ms). XLA compiles once per
# concrete shape, hence the padding to a few shapes in `_inputs`. TFLite: see `_tflite`.
def in_mode(mode: str, decode: DecodeFn) -> ArrayFn:
    """`decode` run in one of `g2p.MODES`, on NumPy arrays."""
    check_mode(mode)
    if mode == "eager":
        return _on_arrays(decode)
    graph = compile_graph(decode, jit_compile=mode == "xla")
    return TFLiteDecoder(graph) if mode == "tflite" else _on_arrays(graph)


def model_in_mode(mode: str) -> ArrayFn:
    """The trained model in one of `g2p.MODES`; the decoder drops finished rows except in XLA."""
    return in_mode(mode, Decoder(load_weights(), shrink=mode != "xla"))
