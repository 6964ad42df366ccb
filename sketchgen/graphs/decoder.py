"""ONNX graphs built straight from the decoder's weights: the fused sampling loop, the prefix primer and a
single decoder step in the same arithmetic (fp32 or int8).

Why: one ONNX Runtime call costs about as much as a whole decoder step, so a sketch drawn by a Python loop over
``decoder_step.onnx`` spends most of its time crossing into ONNX Runtime. ``decoder_sample.onnx`` runs the whole
loop (LSTM step, mixture head, sampling, end-of-sketch test) inside one ONNX ``Loop``. Inside it every op carries
ONNX Runtime overhead besides its arithmetic, so the step is built from as few ops as the arithmetic allows (one
matrix product; see :func:`build_sampler`; timings in bench/results/).

Sampling uses noise drawn by the caller, so it is seeded and exactly reproducible, and a plain Python loop over
the step graph with the same noise gives the same sketch:

- the mixture component and the pen state are ``argmax(logits + t * g)`` with g standard Gumbel noise: for
  t > 0 this is exactly a draw from ``softmax(logits / t)`` (sketch-rnn's temperature), and t = 0 is the
  greedy argmax, with no division by t anywhere (no NaN near 0);
- the offset is sketch-rnn's correlated Gaussian with sigma scaled by s, written in Box-Muller polar
  form: with ``R = sqrt(-2 ln u1)``, ``a = 2 pi u2`` and ``phi = asin(rho)``,
  ``dx = mu_x + sigma_x s R cos(a)`` and ``dy = mu_y + sigma_y s R sin(a + phi)``, which is
  ``(n1, rho n1 + sqrt(1 - rho^2) n2)`` for the independent normals ``n1 = R cos a``, ``n2 = R sin a``.

The discrete temperature t and the sigma scale s come from the user's temperature by a temperature rule (the
official JS library's, the paper's or magenta's Python: ``sketchgen.engine.sampling.temperatures``); both live in
the noise alone, so one graph samples under every rule.

The caller passes the noise as two tensors (see :func:`noise_layout` and ``sketchgen.engine.sampling``):
``noise_logits [T, B, K, 8]`` is added to the head's output laid out as ``[B, K, 8]`` (per component: pi logit,
pen logit, mu_x, mu_y, log sigma_x, log sigma_y, 0, rho logit; K = max(M, 3), pen logits live in the first 3
rows, the graph gives unused rows the logit -1e9) and carries ``t * g`` in columns 0-1 and ``ln(s R)``
in columns 4-5; ``noise_angle [T, B, 2]`` holds ``(a + pi / 2, a)``.

int8: the one weight matrix read every step (recurrent kernel and output head side by side) is int8 with one
scale for the whole matrix (ONNX Runtime's fast ``QGemm`` path) or, where the export's test-set L_R check asks
for it, one scale per output column; h, always in (-1, 1), is quantised with a fixed scale (1/127). The third
layout, "gates", keeps the output head in fp32 on float h and makes only the recurrent kernel int8 (one scale per
column): the head's rounding (mu, log sigma) is what shows in L_R, the gates' hardly does (each shipped card's
``precision.int8.tried`` records what every layout cost). Everything else stays fp32.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from sketchgen.graphs.builder import FLOAT, INT64, MS_DOMAIN, Builder, make_model, vi
from sketchgen.graphs.layout import INT8_SCALES, LN_EPSILON, DecoderWeights, Prepared, prepare, quantize_int8
from sketchgen.model_folder import HEAD_COLUMNS, PRECISIONS

H_SCALE = 1.0 / 127.0   # int8: fixed quantisation of h in (-1, 1) to uint8 (zero point 128)
H_ZERO = 128
UNROLL = 10             # decoder steps per iteration of the sampler's Loop
BIAS_UNITS = 2.0 ** 30  # int8: |bias| in QGemm accumulator units saturates here (int32 sums stay in range)


class Weights:
    """Initializer names of the prepared weights, each added to the model the first time a graph uses it (in the
    precision the model asks for), so no model carries a weight it never reads."""

    def __init__(self, b: Builder, p: Prepared, precision: str, scales: str = "tensor"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if scales not in INT8_SCALES:
            raise ValueError(f"scales must be one of {INT8_SCALES}, got {scales!r}")
        self.precision = precision
        self.scales = scales
        self.units = p.recurrent.shape[0]
        self.layer_norm = p.ln_gamma is not None
        self._b, self._p, self._names = b, p, {}
        self._quantized: tuple[np.ndarray, np.ndarray] | None = None

    def _const(self, key: str, make) -> str:
        if key not in self._names:
            self._names[key] = self._b.const(key, make())
        return self._names[key]

    @property
    def fp32_head(self) -> bool:
        """The "gates" layout: int8 only for the recurrent kernel, the output head stays fp32 (on float h)."""
        return self.precision == "int8" and self.scales == "gates"

    def quantized(self) -> tuple[np.ndarray, np.ndarray]:
        if self._quantized is None:
            matrix = self._p.recurrent if self.fp32_head else self._p.step_w
            self._quantized = quantize_int8(matrix, per_column=self.scales in ("column", "gates"))
        return self._quantized

    def _unit(self) -> np.float32:
        """What one unit of the int8 product's int32 sum is worth: h's scale times the weights' (single) scale."""
        return np.float32(np.float32(H_SCALE) * self.quantized()[1])

    def __getattr__(self, key: str) -> str:
        if key.startswith("_"):
            raise AttributeError(key)
        p, h = self._p, self.units
        n_head = p.head_w.shape[1]
        makers = {
            "w_x": lambda: np.concatenate([p.w_xy, p.w_pen]),                       # [5, 4H]
            "w_x_ifo": lambda: np.concatenate([p.w_xy, p.w_pen])[:, :3 * h],
            "w_x_g": lambda: np.concatenate([p.w_xy, p.w_pen])[:, 3 * h:],
            "recurrent": lambda: p.recurrent,
            "w_z_step": lambda: p.w_z if self.fp32_head else np.concatenate(
                [p.w_z, np.zeros((p.w_z.shape[0], n_head), np.float32)], axis=1),
            "step_bias": lambda: p.bias if self.fp32_head else p.step_bias,
            "step_bias_q": lambda: np.round(np.clip((p.bias if self.fp32_head else p.step_bias) / self._unit(),
                                                    -BIAS_UNITS, BIAS_UNITS)).astype(np.int32),
            "head_w": lambda: p.head_w,
            "head_b": lambda: p.head_b,
            "accumulator_scale": lambda: np.array(self._unit(), np.float32),
            "bias_units_low": lambda: np.array(-BIAS_UNITS, np.float32),
            "bias_units_high": lambda: np.array(BIAS_UNITS, np.float32),
            "head_pad": lambda: p.head_pad,
            "step_w": lambda: p.step_w,
            "step_q": lambda: self.quantized()[0],
            "step_scale": lambda: self.quantized()[1],
            "w_zero": lambda: np.zeros(self.quantized()[1].shape, np.int8),
            "h_scale": lambda: np.array(H_SCALE, np.float32),
            "h_zero": lambda: np.array(H_ZERO, np.uint8),
            "pen_eye": lambda: np.eye(3, dtype=np.float32),
            "split_step": lambda: np.array(([4 * h] if self.layer_norm else [3 * h, h])
                                           + ([] if self.fp32_head else [n_head]), np.int64),
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


def _in_accumulator_units(wts: Weights) -> bool:
    """int8 with one weight scale: the step product's bias goes into QGemm's int32 bias input (free); one scale per
    column would make a unit too small for a bias in some columns, so that layout adds the bias after (one op)."""
    return wts.precision == "int8" and wts.scales == "tensor"


def _call_bias(b: Builder, wts: Weights, conditional: bool) -> str:
    """The bias of the step product for this call, [B, 4H + 8K] (or [4H + 8K] without z): z's share of the gates
    plus the gate bias, then the head's bias. Computed once per call, so no step adds it. In QGemm's int32
    accumulator units where :func:`_in_accumulator_units` (a rounding of at most half a unit, ~2e-5 for the sheep
    model; values beyond +-2^30 units, far past any sane bias, saturate instead of wrapping around)."""
    if not conditional:
        return wts.step_bias_q if _in_accumulator_units(wts) else wts.step_bias
    bias = b.op1("Gemm", ["z", wts.w_z_step, wts.step_bias])
    if not _in_accumulator_units(wts):
        return bias
    units = b.op1("Clip", [b.op1("Div", [bias, wts.accumulator_scale]), wts.bias_units_low, wts.bias_units_high])
    return b.op1("Cast", [b.op1("Round", [units])], to=TensorProto.INT32)


def _step_matmul(b: Builder, wts: Weights, h: str, bias: str) -> tuple[list[str], str]:
    """(h @ R + gate bias, h @ W_head + head bias) as ONE matrix product with [R | W_head], split after; the
    recurrent share comes as [i f o | g] columns (plain LSTM) or all four gates (layer norm): see :func:`_pre`.

    int8: h lies in (-1, 1) (o * tanh(.)), so it is quantised with a FIXED scale (1/127, zero point 128: no
    min/max search per step); ONNX Runtime's ``QGemm`` multiplies it by the int8 weights (one scale for the whole
    matrix: its fast path; one scale per column costs ~4 us more per step), adds the per-call bias and returns
    floats, one op (per-column scales: plus an Add for the bias). On the 2-core CI CPU, 512 x 2208: ~15 us,
    against ~22 us for the dynamic quantisation + ``MatMulIntegerToFloat`` it replaces and ~150 us for fp32
    (4.5 MB that do not fit the 2 MB L2). The "gates" layout: QGemm over the recurrent kernel only (one scale per
    column, the bias added after), and the head as an fp32 ``Gemm`` on float h."""
    if wts.precision == "fp32":
        y = b.op1("Gemm", [h, wts.step_w, bias])
    else:
        hq = b.op1("QuantizeLinear", [h, wts.h_scale, wts.h_zero])
        product = [hq, wts.h_scale, wts.h_zero, wts.step_q, wts.step_scale, wts.w_zero]
        if _in_accumulator_units(wts):
            y = b.op1("QGemm", product + [bias], domain=MS_DOMAIN)
        else:
            y = b.op1("Add", [b.op1("QGemm", product, domain=MS_DOMAIN), bias])
    if wts.fp32_head:  # "gates": the head is the part whose rounding shows in L_R (mu, log sigma), so fp32 on float h
        rec = [y] if wts.layer_norm else b.op("Split", [y, wts.split_step], 2, axis=1)
        return rec, b.op1("Gemm", [h, wts.head_w, wts.head_b])
    *rec, head = b.op("Split", [y, wts.split_step], 2 if wts.layer_norm else 3, axis=1)
    return rec, head


def _pre(b: Builder, wts: Weights, x: str, rec: list[str], outputs: list[str] | None = None) -> list[str]:
    """What the cell reads, from a stroke-5 row x [B, 5] and the recurrent share (which carries the biases).

    Plain LSTM: the activated gates [sigmoid(i f o), tanh(g)], each ONE ``FusedGemm`` (x @ W_x + rec, then the
    activation: one op instead of Gemm, Split, Sigmoid, Tanh). Layer norm (normalised before the activations):
    the pre-activations [B, 4H] from one Gemm. The sampler and the step graph run the same ops on the same
    operands, so both agree to the last bit (this matters for int8: a 1-ulp difference can move h across a
    quantisation level)."""
    outputs = outputs or [None] * len(rec)
    if wts.layer_norm:
        return [b.op1("Gemm", [x, wts.w_x, rec[0]], output=outputs[0])]
    return [b.op1("FusedGemm", [x, wts.w_x_ifo, rec[0]], output=outputs[0], domain=MS_DOMAIN, activation="Sigmoid"),
            b.op1("FusedGemm", [x, wts.w_x_g, rec[1]], output=outputs[1], domain=MS_DOMAIN, activation="Tanh")]


def cell(b: Builder, wts: Weights, pre: list[str], c: str, c_out: str | None = None,
          h_out: str | None = None) -> tuple[str, str]:
    """LSTM cell from what :func:`_pre` gives (gate order i, f, o, g) -> (h_new, c_new)."""
    if wts.layer_norm:
        g3 = b.op1("Reshape", [pre[0], wts.gates_3d])
        normed = b.op1("LayerNormalization", [g3, wts.ln_ones, wts.ln_zeros], axis=-1, epsilon=LN_EPSILON)
        scaled = b.op1("Add", [b.op1("Mul", [normed, wts.ln_gamma]), wts.ln_beta])
        gates = b.op1("Reshape", [scaled, wts.gates_2d])
        ifo_pre, g_pre = b.op("Split", [gates, wts.split_gates], 2, axis=1)
        ifo, g = b.op1("Sigmoid", [ifo_pre]), b.op1("Tanh", [g_pre])
    else:
        ifo, g = pre
    i, f, o = b.op("Split", [ifo, wts.split_ifo], 3, axis=1)
    c_new = b.op1("Add", [b.op1("Mul", [f, c]), b.op1("Mul", [i, g])], output=c_out)
    c_read = c_new
    if wts.layer_norm:
        c_read = b.op1("LayerNormalization", [c_new, wts.ln_c_gamma, wts.ln_c_beta], axis=-1, epsilon=LN_EPSILON)
    h_new = b.op1("Mul", [o, b.op1("Tanh", [c_read])], output=h_out)
    return h_new, c_new


def _pen_index(b: Builder, x: str) -> str:
    """[B, 1] pen state (0 down, 1 up, 2 end) of stroke-5 rows x [B, 5]."""
    return b.op1("ArgMax", [b.op1("Slice", [x, b.const("c2", np.array([2], np.int64)),
                                            b.const("c5", np.array([5], np.int64)),
                                            b.const("ax1b", np.array([1], np.int64))])], axis=1, keepdims=1)


def sample_point(b: Builder, noisy: str, angle: str, pen_eye: str, split_chosen: str,
                 split_row: str) -> tuple[str, str, str]:
    """One sampled point from the noisy head [B, K, 8] and the angles [B, 2] (see the module docstring):
    (offset [B, 2], pen [B, 1] int64, the stroke-5 row [B, 5] the next step reads)."""
    chosen = b.op1("ArgMax", [noisy], axis=1, keepdims=0)                                 # [B, 8]
    k_mix, pen, _ = b.op("Split", [chosen, split_chosen], 3, axis=1)                      # [B, 1] each
    row = b.op1("GatherND", [noisy, k_mix], batch_dims=1)                                 # [B, 8]
    _, mu, log_s, corr = b.op("Split", [row, split_row], 4, axis=1)
    phi = b.op1("Asin", [b.op1("Tanh", [corr])])                                          # [0, asin(rho)]
    direction = b.op1("Sin", [b.op1("Add", [phi, angle])])                                # [cos a, sin(a + phi)]
    offset = b.op1("Add", [mu, b.op1("Mul", [b.op1("Exp", [log_s]), direction])])
    x = b.op1("Concat", [offset, b.op1("GatherND", [pen_eye, pen])], axis=1)              # stroke-5 [B, 5]
    return offset, pen, x


# -- the fused sampling loop -------------------------------------------------------------------------------------

def build_sampler(w: DecoderWeights, precision: str = "fp32", unroll: int = UNROLL,
                  scales: str = "tensor") -> onnx.ModelProto:
    """decoder_sample.onnx: inputs [z,] h0, c0, x0, noise_logits, noise_angle, stop_pen -> offsets, pens.

    ``x0`` [B, 5] is the last point before the first sampled one (the start token, or the last point of a prefix).
    The loop runs T = len(noise_angle) steps at most and stops early once every row has drawn its end-of-sketch,
    unless ``stop_pen`` (int64 scalar, 2 normally) is 3. Outputs: ``offsets`` [S, B, 2] (normalised dx, dy) and
    ``pens`` [S, B, 1] int64 (0 pen down, 1 pen up, 2 end of sketch), S <= T: exactly the steps the Python loop
    (``sketchgen.engine.sampling.reference_loop``) draws, up to the one where the last row ended.

    Why it is built this way: inside ONNX Runtime's Loop every op costs ~0.3-1 us besides its arithmetic (measured
    on the 2-core CI CPU), so after the one matrix product (~15 us) the op count per step is what sets the speed.
    One step is 26 ops: the LSTM cell (6), the step product (3), the sample (15), the gates of the next step (2).

    - one matrix product per step: h_t @ [R | W_head] gives both the mixture head of step t and the recurrent share
      of step t+1's gates (see :func:`_step_matmul`), int8 with a fixed h scale: quantise, QGemm, split;
    - the biases (z's share of the gates, the gate and head biases) enter that product once per call (QGemm's and
      Gemm's bias input), not per step;
    - the sampled point goes back into the cell as a stroke-5 row (pen one-hot by a 3 x 3 lookup) through two
      ``FusedGemm`` ops that also apply the gate activations (sigmoid for i f o, tanh for g): the loop carries the
      activated gates;
    - ``unroll`` decoder steps per Loop iteration: the noise of a whole block is gathered once and split, the
      end-of-sketch test and the Loop's own per-iteration cost are paid once per block; a block may draw past the
      end, and the outputs are cut after the loop to the exact number of steps the step-by-step loop draws.

    ``scales`` (int8 only): "tensor" or "column", see :func:`quantize_int8`.
    """
    if unroll < 1:
        raise ValueError(f"unroll must be >= 1, got {unroll}")
    h_units, k = w.units, w.rows
    inits: list[onnx.TensorProto] = []
    outer = Builder(inits, "")
    p = prepare(w)
    wts = Weights(outer, p, precision, scales)
    c_ = outer.const

    def i64(hint: str, *values: int) -> str:
        return c_(hint, np.array(values, np.int64))

    # -- per-call set-up: the step product's bias (z's share of the gates), the gates of the first step
    bias = _call_bias(outer, wts, w.conditional)
    pen0 = _pen_index(outer, "x0")
    rec0, _ = _step_matmul(outer, wts, "h0", bias)
    pre0 = _pre(outer, wts, "x0", rec0)
    # noise in blocks of `unroll` steps, laid out so that one Gather + one Split per block gives each step's slice
    steps = outer.op1("Shape", ["noise_angle"], start=0, end=1)                            # [1] = T
    batch = outer.op1("Shape", ["x0"], start=0, end=1)                                     # [1] = B
    blocks = outer.op1("Div", [outer.op1("Add", [steps, i64("u_minus_1", unroll - 1)]), i64("u", unroll)])
    pad = outer.op1("Sub", [outer.op1("Mul", [blocks, i64("u2", unroll)]), steps])
    zeros3 = i64("zeros3", 0, 0, 0)
    logits = outer.op1("Pad", ["noise_logits", outer.op1("Concat", [i64("z1", 0), zeros3, pad, zeros3], axis=0)])
    logits = outer.op1("Add", [logits, wts.head_pad])      # padding rows never win (in the padded steps neither)
    angle = outer.op1("Pad", ["noise_angle", outer.op1("Concat", [i64("z1b", 0), i64("z2", 0, 0), pad,
                                                                   i64("z2b", 0, 0)], axis=0)])
    shape5 = outer.op1("Concat", [i64("m1", -1), i64("u3", unroll), batch, i64("k8", k, HEAD_COLUMNS)], axis=0)
    logits = outer.op1("Transpose", [outer.op1("Reshape", [logits, shape5])], perm=[0, 2, 3, 1, 4])
    logits = outer.op1("Reshape", [logits, i64("blk_logits", 0, 0, 0, unroll * HEAD_COLUMNS)])  # [N, B, K, U*8]
    shape4 = outer.op1("Concat", [i64("m1b", -1), i64("u4", unroll), batch, i64("two", 2)], axis=0)
    angle = outer.op1("Transpose", [outer.op1("Reshape", [angle, shape4])], perm=[0, 2, 1, 3])
    angle = outer.op1("Reshape", [angle, i64("blk_angle", 0, 0, unroll * 2)])                # [N, B, U*2]
    blocks = outer.op1("Squeeze", [blocks, i64("ax0", 0)])

    # -- the loop body: `unroll` decoder steps, each one LSTM cell, one matrix product and one sample
    body = Builder(inits, "step/")
    g_blk = body.op1("Gather", [logits, "i"], axis=0)                                      # [B, K, U*8]
    a_blk = body.op1("Gather", [angle, "i"], axis=0)                                       # [B, U*2]
    g_steps = body.op("Split", [g_blk], unroll, axis=2) if unroll > 1 else [g_blk]
    a_steps = body.op("Split", [a_blk], unroll, axis=1) if unroll > 1 else [a_blk]
    head_shape = c_("head_shape", np.array([-1, k, HEAD_COLUMNS], np.int64))
    split_chosen = i64("split_chosen", 1, 1, HEAD_COLUMNS - 2)
    split_row = i64("split_row", 2, 2, 2, 2)
    pre_names = ["gates"] if wts.layer_norm else ["ifo", "g"]
    pre, c = list(pre_names), "c"
    offsets, pens = [], []
    for u in range(unroll):
        last = u == unroll - 1
        h, c = cell(body, wts, pre, c, c_out="c_out" if last else None)
        rec, head = _step_matmul(body, wts, h, bias)
        noisy = body.op1("Add", [body.op1("Reshape", [head, head_shape]), g_steps[u]])   # [B, K, 8]
        offset, pen, x = sample_point(body, noisy, a_steps[u], wts.pen_eye, split_chosen, split_row)
        pre = _pre(body, wts, x, rec, outputs=[n + "_out" for n in pre_names] if last else None)
        offsets.append(offset)
        pens.append(pen)
    if unroll > 1:
        body.op1("Concat", offsets, output="offsets_blk", axis=1)                          # [B, U*2]
        body.op1("Concat", pens, output="pens_blk", axis=1)                                # [B, U]
    else:
        body.op1("Identity", offsets, output="offsets_blk")
        body.op1("Identity", pens, output="pens_blk")
    body.op1("Max", ["ended"] + pens, output="ended_out")
    body.op1("Less", [body.op1("ReduceMin", ["ended_out"], keepdims=0), "stop_pen"], output="cond_out")
    widths = [4 * h_units] if wts.layer_norm else [3 * h_units, h_units]
    carried = [(n, FLOAT, d) for n, d in zip(pre_names, widths)] + [("c", FLOAT, h_units), ("ended", INT64, 1)]
    body_graph = helper.make_graph(
        body.nodes, "decoder_steps_and_samples",
        [vi("i", INT64, []), vi("cond_in", TensorProto.BOOL, [])] + [vi(n, t, ["B", d]) for n, t, d in carried],
        [vi("cond_out", TensorProto.BOOL, [])] + [vi(n + "_out", t, ["B", d]) for n, t, d in carried]
        + [vi("offsets_blk", FLOAT, ["B", 2 * unroll]), vi("pens_blk", INT64, ["B", unroll])])
    finals = [outer._name("final") for _ in carried]
    offsets_blk, pens_blk = outer._name("offsets_blk"), outer._name("pens_blk")
    outer.nodes.append(helper.make_node("Loop", [blocks, c_("true", np.array(True))] + pre0 + ["c0", pen0],
                                        finals + [offsets_blk, pens_blk], body=body_graph, name="sampling_loop"))

    # -- after the loop: blocks back to steps, cut to the steps the step-by-step loop would have drawn
    shape_off = outer.op1("Concat", [i64("m1c", -1), batch, i64("u5", unroll), i64("two2", 2)], axis=0)
    all_offsets = outer.op1("Transpose", [outer.op1("Reshape", [offsets_blk, shape_off])], perm=[0, 2, 1, 3])
    all_offsets = outer.op1("Reshape", [all_offsets, outer.op1("Concat", [i64("m1d", -1), batch, i64("two3", 2)],
                                                                        axis=0)])      # [N*U, B, 2]
    all_pens = outer.op1("Transpose", [pens_blk], perm=[0, 2, 1])                           # [N, U, B]
    all_pens = outer.op1("Reshape", [all_pens, outer.op1("Concat", [i64("m1e", -1), batch, i64("one", 1)], axis=0)])
    drawn = outer.op1("Shape", [all_pens], start=0, end=1)                                  # [1] = N*U
    # step t counts as "all ended" once every row has drawn a pen >= stop_pen at or before t (or began ended)
    ended_at = outer.op1("Cast", [outer.op1("GreaterOrEqual", [all_pens, "stop_pen"])], to=INT64)
    began = outer.op1("Cast", [outer.op1("GreaterOrEqual", [pen0, "stop_pen"])], to=INT64)   # [B, 1]
    so_far = outer.op1("Add", [outer.op1("CumSum", [ended_at, c_("axis0", np.array(0, np.int64))]), began])
    all_ended = outer.op1("ReduceMin", [outer.op1("Min", [so_far, i64("one_b", 1)])], axes=[1, 2],
                          keepdims=0)                                                       # [N*U] 0 ... 0 1 ... 1
    not_ended = outer.op1("Sub", [drawn, outer.op1("ReduceSum", [all_ended], keepdims=1)])  # [1]
    count = outer.op1("Min", [outer.op1("Add", [not_ended, i64("one_c", 1)]), drawn, steps])
    start = i64("start0", 0)
    outer.op1("Slice", [all_offsets, start, count, i64("ax0b", 0)], output="offsets")
    outer.op1("Slice", [all_pens, start, count, i64("ax0c", 0)], output="pens")

    inputs = ([vi("z", FLOAT, ["B", w.z_size])] if w.conditional else []) + [
        vi("h0", FLOAT, ["B", h_units]), vi("c0", FLOAT, ["B", h_units]), vi("x0", FLOAT, ["B", 5]),
        vi("noise_logits", FLOAT, ["T", "B", k, HEAD_COLUMNS]), vi("noise_angle", FLOAT, ["T", "B", 2]),
        vi("stop_pen", INT64, [])]
    outputs = [vi("offsets", FLOAT, ["S", "B", 2]), vi("pens", INT64, ["S", "B", 1])]
    graph = helper.make_graph(outer.nodes, "decoder_sample", inputs, outputs, inits)
    return make_model(graph, f"sketch-rnn sampling loop ({precision}{'' if precision == 'fp32' else ', ' + scales}, "
                         f"{unroll} steps per Loop iteration)")


# -- one decoder step in the same arithmetic (quality measurement, tests) ----------------------------------------

def build_step(w: DecoderWeights, precision: str = "fp32", scales: str = "tensor") -> onnx.ModelProto:
    """A decoder_step.onnx work-alike (same inputs and outputs) computed the way the sampler computes it: the same
    ops on the same operands, so a Python loop over it and the sampler agree to the last bit before sampling."""
    h_units, k, m = w.units, w.rows, w.num_mixture
    inits: list[onnx.TensorProto] = []
    b = Builder(inits, "")
    p = prepare(w)
    wts = Weights(b, p, precision, scales)
    bias = _call_bias(b, wts, w.conditional)
    rec, _ = _step_matmul(b, wts, "h", bias)
    h_new, _ = cell(b, wts, _pre(b, wts, "x", rec), "c", c_out="c_out", h_out="h_out")
    _, head = _step_matmul(b, wts, h_new, bias)
    raw3 = b.op1("Reshape", [head, b.const("head_shape", np.array([-1, k, HEAD_COLUMNS], np.int64))])
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
    inputs = [vi("x", FLOAT, ["B", 5])] + ([vi("z", FLOAT, ["B", w.z_size])] if w.conditional else []) + [
        vi("h", FLOAT, ["B", h_units]), vi("c", FLOAT, ["B", h_units])]
    outputs = [vi(n, FLOAT, ["B", m]) for n in ("pi", "mu_x", "mu_y", "sigma_x", "sigma_y", "rho")] + [
        vi("pen", FLOAT, ["B", 3]), vi("h_out", FLOAT, ["B", h_units]), vi("c_out", FLOAT, ["B", h_units])]
    graph = helper.make_graph(b.nodes, "decoder_step", inputs, outputs, inits)
    return make_model(graph, f"sketch-rnn decoder step ({precision})")
