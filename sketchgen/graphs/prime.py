"""decoder_prime.onnx: the decoder run teacher-forced over a prefix in one call (the app's live completion)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from sketchgen.graphs.builder import FLOAT, INT64, Builder, make_model, vi
from sketchgen.graphs.decoder import Weights, cell
from sketchgen.graphs.layout import DecoderWeights, keras_to_onnx_lstm, prepare


def build_prime(w: DecoderWeights) -> onnx.ModelProto:
    """decoder_prime.onnx: runs the decoder teacher-forced over ``strokes`` [B, T, 5] (start token first) from
    ``h0``, ``c0`` and returns the state after ``lengths`` [B] int32 (>= 1) steps of each row: ``h``, ``c``.

    A plain LSTM decoder becomes one native ONNX ``LSTM`` op (its ``sequence_lens`` stops each row at its length);
    a layer-norm decoder, which no ONNX LSTM op can express, runs the same cell as the sampler inside a ``Loop``.
    """
    h_units = w.units
    inits: list[onnx.TensorProto] = []
    b = Builder(inits, "")
    seq = b.op1("Transpose", ["strokes"], perm=[1, 0, 2])                                  # [T, B, 5]
    if w.conditional:
        shape = b.op1("Shape", [seq])
        tb = b.op1("Slice", [shape, b.const("s0", np.array([0], np.int64)), b.const("s2", np.array([2], np.int64))])
        zshape = b.op1("Concat", [tb, b.const("nz", np.array([w.z_size], np.int64))], axis=0)
        zs = b.op1("Expand", [b.op1("Unsqueeze", ["z", b.const("a0", np.array([0], np.int64))]), zshape])
        seq_in = b.op1("Concat", [seq, zs], axis=2)                                         # [T, B, 5 + Nz]
    else:
        seq_in = seq
    if not w.layer_norm:
        w_in = b.const("W", keras_to_onnx_lstm(w.kernel).T[None].astype(np.float32))           # [1, 4H, in]
        w_rec = b.const("R", keras_to_onnx_lstm(w.recurrent_kernel).T[None].astype(np.float32))  # [1, 4H, H]
        bias = np.concatenate([keras_to_onnx_lstm(w.bias), np.zeros(4 * h_units, np.float32)])
        bias = bias[None].astype(np.float32)
        a0 = b.const("ax0", np.array([0], np.int64))
        _, h_last, c_last = b.op("LSTM", [seq_in, w_in, w_rec, b.const("B", bias), "lengths",
                                          b.op1("Unsqueeze", ["h0", a0]), b.op1("Unsqueeze", ["c0", a0])],
                                 ["", b._name("y_h"), b._name("y_c")], hidden_size=h_units)
        b.op1("Squeeze", [h_last, a0], output="h")
        b.op1("Squeeze", [c_last, a0], output="c")
    else:
        p = prepare(w)
        wts = Weights(b, p, "fp32")
        x_kernel = np.concatenate([p.w_xy, p.w_pen] + ([p.w_z] if p.w_z is not None else []))
        proj = b.op1("Add", [b.op1("MatMul", [seq_in, b.const("x_kernel", x_kernel)]),
                             b.const("gate_bias", p.bias)])                                 # [T, B, 4H]
        steps = b.op1("Gather", [b.op1("Shape", [seq]), b.const("zero", np.array(0, np.int64))], axis=0)
        lengths = b.op1("Unsqueeze", [b.op1("Cast", ["lengths"], to=INT64), b.const("a1", np.array([1], np.int64))])
        body = Builder(inits, "prime/")
        x_t = body.op1("Gather", [proj, "i"], axis=0)
        gates = body.op1("Add", [x_t, body.op1("MatMul", ["h", wts.recurrent])])
        h_new, c_new = cell(body, wts, [gates], "c")
        active = body.op1("Less", ["i", lengths])                                          # [B, 1]
        body.op1("Where", [active, h_new, "h"], output="h_out")
        body.op1("Where", [active, c_new, "c"], output="c_out")
        body.nodes.append(helper.make_node("Identity", ["cond_in"], ["cond_out"]))
        body_graph = helper.make_graph(
            body.nodes, "prime_step",
            [vi("i", INT64, []), vi("cond_in", TensorProto.BOOL, []), vi("h", FLOAT, ["B", h_units]),
             vi("c", FLOAT, ["B", h_units])],
            [vi("cond_out", TensorProto.BOOL, []), vi("h_out", FLOAT, ["B", h_units]),
             vi("c_out", FLOAT, ["B", h_units])])
        b.nodes.append(helper.make_node("Loop", [steps, b.const("true", np.array(True)), "h0", "c0"], ["h", "c"],
                                        body=body_graph, name="prime_loop"))
    inputs = [vi("strokes", FLOAT, ["B", "T", 5]), vi("lengths", TensorProto.INT32, ["B"])] + (
        [vi("z", FLOAT, ["B", w.z_size])] if w.conditional else []) + [
        vi("h0", FLOAT, ["B", h_units]), vi("c0", FLOAT, ["B", h_units])]
    outputs = [vi("h", FLOAT, ["B", h_units]), vi("c", FLOAT, ["B", h_units])]
    graph = helper.make_graph(b.nodes, "decoder_prime", inputs, outputs, inits)
    return make_model(graph, "sketch-rnn decoder primed with a prefix (teacher forcing)")
