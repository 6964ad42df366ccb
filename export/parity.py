"""Parity of every exported graph with the TensorFlow model it came from; the export stops on any mismatch.

Each graph runs in ONNX Runtime on random inputs and on real sketches (when the data is at hand) and must match
TensorFlow within 1e-4 max abs. The fused samplers are checked against the plain Python sampling loop fed with
the same noise (fp32: the loop runs the TensorFlow decoder step; int8: the loop runs the int8 step graph, each step
from the fused sampler's previous point, so the int8 loop logic is checked exactly and its arithmetic is judged
separately by test-set L_R, see precision.py).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from sketchgen.engine.sampling import draw_noise, reference_loop
from sketchgen.errors import SketchGenError
from sketchgen.model_folder import PARITY_TOLERANCE, START_TOKEN
from sketchgen.strokes import stroke3_to_stroke5



class ExportError(SketchGenError):
    """The export cannot produce a correct model folder (nothing was written)."""


class ParityError(ExportError):
    """An exported graph does not compute what the TensorFlow model computes."""


@dataclass
class ParityReport:
    """Largest absolute difference seen per graph, and what was compared."""

    max_abs: dict[str, float] = field(default_factory=dict)
    cases: dict[str, list[str]] = field(default_factory=dict)

    def record(self, graph: str, case: str, error: float) -> None:
        self.max_abs[graph] = max(self.max_abs.get(graph, 0.0), float(error))
        self.cases.setdefault(graph, [])
        if case not in self.cases[graph]:
            self.cases[graph].append(case)

    def to_dict(self) -> dict[str, Any]:
        return {"tolerance": PARITY_TOLERANCE, "max_abs_error": dict(self.max_abs), "cases": dict(self.cases)}


def session(model: onnx.ModelProto):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


# Standard deviations leave the graph through exp(): a rounding difference of 1e-7 in log sigma becomes 1e-4 at
# sigma = 1000 (random states reach such values). They, and the sampled offsets they scale (mu + sigma * noise:
# kanji's sampler drew 233.09 from a random z, 3.7e-4 = 24 float32 ulps from TensorFlow's value), are compared
# relative to their size where it exceeds 1.
SCALE_OUTPUTS = frozenset({"sigma_x", "sigma_y", "offsets"})


def compare(report: ParityReport, graph: str, case: str, got: dict[str, np.ndarray], want: dict[str, Any],
            tolerance: float = PARITY_TOLERANCE) -> None:
    """Every output in ``want`` matches; raise ParityError naming the graph, output, case and difference."""
    worst = 0.0
    for name, expected in want.items():
        expected = np.asarray(expected)
        actual = np.asarray(got[name])
        if actual.shape != expected.shape:
            raise ParityError(f"{graph}: output '{name}' has shape {list(actual.shape)}, TensorFlow gives "
                              f"{list(expected.shape)} ({case})")
        if actual.dtype.kind in "iub":
            if not np.array_equal(actual, expected):
                where = np.argwhere(actual != expected)[0].tolist()
                raise ParityError(f"{graph}: output '{name}' differs from the reference at {where} ({case})")
            continue
        if not np.isfinite(actual).all():
            raise ParityError(f"{graph}: output '{name}' has NaN or infinite values ({case})")
        diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
        if name in SCALE_OUTPUTS:  # exp(log sigma) and what it scales: relative error where the value exceeds 1
            diff = diff / np.maximum(np.abs(expected.astype(np.float64)), 1.0)
        error = float(diff.max()) if actual.size else 0.0
        if not error <= tolerance:
            kind = "relative (above 1)" if name in SCALE_OUTPUTS else "max abs"
            raise ParityError(f"{graph}: output '{name}' differs from TensorFlow by {error:.3g} {kind} "
                              f"(tolerance {tolerance:g}) on {case}; the export was stopped and nothing written")
        worst = max(worst, error)
    report.record(graph, case, worst)


def check_structure(model: onnx.ModelProto, graph: str, native_lstm: bool) -> dict[str, int]:
    """onnx.checker passes; with ``native_lstm`` the graph holds LSTM ops and no Loop or Scan. Returns op counts."""
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"{graph}: onnx.checker rejects the graph ({str(exc).splitlines()[0]})") from None
    counts: dict[str, int] = {}

    def walk(g: onnx.GraphProto) -> None:
        for node in g.node:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)

    walk(model.graph)
    if native_lstm:
        if counts.get("LSTM", 0) < 2 or counts.get("Loop", 0) or counts.get("Scan", 0):
            raise ExportError(f"{graph}: expected native ONNX LSTM ops and no Loop/Scan, found "
                              f"LSTM={counts.get('LSTM', 0)}"
                              f" Loop={counts.get('Loop', 0)} Scan={counts.get('Scan', 0)}")
    return counts


# -- test inputs -------------------------------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    strokes: np.ndarray   # [B, T, 5] normalised stroke-5, no start token, padded with end rows
    lengths: np.ndarray   # [B] int32


def random_strokes(rng: np.random.Generator, lengths: Sequence[int]) -> Case:
    """Random normalised stroke-5 sketches of the given lengths (offsets ~ N(0, 1), random pen states)."""
    longest = max(lengths)
    strokes = np.zeros((len(lengths), longest, 5), np.float32)
    strokes[:, :, 4] = 1.0
    for b, n in enumerate(lengths):
        strokes[b, :n, 0:2] = rng.normal(0.0, 1.0, (n, 2))
        lifted = rng.random(n) < 0.15
        lifted[-1] = True
        strokes[b, :n, 2] = ~lifted
        strokes[b, :n, 3] = lifted
        strokes[b, :n, 4] = 0.0
    return Case("random sketches", strokes, np.asarray(lengths, np.int32))


def real_strokes(sketches: Sequence[np.ndarray]) -> Case:
    """Normalised stroke-3 sketches -> one padded stroke-5 batch."""
    rows = [stroke3_to_stroke5(s) for s in sketches]
    longest = max(len(r) for r in rows)
    strokes = np.zeros((len(rows), longest, 5), np.float32)
    strokes[:, :, 4] = 1.0
    for b, r in enumerate(rows):
        strokes[b, :len(r)] = r
    return Case("real sketches", strokes, np.array([len(r) for r in rows], np.int32))


def pick_real(sketches: Sequence[np.ndarray] | None, count: int = 4) -> list[np.ndarray]:
    """A few real sketches for parity: the first ones and the longest one."""
    if not sketches:
        return []
    chosen = list(sketches[:count - 1])
    longest = max(range(len(sketches)), key=lambda i: len(sketches[i]))
    chosen.append(sketches[longest])
    return chosen


# -- the checks ------------------------------------------------------------------------------------------------

class TFReference:
    """The TensorFlow model's own functions, as numpy in -> numpy out."""

    def __init__(self, model):
        self.model = model
        self.conditional = model.hp.conditional

    def encode(self, strokes, lengths):
        mu, logvar = self.model.encode(strokes, lengths)
        return {"mu": np.asarray(mu), "logvar": np.asarray(logvar)}

    def init(self, z, batch):
        h, c = self.model.initial_state(z, batch)
        return {"h": np.asarray(h), "c": np.asarray(c)}

    def step(self, x, z, h, c):
        p, h1, c1 = self.model.decoder_step(x, z, h, c)
        return {"pi": np.asarray(p.pi_logits), "mu_x": np.asarray(p.mu_x), "mu_y": np.asarray(p.mu_y),
                "sigma_x": np.asarray(p.sigma_x), "sigma_y": np.asarray(p.sigma_y), "rho": np.asarray(p.rho),
                "pen": np.asarray(p.pen_logits), "h_out": np.asarray(h1), "c_out": np.asarray(c1)}


def _run(sess, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, feeds)))


def _teacher_forced_states(tf_ref: TFReference, case: Case, z, steps: int):
    """(x, h, c) at the first ``steps`` steps of teacher forcing over ``case`` (realistic decoder states)."""
    batch = case.strokes.shape[0]
    h, c = (v for v in tf_ref.init(z, batch).values())
    inputs = np.concatenate([np.tile(START_TOKEN, (batch, 1, 1)), case.strokes], axis=1)
    xs, hs, cs = [], [], []
    for t in range(min(steps, inputs.shape[1])):
        xs.append(inputs[:, t])
        hs.append(h)
        cs.append(c)
        out = tf_ref.step(inputs[:, t], z, h, c)
        h, c = out["h_out"], out["c_out"]
    return np.concatenate(xs), np.concatenate(hs), np.concatenate(cs)


def check_all(tf_ref: TFReference, sessions: dict[str, Any], int8_step, cases: list[Case], z_size: int,
              units: int, num_mixture: int, max_seq_len: int, seed: int = 0, encoder_twin=None) -> ParityReport:
    """Run every parity check; raise ParityError on the first mismatch. ``encoder_twin``: the fp32 build of
    encoder_int8.onnx's graph (one bidirectional LSTM op), checked like encoder.onnx."""
    rng = np.random.default_rng(seed)
    report = ParityReport()
    cond = tf_ref.conditional
    for case in cases:
        b = case.strokes.shape[0]
        z = rng.normal(0.0, 1.0, (b, z_size)).astype(np.float32) if cond else None
        if cond:
            compare(report, "encoder.onnx", case.name,
                    _run(sessions["encoder.onnx"], {"strokes": case.strokes, "lengths": case.lengths}),
                    tf_ref.encode(case.strokes, case.lengths))
            # padding must not change the result: the same sketches padded further
            padded = np.concatenate([case.strokes, np.tile(np.array([0, 0, 0, 0, 1], np.float32), (b, 7, 1))], 1)
            compare(report, "encoder.onnx", case.name + " (extra padding)",
                    _run(sessions["encoder.onnx"], {"strokes": padded, "lengths": case.lengths}),
                    tf_ref.encode(case.strokes, case.lengths))
            if encoder_twin is not None:
                compare(report, "encoder_int8.onnx (its fp32 twin)", case.name,
                        _run(encoder_twin, {"strokes": padded, "lengths": case.lengths}),
                        tf_ref.encode(case.strokes, case.lengths))
            compare(report, "decoder_init.onnx", case.name, _run(sessions["decoder_init.onnx"], {"z": z}),
                    tf_ref.init(z, b))
        else:
            compare(report, "decoder_init.onnx", case.name,
                    _run(sessions["decoder_init.onnx"], {"batch": np.array(b, np.int64)}), tf_ref.init(None, b))
        # decoder step on teacher-forced states of these sketches
        x, h, c = _teacher_forced_states(tf_ref, case, z, steps=12)
        zz = np.tile(z, (len(x) // b, 1)) if cond else None  # row t*b + i is sketch i at step t
        feeds = {"x": x, "h": h, "c": c, **({"z": zz} if cond else {})}
        compare(report, "decoder_step.onnx", case.name + " (teacher-forced states)",
                _run(sessions["decoder_step.onnx"], feeds), tf_ref.step(x, zz, h, c))
        if "decoder_prime.onnx" not in sessions:  # a cell without the primer graph: the engine steps instead
            continue
        # priming over the prefix: state after each row's own length
        prime_len = np.minimum(case.lengths, 16).astype(np.int32)
        inputs = np.concatenate([np.tile(START_TOKEN, (b, 1, 1)), case.strokes[:, :15]], axis=1)
        init = tf_ref.init(z, b)
        feeds = {"strokes": inputs, "lengths": prime_len, "h0": init["h"], "c0": init["c"],
                 **({"z": z} if cond else {})}
        want_h, want_c = [], []
        for i in range(b):
            hi, ci = init["h"][i:i + 1], init["c"][i:i + 1]
            for t in range(int(prime_len[i])):
                out = tf_ref.step(inputs[i:i + 1, t], z[i:i + 1] if cond else None, hi, ci)
                hi, ci = out["h_out"], out["c_out"]
            want_h.append(hi)
            want_c.append(ci)
        compare(report, "decoder_prime.onnx", case.name, _run(sessions["decoder_prime.onnx"], feeds),
                {"h": np.concatenate(want_h), "c": np.concatenate(want_c)})

    # random decoder states, wider than training ever produces
    n = 32
    x = random_strokes(rng, [1] * n).strokes[:, 0]
    h = rng.uniform(-1, 1, (n, units)).astype(np.float32)
    c = rng.normal(0, 2, (n, units)).astype(np.float32)
    z = rng.normal(0, 1, (n, z_size)).astype(np.float32) if cond else None
    feeds = {"x": x, "h": h, "c": c, **({"z": z} if cond else {})}
    compare(report, "decoder_step.onnx", "random states", _run(sessions["decoder_step.onnx"], feeds),
            tf_ref.step(x, z, h, c))

    if "decoder_sample.onnx" not in sessions:  # a cell without the fused sampler: the engine loops over the step
        return report
    # the fused samplers against the Python loop with identical noise
    for temperature in (0.0, 0.7):
        steps = min(max_seq_len, 24)
        batch = 4
        zb = rng.normal(0, 1, (batch, z_size)).astype(np.float32) if cond else None
        init = tf_ref.init(zb, batch)
        x0 = np.tile(START_TOKEN, (batch, 1))
        noise = draw_noise(rng, steps, np.full(batch, temperature), num_mixture)
        logits, angle = noise.graph_inputs()
        feeds = {"h0": init["h"], "c0": init["c"], "x0": x0, "noise_logits": logits, "noise_angle": angle,
                 "stop_pen": np.array(3, np.int64), **({"z": zb} if cond else {})}
        offsets, pens = reference_loop(tf_ref.step, x0, init["h"], init["c"], zb, noise, stop_at_end=False)
        case = f"{steps} sampled steps, temperature {temperature}"
        compare(report, "decoder_sample.onnx", case, _run(sessions["decoder_sample.onnx"], feeds),
                {"offsets": offsets, "pens": pens})
        if int8_step is not None:
            def int8(x_, z_, h_, c_):
                return _run(int8_step, {"x": x_, "h": h_, "c": c_, **({"z": z_} if cond else {})})
            fused = _run(sessions["decoder_sample_int8.onnx"], feeds)
            offsets, pens = reference_loop(int8, x0, init["h"], init["c"], zb, noise, stop_at_end=False,
                                           follow=(fused["offsets"], fused["pens"]))
            compare(report, "decoder_sample_int8.onnx", case + " (each step vs the int8 step graph from the "
                    "same point)", fused, {"offsets": offsets, "pens": pens})
    # one sampled step from random states, many rows (the sampling arithmetic itself)
    noise = draw_noise(rng, 1, np.full(n, 0.9), num_mixture)
    logits, angle = noise.graph_inputs()
    feeds = {"h0": h, "c0": c, "x0": x, "noise_logits": logits, "noise_angle": angle,
             "stop_pen": np.array(3, np.int64), **({"z": z} if cond else {})}
    offsets, pens = reference_loop(tf_ref.step, x, h, c, z, noise, stop_at_end=False)
    compare(report, "decoder_sample.onnx", "one step from random states",
            _run(sessions["decoder_sample.onnx"], feeds), {"offsets": offsets, "pens": pens})
    return report
