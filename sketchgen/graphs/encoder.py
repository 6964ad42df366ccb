"""encoder.onnx built from weights: the bidirectional encoder as one ONNX LSTM op (fp32, or int8 for speed)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from sketchgen.graphs.builder import FLOAT, MS_DOMAIN, Builder, make_model, vi
from sketchgen.graphs.layout import EncoderWeights, keras_to_onnx_lstm
from sketchgen.model_folder import PRECISIONS


def build_encoder(w: EncoderWeights, precision: str = "int8") -> onnx.ModelProto:
    """encoder.onnx's contract (strokes [B, T, 5], lengths [B] -> mu, logvar) as ONE bidirectional LSTM op.

    ONNX's reverse direction with ``sequence_lens`` reads each sketch from its own last point back to its first:
    exactly the training model's backward pass over ``reverse_sequence``; ``Y_h`` holds both final states. fp32 uses
    the standard ``LSTM`` op (the export checks it against TensorFlow); int8 uses ONNX Runtime's
    ``DynamicQuantizeLSTM`` (int8 weights, one scale per gate column, inputs quantised per call), 2-3x faster.
    """
    h = w.units
    inits: list[onnx.TensorProto] = []
    b = Builder(inits, "")
    kernel = np.stack([keras_to_onnx_lstm(k) for k in w.kernels]).astype(np.float32)              # [2, 5, 4H]
    recurrent = np.stack([keras_to_onnx_lstm(r) for r in w.recurrent_kernels]).astype(np.float32)  # [2, H, 4H]
    bias = np.stack([np.concatenate([keras_to_onnx_lstm(x), np.zeros(4 * h, np.float32)])
                     for x in w.biases]).astype(np.float32)
    seq = b.op1("Transpose", ["strokes"], perm=[1, 0, 2])
    y_h = b._name("y_h")
    if precision == "fp32":
        b.op("LSTM", [seq, b.const("W", np.ascontiguousarray(kernel.transpose(0, 2, 1))),
                      b.const("R", np.ascontiguousarray(recurrent.transpose(0, 2, 1))), b.const("B", bias),
                      "lengths"], ["", y_h], hidden_size=h, direction="bidirectional")
    elif precision == "int8":
        def q(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # [D, K, N]: one scale per (direction, column)
            scale = np.abs(a).max(axis=1) / 127.0
            scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
            return np.clip(np.round(a / scale[:, None, :]), -127, 127).astype(np.int8), scale

        (wq, ws), (rq, rs) = q(kernel), q(recurrent)
        zeros = np.zeros((2, 4 * h), np.int8)
        b.op("DynamicQuantizeLSTM", [seq, b.const("Wq", wq), b.const("Rq", rq), b.const("B", bias), "lengths", "", "",
                                     "", b.const("Ws", ws), b.const("Wz", zeros), b.const("Rs", rs),
                                     b.const("Rz", zeros)],
             ["", y_h], domain=MS_DOMAIN, hidden_size=h, direction="bidirectional")
    else:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    hidden = b.op1("Reshape", [b.op1("Transpose", [y_h], perm=[1, 0, 2]), b.const("hid", np.array([0, 2 * h],
                                                                                                      np.int64))])
    heads = b.op1("Gemm", [hidden, b.const("heads_w", np.concatenate([w.mu[0], w.logvar[0]], axis=1)),
                           b.const("heads_b", np.concatenate([w.mu[1], w.logvar[1]]))])
    b.op("Split", [heads, b.const("split", np.array([w.z_size, w.z_size], np.int64))], ["mu", "logvar"], axis=1)
    graph = helper.make_graph(
        b.nodes, "encoder", [vi("strokes", FLOAT, ["B", "T", 5]), vi("lengths", TensorProto.INT32, ["B"])],
        [vi("mu", FLOAT, ["B", w.z_size]), vi("logvar", FLOAT, ["B", w.z_size])], inits)
    return make_model(graph, f"sketch-rnn encoder, one bidirectional LSTM ({precision})")
