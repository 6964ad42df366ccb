"""ONNX graphs built straight from the decoder's weights: the fused sampling loop, the prefix primer and a
single decoder step in the same arithmetic (fp32 or int8).

Why: one ONNX Runtime call costs ~25 us and one decoder step ~20-60 us, so a 250-step sketch drawn by a Python
loop over ``decoder_step.onnx`` spends most of its time crossing into ONNX Runtime. ``decoder_sample.onnx`` runs
the whole loop (LSTM step, mixture head, sampling, end-of-sketch test) inside one ONNX ``Loop``.

Sampling uses noise drawn by the caller, so it is seeded and exactly reproducible, and a plain Python loop over
the step graph with the same noise gives the same sketch:

- the mixture component and the pen state are ``argmax(logits + tau * g)`` with g standard Gumbel noise: for
  tau > 0 this is exactly a draw from ``softmax(logits / tau)`` (sketch-rnn's temperature), and tau = 0 is the
  greedy argmax, with no division by tau anywhere (no NaN near 0);
- the offset is sketch-rnn's correlated Gaussian with sigma scaled by sqrt(tau), written in Box-Muller polar
  form: with ``R = sqrt(-2 ln u1)``, ``a = 2 pi u2`` and ``phi = asin(rho)``,
  ``dx = mu_x + sigma_x sqrt(tau) R cos(a)`` and ``dy = mu_y + sigma_y sqrt(tau) R sin(a + phi)``, which is
  ``(n1, rho n1 + sqrt(1 - rho^2) n2)`` for the independent normals ``n1 = R cos a``, ``n2 = R sin a``.

The caller passes the noise as two tensors (see :func:`noise_layout` and ``sketchgen.engine.sampling``):
``noise_logits [T, B, K, 8]`` is added to the head's output laid out as ``[B, K, 8]`` (per component: pi logit,
pen logit, mu_x, mu_y, log sigma_x, log sigma_y, 0, rho logit; K = max(M, 3), pen logits live in the first 3
rows, unused rows have logit -1e9) and carries ``tau * g`` in columns 0-1 and ``ln(sqrt(tau) R)`` in columns 4-5;
``noise_angle [T, B, 2]`` holds ``(a + pi / 2, a)``.

int8: the two weight matrices read every step (recurrent kernel and output head) are stored as int8 with one
scale per output column; h is quantised once per step (ONNX Runtime's dynamic uint8 quantisation) and that one
quantised h feeds both matrix products. Everything else stays fp32.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
MS_DOMAIN = "com.microsoft"
PRECISIONS = ("fp32", "int8")
LOGIT_PAD = -1e9        # logit of the padding rows of the [K, 8] head layout: never chosen
HEAD_COLUMNS = 8        # pi, pen, mu_x, mu_y, log sigma_x, log sigma_y, zero, rho logit
LN_EPSILON = 1e-3       # training.cells.SketchLSTMCell._norm


@dataclass
class DecoderWeights:
    """The decoder's weights as numpy arrays, in the training model's (Keras) layout: gates i, f, c, o."""

    kernel: np.ndarray                 # [5 + Nz, 4H]
    recurrent_kernel: np.ndarray       # [H, 4H]
    bias: np.ndarray | None            # [4H] (plain LSTM)
    ln_gamma: np.ndarray | None        # [5, H] (layer-norm LSTM: i, f, g, o, c)
    ln_beta: np.ndarray | None         # [5, H]
    out_kernel: np.ndarray             # [H, 6M + 3]: pen logits, pi logits, mu_x, mu_y, log s_x, log s_y, corr
    out_bias: np.ndarray               # [6M + 3]
    num_mixture: int
    z_size: int                        # 0 for an unconditional model

    @property
    def units(self) -> int:
        return int(self.recurrent_kernel.shape[0])

    @property
    def layer_norm(self) -> bool:
        return self.ln_gamma is not None

    @property
    def conditional(self) -> bool:
        return self.z_size > 0

    @property
    def rows(self) -> int:
        """K: rows of the [K, 8] head layout (pen logits need 3 even when M < 3)."""
        return max(self.num_mixture, 3)

    @classmethod
    def from_model(cls, model) -> "DecoderWeights":
        """Read the weights of a training.model.SketchRNN."""
        cell = model.decoder.cell
        hp = model.hp
        as_np = lambda v: np.asarray(v.numpy(), dtype=np.float32)  # noqa: E731
        return cls(kernel=as_np(cell.kernel), recurrent_kernel=as_np(cell.recurrent_kernel),
                   bias=None if cell.layer_norm else as_np(cell.bias),
                   ln_gamma=as_np(cell.ln_gamma) if cell.layer_norm else None,
                   ln_beta=as_np(cell.ln_beta) if cell.layer_norm else None,
                   out_kernel=as_np(model.output_head.kernel), out_bias=as_np(model.output_head.bias),
                   num_mixture=hp.num_mixture, z_size=hp.z_size if hp.conditional else 0)


def noise_layout(num_mixture: int) -> dict[str, int]:
    """What the engine needs to draw noise for the sampler: rows K and columns of ``noise_logits``."""
    return {"rows": max(num_mixture, 3), "columns": HEAD_COLUMNS, "num_mixture": num_mixture}


# -- small graph-building helper ---------------------------------------------------------------------------------

class _Builder:
    """Collects nodes (for one graph or a Loop body) and initializers (always in the outermost graph)."""

    def __init__(self, initializers: list[onnx.TensorProto], prefix: str):
        self.nodes: list[onnx.NodeProto] = []
        self.initializers = initializers
        self.prefix = prefix
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{self.prefix}{hint}_{self._count}"

    def const(self, hint: str, value) -> str:
        name = self._name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], outputs: int | list[str] = 1, domain: str | None = None,
           **attrs) -> list[str]:
        names = outputs if isinstance(outputs, list) else [self._name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, domain=domain, name=self._name(op_type), **attrs))
        return names

    def op1(self, op_type: str, inputs: list[str], output: str | None = None, domain: str | None = None,
            **attrs) -> str:
        return self.op(op_type, inputs, [output] if output else 1, domain, **attrs)[0]


def _ifco_to_ifog(array: np.ndarray) -> np.ndarray:
    """Keras gate order (i, f, c, o) -> (i, f, o, g): the three sigmoid gates side by side."""
    i, f, c, o = np.split(array, 4, axis=-1)
    return np.concatenate([i, f, o, c], axis=-1)


def quantize_columns(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one scale per output column (the layout MatMulIntegerToFloat reads)."""
    scale = np.abs(matrix).max(axis=0) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    q = np.clip(np.round(matrix / scale), -127, 127).astype(np.int8)
    return q, scale


@dataclass
class _Prepared:
    """Weights rearranged for the graphs (gate order i, f, o, g; head in the [K, 8] layout)."""

    w_xy: np.ndarray       # [2, 4H] dx, dy rows of the input kernel
    w_pen: np.ndarray      # [3, 4H] p1, p2, p3 rows
    w_z: np.ndarray | None # [Nz, 4H]
    bias: np.ndarray       # [4H] (zeros for layer norm)
    recurrent: np.ndarray  # [H, 4H]
    ln_gamma: np.ndarray | None  # [4, H] gates in order i, f, o, g
    ln_beta: np.ndarray | None   # [4, H] (forget row + 1.0)
    ln_c: tuple[np.ndarray, np.ndarray] | None
    head_w: np.ndarray     # [H, K * 8]
    head_b: np.ndarray     # [K * 8]


def _prepare(w: DecoderWeights) -> _Prepared:
    h, m, k = w.units, w.num_mixture, w.rows
    kernel = _ifco_to_ifog(w.kernel).astype(np.float32)
    recurrent = _ifco_to_ifog(w.recurrent_kernel).astype(np.float32)
    bias = _ifco_to_ifog(w.bias).astype(np.float32) if w.bias is not None else np.zeros(4 * h, np.float32)
    gamma = beta = ln_c = None
    if w.layer_norm:
        g, b = w.ln_gamma.astype(np.float32), w.ln_beta.astype(np.float32).copy()
        b[1] += 1.0  # the cell adds 1.0 to the normalised forget gate
        order = [0, 1, 3, 2]  # i, f, g, o -> i, f, o, g
        gamma, beta = g[order], b[order]
        ln_c = (g[4].copy(), b[4].copy())
    head_w = np.zeros((h, k, HEAD_COLUMNS), np.float32)
    head_b = np.zeros((k, HEAD_COLUMNS), np.float32)
    ow, ob = w.out_kernel.astype(np.float32), w.out_bias.astype(np.float32)

    def block(j: int) -> slice:  # pi, mu_x, mu_y, log s_x, log s_y, corr
        return slice(3 + j * m, 3 + (j + 1) * m)

    head_w[:, :m, 0], head_b[:m, 0], head_b[m:, 0] = ow[:, block(0)], ob[block(0)], LOGIT_PAD
    head_w[:, :3, 1], head_b[:3, 1], head_b[3:, 1] = ow[:, 0:3], ob[0:3], LOGIT_PAD
    for j, column in ((1, 2), (2, 3), (3, 4), (4, 5), (5, 7)):
        head_w[:, :m, column], head_b[:m, column] = ow[:, block(j)], ob[block(j)]
    return _Prepared(w_xy=kernel[0:2], w_pen=kernel[2:5], w_z=kernel[5:] if w.conditional else None, bias=bias,
                     recurrent=recurrent, ln_gamma=gamma, ln_beta=beta, ln_c=ln_c,
                     head_w=head_w.reshape(h, k * HEAD_COLUMNS), head_b=head_b.reshape(k * HEAD_COLUMNS))


class _Weights:
    """Initializer names of the prepared weights, each added to the model the first time a graph uses it (in the
    precision the model asks for), so no model carries a weight it never reads."""

    def __init__(self, b: _Builder, p: _Prepared, precision: str):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.precision = precision
        self.units = p.recurrent.shape[0]
        self.layer_norm = p.ln_gamma is not None
        self._b, self._p, self._names = b, p, {}

    def _const(self, key: str, make) -> str:
        if key not in self._names:
            self._names[key] = self._b.const(key, make())
        return self._names[key]

    def __getattr__(self, key: str) -> str:
        if key.startswith("_"):
            raise AttributeError(key)
        p, h = self._p, self.units
        makers = {
            "w_xy": lambda: p.w_xy,
            "w_pen": lambda: p.w_pen,
            "w_z": lambda: p.w_z,
            "bias": lambda: p.bias,
            "head_b": lambda: p.head_b,
            "recurrent": lambda: p.recurrent,
            "head_w": lambda: p.head_w,
            "recurrent_q": lambda: quantize_columns(p.recurrent)[0],
            "recurrent_scale": lambda: quantize_columns(p.recurrent)[1],
            "head_q": lambda: quantize_columns(p.head_w)[0],
            "head_scale": lambda: quantize_columns(p.head_w)[1],
            "ln_ones": lambda: np.ones(h, np.float32),
            "ln_zeros": lambda: np.zeros(h, np.float32),
            "ln_gamma": lambda: p.ln_gamma,
            "ln_beta": lambda: p.ln_beta,
            "ln_c_gamma": lambda: p.ln_c[0],
            "ln_c_beta": lambda: p.ln_c[1],
            "gates_3d": lambda: np.array([0, 4, h], np.int64),
            "gates_2d": lambda: np.array([0, 4 * h], np.int64),
            "split_gates": lambda: np.array([3 * h, h], np.int64),
            "split_ifo": lambda: np.array([h] * 3, np.int64),
        }
        if key not in makers:
            raise AttributeError(key)
        return self._const(key, makers[key])


class _HState:
    """h as the step needs it: fp32, or (for int8) quantised once and shared by both matrix products."""

    def __init__(self, h: str | None = None, q: tuple[str, str, str] | None = None):
        self.h, self.q = h, q


def _quantize_h(b: _Builder, h: str) -> tuple[str, str, str]:
    q, scale, zero = b.op("DynamicQuantizeLinear", [h], 3)
    return q, scale, zero


def _matmul(b: _Builder, wts: _Weights, hs: _HState, which: str, bias: str | None = None) -> str:
    """h @ W for W = recurrent kernel or output head, in the model's precision."""
    if wts.precision == "fp32":
        weight = wts.recurrent if which == "recurrent" else wts.head_w
        if bias is not None:
            return b.op1("Gemm", [hs.h, weight, bias])
        return b.op1("MatMul", [hs.h, weight])
    weight, scale = ((wts.recurrent_q, wts.recurrent_scale) if which == "recurrent" else (wts.head_q, wts.head_scale))
    q, q_scale, q_zero = hs.q
    inputs = [q, weight, q_scale, scale, q_zero, ""] + ([bias] if bias is not None else [])
    return b.op1("MatMulIntegerToFloat", inputs, domain=MS_DOMAIN)


def _cell(b: _Builder, wts: _Weights, gates: str, c: str, c_out: str | None = None,
          h_out: str | None = None) -> tuple[str, str]:
    """LSTM cell from gate pre-activations [B, 4H] in order i, f, o, g -> (h_new, c_new)."""
    if wts.layer_norm:
        g3 = b.op1("Reshape", [gates, wts.gates_3d])
        normed = b.op1("LayerNormalization", [g3, wts.ln_ones, wts.ln_zeros], axis=-1, epsilon=LN_EPSILON)
        scaled = b.op1("Add", [b.op1("Mul", [normed, wts.ln_gamma]), wts.ln_beta])
        gates = b.op1("Reshape", [scaled, wts.gates_2d])
    ifo_pre, g_pre = b.op("Split", [gates, wts.split_gates], 2, axis=1)
    ifo = b.op1("Sigmoid", [ifo_pre])
    g = b.op1("Tanh", [g_pre])
    i, f, o = b.op("Split", [ifo, wts.split_ifo], 3, axis=1)
    c_new = b.op1("Add", [b.op1("Mul", [f, c]), b.op1("Mul", [i, g])], output=c_out)
    c_read = c_new
    if wts.layer_norm:
        c_read = b.op1("LayerNormalization", [c_new, wts.ln_c_gamma, wts.ln_c_beta], axis=-1, epsilon=LN_EPSILON)
    h_new = b.op1("Mul", [o, b.op1("Tanh", [c_read])], output=h_out)
    return h_new, c_new


def _model(graph: onnx.GraphProto, precision: str, doc: str) -> onnx.ModelProto:
    opsets = [helper.make_opsetid("", OPSET)]
    if precision == "int8":
        opsets.append(helper.make_opsetid(MS_DOMAIN, 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="sketchgen-export", doc_string=doc)
    model.ir_version = min(model.ir_version, 8)
    return model


_F = TensorProto.FLOAT
_I64 = TensorProto.INT64


def _vi(name: str, elem: int, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def _pen_table(b: _Builder, wts: _Weights, conditional: bool) -> tuple[str, int]:
    """Gate contribution of each pen state plus the per-call bias (z @ W_z + b for conditional models):
    [B, 3, 4H] (conditional) or [3, 4H], and the batch_dims to gather from it."""
    if conditional:
        bz = b.op1("Gemm", ["z", wts.w_z, wts.bias])                                      # [B, 4H]
        return b.op1("Add", [b.op1("Unsqueeze", [bz, b.const("ax1", np.array([1], np.int64))]), wts.w_pen]), 1
    return b.op1("Add", [wts.w_pen, wts.bias]), 0


def _input_gates(b: _Builder, wts: _Weights, x: str, table: str, batch_dims: int) -> tuple[str, str]:
    """(pen index [B, 1], gate pre-activations from a stroke-5 row x) computed exactly as the loop body computes
    them for its own samples, so the step graph and the sampler agree to the last bit (this matters for int8: a
    1-ulp difference can move h across a quantisation level)."""
    pen = b.op1("ArgMax", [b.op1("Slice", [x, b.const("c2", np.array([2], np.int64)),
                                           b.const("c5", np.array([5], np.int64)),
                                           b.const("ax1b", np.array([1], np.int64))])], axis=1, keepdims=1)
    xy = b.op1("Slice", [x, b.const("c0", np.array([0], np.int64)), b.const("c2b", np.array([2], np.int64)),
                         b.const("ax1c", np.array([1], np.int64))])
    gates = b.op1("Gemm", [xy, wts.w_xy, b.op1("GatherND", [table, pen], batch_dims=batch_dims)])
    return pen, gates


# -- the fused sampling loop -------------------------------------------------------------------------------------

def build_sampler(w: DecoderWeights, precision: str = "fp32") -> onnx.ModelProto:
    """decoder_sample.onnx: inputs [z,] h0, c0, x0, noise_logits, noise_angle, stop_pen -> offsets, pens.

    ``x0`` [B, 5] is the last point before the first sampled one (the start token, or the last point of a prefix).
    The loop runs T = len(noise_angle) steps at most and stops early once every row has drawn its end-of-sketch,
    unless ``stop_pen`` (int64 scalar, 2 normally) is 3. Outputs: ``offsets`` [S, B, 2] (normalised dx, dy) and
    ``pens`` [S, B, 1] int64 (0 pen down, 1 pen up, 2 end of sketch), S <= T.
    """
    h_units, k = w.units, w.rows
    inits: list[onnx.TensorProto] = []
    outer = _Builder(inits, "")
    p = _prepare(w)
    wts = _Weights(outer, p, precision)

    # per-call set-up outside the loop: z's share of the gates, the input table for the pen states, x0's gates
    table, pen_batch_dims = _pen_table(outer, wts, w.conditional)
    pen0, gx0 = _input_gates(outer, wts, "x0", table, pen_batch_dims)
    steps = outer.op1("Gather", [outer.op1("Shape", ["noise_angle"]), outer.const("zero", np.array(0, np.int64))],
                      axis=0)
    keep_going = outer.const("true", np.array(True))
    if precision == "int8":
        state0 = list(_quantize_h(outer, "h0"))
    else:
        state0 = ["h0"]

    # the loop body: one decoder step and one sample
    body = _Builder(inits, "step/")
    g_t = body.op1("Gather", ["noise_logits", "i"], axis=0)                                # [B, K, 8]
    a_t = body.op1("Gather", ["noise_angle", "i"], axis=0)                                 # [B, 2]
    if precision == "int8":
        hs = _HState(q=("hq", "hq_scale", "hq_zero"))
    else:
        hs = _HState(h="h")
    gates = body.op1("Add", ["gx", _matmul(body, wts, hs, "recurrent")])
    h_new, _ = _cell(body, wts, gates, "c", c_out="c_out", h_out=None if precision == "int8" else "h_out")
    if precision == "int8":
        q = body.op("DynamicQuantizeLinear", [h_new], ["hq_out", "hq_scale_out", "hq_zero_out"])
        hs_new = _HState(q=tuple(q))
    else:
        hs_new = _HState(h=h_new)
    raw = _matmul(body, wts, hs_new, "head", bias=wts.head_b)                              # [B, K*8]
    raw3 = body.op1("Reshape", [raw, outer.const("head_shape", np.array([-1, k, HEAD_COLUMNS], np.int64))])
    noisy = body.op1("Add", [raw3, g_t])
    chosen = body.op1("ArgMax", [noisy], axis=1, keepdims=0)                               # [B, 8]
    k_mix, k_pen, _ = body.op("Split", [chosen, outer.const("split_chosen", np.array([1, 1, HEAD_COLUMNS - 2],
                                                                                      np.int64))],
                              [body._name("k_mix"), "pen_out", body._name("unused")], axis=1)
    row = body.op1("GatherND", [noisy, k_mix], batch_dims=1)                               # [B, 8]
    _, mu, log_s, corr = body.op("Split", [row, outer.const("split_row", np.array([2, 2, 2, 2], np.int64))], 4,
                                 axis=1)
    phi = body.op1("Asin", [body.op1("Tanh", [corr])])                                    # [0, asin(rho)]
    direction = body.op1("Sin", [body.op1("Add", [phi, a_t])])                            # [cos a, sin(a + phi)]
    body.op1("Add", [mu, body.op1("Mul", [body.op1("Exp", [log_s]), direction])], output="offset_out")
    pen_row = body.op1("GatherND", [table, "pen_out"], batch_dims=pen_batch_dims)          # [B, 4H]
    body.op1("Gemm", ["offset_out", wts.w_xy, pen_row], output="gx_out")
    body.op1("Max", ["ended", "pen_out"], output="ended_out")
    body.op1("Less", [body.op1("ReduceMin", ["ended_out"], keepdims=0), "stop_pen"], output="cond_out")

    if precision == "int8":
        carried_in = [_vi("hq", TensorProto.UINT8, ["B", h_units]), _vi("hq_scale", _F, []),
                      _vi("hq_zero", TensorProto.UINT8, [])]
        carried_out = [_vi("hq_out", TensorProto.UINT8, ["B", h_units]), _vi("hq_scale_out", _F, []),
                       _vi("hq_zero_out", TensorProto.UINT8, [])]
    else:
        carried_in = [_vi("h", _F, ["B", h_units])]
        carried_out = [_vi("h_out", _F, ["B", h_units])]
    carried_in += [_vi("c", _F, ["B", h_units]), _vi("gx", _F, ["B", 4 * h_units]), _vi("ended", _I64, ["B", 1])]
    carried_out += [_vi("c_out", _F, ["B", h_units]), _vi("gx_out", _F, ["B", 4 * h_units]),
                    _vi("ended_out", _I64, ["B", 1])]
    body_graph = helper.make_graph(
        body.nodes, "decoder_step_and_sample",
        [_vi("i", _I64, []), _vi("cond_in", TensorProto.BOOL, [])] + carried_in,
        [_vi("cond_out", TensorProto.BOOL, [])] + carried_out
        + [_vi("offset_out", _F, ["B", 2]), _vi("pen_out", _I64, ["B", 1])])
    n_carried = len(carried_in)
    finals = [f"final_{j}" for j in range(n_carried)]
    outer.nodes.append(helper.make_node("Loop", [steps, keep_going] + state0 + ["c0", gx0, pen0],
                                        finals + ["offsets", "pens"], body=body_graph, name="sampling_loop"))
    inputs = ([_vi("z", _F, ["B", w.z_size])] if w.conditional else []) + [
        _vi("h0", _F, ["B", h_units]), _vi("c0", _F, ["B", h_units]), _vi("x0", _F, ["B", 5]),
        _vi("noise_logits", _F, ["T", "B", k, HEAD_COLUMNS]), _vi("noise_angle", _F, ["T", "B", 2]),
        _vi("stop_pen", _I64, [])]
    outputs = [_vi("offsets", _F, ["S", "B", 2]), _vi("pens", _I64, ["S", "B", 1])]
    graph = helper.make_graph(outer.nodes, "decoder_sample", inputs, outputs, inits)
    return _model(graph, precision, f"sketch-rnn sampling loop ({precision})")


# -- one decoder step in the same arithmetic (quality measurement, tests) ----------------------------------------

def build_step(w: DecoderWeights, precision: str = "fp32") -> onnx.ModelProto:
    """A decoder_step.onnx work-alike (same inputs and outputs) computed the way the sampler computes it."""
    h_units, k, m = w.units, w.rows, w.num_mixture
    inits: list[onnx.TensorProto] = []
    b = _Builder(inits, "")
    p = _prepare(w)
    wts = _Weights(b, p, precision)
    table, pen_batch_dims = _pen_table(b, wts, w.conditional)
    _, gx = _input_gates(b, wts, "x", table, pen_batch_dims)
    hs = _HState(q=_quantize_h(b, "h")) if precision == "int8" else _HState(h="h")
    gates = b.op1("Add", [gx, _matmul(b, wts, hs, "recurrent")])
    h_new, _ = _cell(b, wts, gates, "c", c_out="c_out", h_out="h_out")
    hs_new = _HState(q=_quantize_h(b, h_new)) if precision == "int8" else _HState(h=h_new)
    raw = _matmul(b, wts, hs_new, "head", bias=wts.head_b)
    raw3 = b.op1("Reshape", [raw, b.const("head_shape", np.array([-1, k, HEAD_COLUMNS], np.int64))])
    cols = b.op("Split", [raw3, b.const("split_cols", np.ones(HEAD_COLUMNS, np.int64))], HEAD_COLUMNS, axis=2)
    squeeze_axis = b.const("ax2", np.array([2], np.int64))
    pi_all, pen_all, mu_x, mu_y, ls_x, ls_y, _, corr = [b.op1("Squeeze", [c, squeeze_axis]) for c in cols]

    def first(name: str, x: str, n: int, out: str) -> str:
        return b.op1("Slice", [x, b.const(f"{name}_s", np.array([0], np.int64)),
                               b.const(f"{name}_e", np.array([n], np.int64)),
                               b.const(f"{name}_a", np.array([1], np.int64))], output=out)

    first("pi", pi_all, m, "pi")
    first("pen", pen_all, 3, "pen")
    first("mux", mu_x, m, "mu_x")
    first("muy", mu_y, m, "mu_y")
    first("sx", b.op1("Exp", [ls_x]), m, "sigma_x")
    first("sy", b.op1("Exp", [ls_y]), m, "sigma_y")
    first("rho", b.op1("Tanh", [corr]), m, "rho")
    inputs = [_vi("x", _F, ["B", 5])] + ([_vi("z", _F, ["B", w.z_size])] if w.conditional else []) + [
        _vi("h", _F, ["B", h_units]), _vi("c", _F, ["B", h_units])]
    outputs = [_vi(n, _F, ["B", m]) for n in ("pi", "mu_x", "mu_y", "sigma_x", "sigma_y", "rho")] + [
        _vi("pen", _F, ["B", 3]), _vi("h_out", _F, ["B", h_units]), _vi("c_out", _F, ["B", h_units])]
    graph = helper.make_graph(b.nodes, "decoder_step", inputs, outputs, inits)
    return _model(graph, precision, f"sketch-rnn decoder step ({precision})")


# -- priming the decoder with a prefix ---------------------------------------------------------------------------

def build_prime(w: DecoderWeights) -> onnx.ModelProto:
    """decoder_prime.onnx: runs the decoder teacher-forced over ``strokes`` [B, T, 5] (start token first) from
    ``h0``, ``c0`` and returns the state after ``lengths`` [B] int32 (>= 1) steps of each row: ``h``, ``c``.

    A plain LSTM decoder becomes one native ONNX ``LSTM`` op (its ``sequence_lens`` stops each row at its length);
    a layer-norm decoder, which no ONNX LSTM op can express, runs the same cell as the sampler inside a ``Loop``.
    """
    h_units = w.units
    inits: list[onnx.TensorProto] = []
    b = _Builder(inits, "")
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
        def iofc(a: np.ndarray) -> np.ndarray:  # Keras i, f, c, o -> ONNX LSTM i, o, f, c
            i, f, c, o = np.split(a, 4, axis=-1)
            return np.concatenate([i, o, f, c], axis=-1)
        w_in = b.const("W", iofc(w.kernel).T[None].astype(np.float32))                      # [1, 4H, in]
        w_rec = b.const("R", iofc(w.recurrent_kernel).T[None].astype(np.float32))           # [1, 4H, H]
        bias = np.concatenate([iofc(w.bias), np.zeros(4 * h_units, np.float32)])[None].astype(np.float32)
        a0 = b.const("ax0", np.array([0], np.int64))
        _, h_last, c_last = b.op("LSTM", [seq_in, w_in, w_rec, b.const("B", bias), "lengths",
                                          b.op1("Unsqueeze", ["h0", a0]), b.op1("Unsqueeze", ["c0", a0])],
                                 ["", b._name("y_h"), b._name("y_c")], hidden_size=h_units)
        b.op1("Squeeze", [h_last, a0], output="h")
        b.op1("Squeeze", [c_last, a0], output="c")
    else:
        p = _prepare(w)
        wts = _Weights(b, p, "fp32")
        x_kernel = np.concatenate([p.w_xy, p.w_pen] + ([p.w_z] if p.w_z is not None else []))
        proj = b.op1("Add", [b.op1("MatMul", [seq_in, b.const("x_kernel", x_kernel)]), wts.bias])  # [T, B, 4H]
        steps = b.op1("Gather", [b.op1("Shape", [seq]), b.const("zero", np.array(0, np.int64))], axis=0)
        lengths = b.op1("Unsqueeze", [b.op1("Cast", ["lengths"], to=_I64), b.const("a1", np.array([1], np.int64))])
        body = _Builder(inits, "prime/")
        x_t = body.op1("Gather", [proj, "i"], axis=0)
        gates = body.op1("Add", [x_t, body.op1("MatMul", ["h", wts.recurrent])])
        h_new, c_new = _cell(body, wts, gates, "c")
        active = body.op1("Less", ["i", lengths])                                          # [B, 1]
        body.op1("Where", [active, h_new, "h"], output="h_out")
        body.op1("Where", [active, c_new, "c"], output="c_out")
        body.nodes.append(helper.make_node("Identity", ["cond_in"], ["cond_out"]))
        body_graph = helper.make_graph(
            body.nodes, "prime_step",
            [_vi("i", _I64, []), _vi("cond_in", TensorProto.BOOL, []), _vi("h", _F, ["B", h_units]),
             _vi("c", _F, ["B", h_units])],
            [_vi("cond_out", TensorProto.BOOL, []), _vi("h_out", _F, ["B", h_units]), _vi("c_out", _F, ["B", h_units])])
        b.nodes.append(helper.make_node("Loop", [steps, b.const("true", np.array(True)), "h0", "c0"], ["h", "c"],
                                        body=body_graph, name="prime_loop"))
    inputs = [_vi("strokes", _F, ["B", "T", 5]), _vi("lengths", TensorProto.INT32, ["B"])] + (
        [_vi("z", _F, ["B", w.z_size])] if w.conditional else []) + [
        _vi("h0", _F, ["B", h_units]), _vi("c0", _F, ["B", h_units])]
    outputs = [_vi("h", _F, ["B", h_units]), _vi("c", _F, ["B", h_units])]
    graph = helper.make_graph(b.nodes, "decoder_prime", inputs, outputs, inits)
    return _model(graph, "fp32", "sketch-rnn decoder primed with a prefix (teacher forcing)")


# -- the encoder as one bidirectional LSTM op (fp32 twin for checking, int8 for speed) ---------------------------

@dataclass
class EncoderWeights:
    """A plain-LSTM encoder's weights (Keras layout, gates i, f, c, o) and its two dense heads."""

    kernels: tuple[np.ndarray, np.ndarray]            # forward, backward: [5, 4H]
    recurrent_kernels: tuple[np.ndarray, np.ndarray]  # [H, 4H]
    biases: tuple[np.ndarray, np.ndarray]             # [4H]
    mu: tuple[np.ndarray, np.ndarray]                 # kernel [2H, Nz], bias [Nz]
    logvar: tuple[np.ndarray, np.ndarray]

    @property
    def units(self) -> int:
        return int(self.recurrent_kernels[0].shape[0])

    @property
    def z_size(self) -> int:
        return int(self.mu[0].shape[1])

    @classmethod
    def from_model(cls, model) -> "EncoderWeights":
        as_np = lambda v: np.asarray(v.numpy(), dtype=np.float32)  # noqa: E731
        cells = (model.enc_fw.cell, model.enc_bw.cell)
        return cls(kernels=tuple(as_np(c.kernel) for c in cells),
                   recurrent_kernels=tuple(as_np(c.recurrent_kernel) for c in cells),
                   biases=tuple(as_np(c.bias) for c in cells),
                   mu=(as_np(model.mu_head.kernel), as_np(model.mu_head.bias)),
                   logvar=(as_np(model.logvar_head.kernel), as_np(model.logvar_head.bias)))


def build_encoder(w: EncoderWeights, precision: str = "int8") -> onnx.ModelProto:
    """encoder.onnx's contract (strokes [B, T, 5], lengths [B] -> mu, logvar) as ONE bidirectional LSTM op.

    ONNX's reverse direction with ``sequence_lens`` reads each sketch from its own last point back to its first:
    exactly the training model's backward pass over ``reverse_sequence``; ``Y_h`` holds both final states. fp32 uses
    the standard ``LSTM`` op (the export checks it against TensorFlow); int8 uses ONNX Runtime's
    ``DynamicQuantizeLSTM`` (int8 weights, one scale per gate column, inputs quantised per call), 2-3x faster.
    """
    h = w.units

    def iofc(a: np.ndarray) -> np.ndarray:  # Keras i, f, c, o -> ONNX i, o, f, c
        i, f, c, o = np.split(a, 4, axis=-1)
        return np.concatenate([i, o, f, c], axis=-1)

    inits: list[onnx.TensorProto] = []
    b = _Builder(inits, "")
    kernel = np.stack([iofc(k) for k in w.kernels]).astype(np.float32)               # [2, 5, 4H]
    recurrent = np.stack([iofc(r) for r in w.recurrent_kernels]).astype(np.float32)   # [2, H, 4H]
    bias = np.stack([np.concatenate([iofc(x), np.zeros(4 * h, np.float32)]) for x in w.biases]).astype(np.float32)
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
        b.nodes, "encoder", [_vi("strokes", _F, ["B", "T", 5]), _vi("lengths", TensorProto.INT32, ["B"])],
        [_vi("mu", _F, ["B", w.z_size]), _vi("logvar", _F, ["B", w.z_size])], inits)
    return _model(graph, precision, f"sketch-rnn encoder, one bidirectional LSTM ({precision})")
