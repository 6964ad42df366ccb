"""decoder_init.onnx built from weights: the decoder's first state, from z (a VAE) or zeros (decoder only)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from sketchgen.graphs.builder import FLOAT, INT64, Builder, make_model, vi


def build_init(units: int, kernel: np.ndarray | None = None, bias: np.ndarray | None = None) -> onnx.ModelProto:
    """decoder_init.onnx: ``z`` [B, Nz] -> ``h, c = split(tanh(z kernel + bias))`` with ``kernel`` [Nz, 2H] and
    ``bias`` [2H] (sketch-rnn's initial-state layer), or, without a kernel, ``batch`` (int64) -> zeros [batch, H]."""
    inits: list[onnx.TensorProto] = []
    b = Builder(inits, "")
    if kernel is not None:
        kernel = np.asarray(kernel, np.float32)
        bias = np.zeros(2 * units, np.float32) if bias is None else np.asarray(bias, np.float32)
        if kernel.shape[1:] != (2 * units,) or bias.shape != (2 * units,):
            raise ValueError(f"initial-state weights {kernel.shape}, {bias.shape} do not give 2 x {units} units")
        state = b.op1("Tanh", [b.op1("Gemm", ["z", b.const("init_w", kernel), b.const("init_b", bias)])])
        b.op("Split", [state, b.const("halves", np.array([units, units], np.int64))], ["h", "c"], axis=1)
        inputs = [vi("z", FLOAT, ["B", int(kernel.shape[0])])]
    else:
        shape = b.op1("Concat", [b.op1("Unsqueeze", ["batch", b.const("ax0", np.array([0], np.int64))]),
                                 b.const("units", np.array([units], np.int64))], axis=0)
        zeros = b.op1("ConstantOfShape", [shape], value=helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0]))
        b.op1("Identity", [zeros], output="h")
        b.op1("Identity", [zeros], output="c")
        inputs = [vi("batch", INT64, [])]
    outputs = [vi("h", FLOAT, ["B", units]), vi("c", FLOAT, ["B", units])]
    graph = helper.make_graph(b.nodes, "decoder_init", inputs, outputs, inits)
    return make_model(graph, "sketch-rnn initial decoder state")
