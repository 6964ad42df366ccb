"""The fused sampling loop of a HyperLSTM decoder (``dec_model=hyper``), built from its weights (fp32).

The same contract as :func:`sketchgen.graphs.decoder.build_sampler` (inputs ``[z,] h0, c0, x0, noise_logits,
noise_angle, stop_pen``; outputs ``offsets``, ``pens``; the same noise and the same sampling ops, shared through
:func:`~sketchgen.graphs.decoder.sample_point`), with the HyperLSTM cell of ``training.cells.SketchHyperLSTMCell``
in the loop: ``h`` and ``c`` hold the main cell's units, then the hyper cell's. Written plainly, one step per Loop
iteration: the hyper cell costs several products per step anyway, so the plain LSTM's op-count tricks (unrolling,
one product for the head and the next gates) would buy little here. No int8 variant.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper

from sketchgen.graphs.builder import FLOAT, INT64, Builder, make_model, vi
from sketchgen.graphs.decoder import _pen_index, sample_point
from sketchgen.graphs.layout import LN_EPSILON, DecoderWeights, prepare
from sketchgen.model_folder import HEAD_COLUMNS, head_rows


@dataclass
class HyperDecoderWeights:
    """A HyperLSTM decoder's weights in the training cell's layout (Keras gate order i, f, g, o)."""

    kernel: np.ndarray                  # [5 + Nz, 4H]
    recurrent_kernel: np.ndarray        # [H, 4H]
    bias: np.ndarray                    # [4H]
    ln_gamma: np.ndarray                # [5, H]: gates i, f, g, o, then the cell
    ln_beta: np.ndarray                 # [5, H]
    hyper_kernel: np.ndarray            # [5 + Nz + H, 4Nh]: the hyper cell reads [x, z, h_main]
    hyper_recurrent_kernel: np.ndarray  # [Nh, 4Nh]
    hyper_ln_gamma: np.ndarray          # [5, Nh]
    hyper_ln_beta: np.ndarray           # [5, Nh]
    zw_kernel: np.ndarray               # [Nh, 8E]
    zw_bias: np.ndarray                 # [8E]
    alpha_kernel: np.ndarray            # [8, E, H]: x-shares i f g o, then h-shares
    zb_kernel: np.ndarray               # [Nh, 4E]
    beta_kernel: np.ndarray             # [4, E, H]
    out_kernel: np.ndarray              # [H, 6M + 3]
    out_bias: np.ndarray                # [6M + 3]
    num_mixture: int
    z_size: int                         # 0 for an unconditional model

    @property
    def units(self) -> int:
        return int(self.recurrent_kernel.shape[0])

    @property
    def hyper_units(self) -> int:
        return int(self.hyper_recurrent_kernel.shape[0])

    @property
    def embedding_size(self) -> int:
        return int(self.zb_kernel.shape[1] // 4)

    @property
    def conditional(self) -> bool:
        return self.z_size > 0


class _Constants:
    """The weights as initializers, in the shapes the step's ops read."""

    def __init__(self, b: Builder, w: HyperDecoderWeights):
        f32 = np.float32
        h, n, e = w.units, w.hyper_units, w.embedding_size
        head = prepare(DecoderWeights(kernel=w.kernel, recurrent_kernel=w.recurrent_kernel, bias=w.bias,
                                      ln_gamma=None, ln_beta=None, out_kernel=w.out_kernel, out_bias=w.out_bias,
                                      num_mixture=w.num_mixture, z_size=w.z_size))

        def lstm_norm(gamma: np.ndarray, beta: np.ndarray, width: int, name: str) -> tuple[str, ...]:
            beta4 = beta[:4].astype(f32).copy()
            beta4[1] += 1.0  # the forget gate's +1 after the norm
            return (b.const(f"{name}_gamma", gamma[:4].astype(f32)), b.const(f"{name}_beta", beta4),
                    b.const(f"{name}_c_gamma", gamma[4].astype(f32)), b.const(f"{name}_c_beta", beta[4].astype(f32)),
                    b.const(f"{name}_gates", np.array([0, 4, width], np.int64)))

        self.main_norm = lstm_norm(w.ln_gamma, w.ln_beta, h, "main")
        self.hyper_norm = lstm_norm(w.hyper_ln_gamma, w.hyper_ln_beta, n, "hyper")
        self.ones = {h: b.const("ones_h", np.ones(h, f32)), n: b.const("ones_n", np.ones(n, f32))}
        self.zeros = {h: b.const("zeros_h", np.zeros(h, f32)), n: b.const("zeros_n", np.zeros(n, f32))}
        self.flat = b.const("flat", np.array([0, -1], np.int64))
        self.hyper_w = b.const("hyper_w", np.concatenate([w.hyper_kernel, w.hyper_recurrent_kernel]).astype(f32))
        self.kernel = b.const("kernel", w.kernel.astype(f32))
        self.recurrent = b.const("recurrent", w.recurrent_kernel.astype(f32))
        self.bias = b.const("bias", w.bias.reshape(4, 1, h).astype(f32))
        self.zw = (b.const("zw_kernel", w.zw_kernel.astype(f32)), b.const("zw_bias", w.zw_bias.astype(f32)))
        self.alpha = b.const("alpha", w.alpha_kernel.astype(f32))
        self.zb = b.const("zb_kernel", w.zb_kernel.astype(f32))
        self.beta = b.const("beta", w.beta_kernel.astype(f32))
        self.embed8 = b.const("embed8", np.array([0, 8, e], np.int64))
        self.embed4 = b.const("embed4", np.array([0, 4, e], np.int64))
        self.split_state = b.const("split_state", np.array([h, n], np.int64))
        self.split_alpha = b.const("split_alpha", np.array([4, 4], np.int64))
        self.head_w = b.const("head_w", head.head_w)
        self.head_b = b.const("head_b", head.head_b)
        self.head_pad = b.const("head_pad", head.head_pad)
        self.head_shape = b.const("head_shape", np.array([-1, head_rows(w.num_mixture), HEAD_COLUMNS], np.int64))
        self.pen_eye = b.const("pen_eye", np.eye(3, dtype=f32))
        self.split_chosen = b.const("split_chosen", np.array([1, 1, HEAD_COLUMNS - 2], np.int64))
        self.split_row = b.const("split_row", np.array([2, 2, 2, 2], np.int64))
        self.units, self.hyper_units = h, n


def _layer_norm_lstm(b: Builder, k: _Constants, gates3: str, c: str, norm: tuple[str, ...], width: int,
                     h_out: str | None = None, c_out: str | None = None) -> tuple[str, str]:
    """training.cells.layer_norm_lstm: pre-activations [B, 4, W] (gates i, f, g, o) -> (h_new, c_new)."""
    gamma, beta, c_gamma, c_beta, _ = norm
    normed = b.op1("LayerNormalization", [gates3, k.ones[width], k.zeros[width]], axis=-1, epsilon=LN_EPSILON)
    scaled = b.op1("Reshape", [b.op1("Add", [b.op1("Mul", [normed, gamma]), beta]), k.flat])  # [B, 4W]
    i, f, g, o = b.op("Split", [scaled], 4, axis=1)
    c_new = b.op1("Add", [b.op1("Mul", [b.op1("Sigmoid", [f]), c]),
                          b.op1("Mul", [b.op1("Sigmoid", [i]), b.op1("Tanh", [g])])], output=c_out)
    c_read = b.op1("LayerNormalization", [c_new, c_gamma, c_beta], axis=-1, epsilon=LN_EPSILON)
    h_new = b.op1("Mul", [b.op1("Sigmoid", [o]), b.op1("Tanh", [c_read])], output=h_out)
    return h_new, c_new


def hyper_step(b: Builder, k: _Constants, x_in: str, h: str, c: str, h_out: str | None = None,
               c_out: str | None = None) -> tuple[str, str, str]:
    """One HyperLSTM step from the decoder input [B, 5 + Nz] and the total state -> (h_main, h_total, c_total)."""
    h_main, h_hyper = b.op("Split", [h, k.split_state], 2, axis=1)
    c_main, c_hyper = b.op("Split", [c, k.split_state], 2, axis=1)
    hyper_gates = b.op1("MatMul", [b.op1("Concat", [x_in, h_main, h_hyper], axis=1), k.hyper_w])
    hh, hc = _layer_norm_lstm(b, k, b.op1("Reshape", [hyper_gates, k.hyper_norm[4]]), c_hyper, k.hyper_norm,
                              k.hyper_units)

    def per_gate(value: str, shape: str) -> str:  # [B, G*W] -> [G, B, W]
        return b.op1("Transpose", [b.op1("Reshape", [value, shape])], perm=[1, 0, 2])

    zw = per_gate(b.op1("Gemm", [hh, k.zw[0], k.zw[1]]), k.embed8)                      # [8, B, E]
    alpha_x, alpha_h = b.op("Split", [b.op1("MatMul", [zw, k.alpha]), k.split_alpha], 2, axis=0)  # [4, B, H]
    shift = b.op1("MatMul", [per_gate(b.op1("MatMul", [hh, k.zb]), k.embed4), k.beta])  # [4, B, H]
    x_share = per_gate(b.op1("MatMul", [x_in, k.kernel]), k.main_norm[4])
    h_share = per_gate(b.op1("MatMul", [h_main, k.recurrent]), k.main_norm[4])
    gates = b.op1("Add", [b.op1("Add", [b.op1("Mul", [alpha_x, x_share]), b.op1("Mul", [alpha_h, h_share])]),
                          b.op1("Add", [shift, k.bias])])
    gates3 = b.op1("Transpose", [gates], perm=[1, 0, 2])                                  # [B, 4, H]
    h_new, c_new = _layer_norm_lstm(b, k, gates3, c_main, k.main_norm, k.units)
    return (h_new, b.op1("Concat", [h_new, hh], output=h_out, axis=1),
            b.op1("Concat", [c_new, hc], output=c_out, axis=1))


def build_hyper_sampler(w: HyperDecoderWeights) -> onnx.ModelProto:
    """decoder_sample.onnx for a HyperLSTM decoder (fp32): see the module docstring and
    :func:`sketchgen.graphs.decoder.build_sampler` for the contract. The Loop draws one point per iteration and
    stops after the step where every row has drawn a pen >= ``stop_pen``, which is exactly the steps the Python loop
    (``sketchgen.engine.sampling.reference_loop``) draws."""
    inits: list[onnx.TensorProto] = []
    outer = Builder(inits, "")
    k = _Constants(outer, w)
    state = w.units + w.hyper_units
    rows = head_rows(w.num_mixture)
    pen0 = _pen_index(outer, "x0")
    steps = outer.op1("Squeeze", [outer.op1("Shape", ["noise_angle"], start=0, end=1)],)
    logits = outer.op1("Add", ["noise_logits", k.head_pad])     # padding rows never win

    body = Builder(inits, "step/")
    x_in = body.op1("Concat", ["x", "z"], axis=1) if w.conditional else "x"
    h_main, _, _ = hyper_step(body, k, x_in, "h", "c", h_out="h_out", c_out="c_out")
    head = body.op1("Reshape", [body.op1("Gemm", [h_main, k.head_w, k.head_b]), k.head_shape])
    noisy = body.op1("Add", [head, body.op1("Gather", [logits, "i"], axis=0)])               # [B, K, 8]
    offset, pen, x = sample_point(body, noisy, body.op1("Gather", ["noise_angle", "i"], axis=0), k.pen_eye,
                                  k.split_chosen, k.split_row)
    body.op1("Identity", [x], output="x_out")
    body.op1("Identity", [offset], output="offset_step")
    body.op1("Identity", [pen], output="pen_step")
    body.op1("Max", ["ended", pen], output="ended_out")
    body.op1("Less", [body.op1("ReduceMin", ["ended_out"], keepdims=0), "stop_pen"], output="cond_out")
    carried = [("h", FLOAT, state), ("c", FLOAT, state), ("x", FLOAT, 5), ("ended", INT64, 1)]
    body_graph = helper.make_graph(
        body.nodes, "hyper_decoder_step_and_sample",
        [vi("i", INT64, []), vi("cond_in", TensorProto.BOOL, [])] + [vi(n, t, ["B", d]) for n, t, d in carried],
        [vi("cond_out", TensorProto.BOOL, [])] + [vi(n + "_out", t, ["B", d]) for n, t, d in carried]
        + [vi("offset_step", FLOAT, ["B", 2]), vi("pen_step", INT64, ["B", 1])])
    finals = [outer._name("final") for _ in carried]
    outer.nodes.append(helper.make_node("Loop", [steps, outer.const("true", np.array(True)), "h0", "c0", "x0", pen0],
                                        finals + ["offsets", "pens"], body=body_graph, name="sampling_loop"))
    inputs = ([vi("z", FLOAT, ["B", w.z_size])] if w.conditional else []) + [
        vi("h0", FLOAT, ["B", state]), vi("c0", FLOAT, ["B", state]), vi("x0", FLOAT, ["B", 5]),
        vi("noise_logits", FLOAT, ["T", "B", rows, HEAD_COLUMNS]), vi("noise_angle", FLOAT, ["T", "B", 2]),
        vi("stop_pen", INT64, [])]
    outputs = [vi("offsets", FLOAT, ["S", "B", 2]), vi("pens", INT64, ["S", "B", 1])]
    graph = helper.make_graph(outer.nodes, "decoder_sample", inputs, outputs, inits)
    return make_model(graph, "sketch-rnn HyperLSTM sampling loop (fp32, one step per Loop iteration)")
