"""An official sketch-rnn-js model -> a SketchGen model folder, every graph proven against the official arithmetic.

The graphs are built from the weights with :mod:`sketchgen.graphs` (numpy + onnx: no TensorFlow, so the app
imports too): ``decoder_init`` (zeros for a decoder-only model, ``tanh(z W + b)`` for a vae), ``decoder_step``,
``decoder_prime``, the fused ``decoder_sample`` (fp32, and int8 where it passes the check below) and, for a vae,
``encoder`` (one bidirectional LSTM op). Nothing is written until each one computes what
:class:`~sketchgen.official.reference.JSReference` computes, within :data:`REFERENCE_TOLERANCE`: at every step of
whole sketches (the graph's and the reference's step from the same state) the mixture parameters, pen logits and
new state; the initial state; for a vae, the encoder's mu and log sigma^2. The primer must reach the state the
step graph reaches (within the export's 1e-4: two fp32 recurrences), and the fused sampler draw the points a
step-by-step loop over the reference draws.

int8: the category's data is not at hand, so the int8 sampler is judged as the export judges it (teacher-forced
L_R within 0.01 nats of fp32), on sketches the fp32 model draws itself at temperature 1.0, which are draws from the
model's own distribution of sketches.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from sketchgen.config import HParams
from sketchgen.engine import runtime
from sketchgen.engine.sampling import draw_noise, reference_loop
from sketchgen.errors import ConfigError, DataFileError, ModelError, SketchGenError
from sketchgen.fileio import atomic_dir, check_writable_folder
from sketchgen.graphs import DecoderWeights, build_encoder, build_prime, build_sampler, build_step
from sketchgen.graphs import build_init as build_init_graph
from sketchgen.model_folder import (CARD_FILE, DECODER_INIT, DECODER_PRIME, DECODER_SAMPLE, DECODER_SAMPLE_INT8,
                                    DECODER_STEP, ENCODER, OPSET, START_TOKEN, build_card, file_entries,
                                    graph_contract, write_card)
from sketchgen.model_folder import PARITY_TOLERANCE as EXPORT_PARITY_TOLERANCE
from sketchgen.official.jsformat import JSModel, read_js_model
from sketchgen.official.reference import JSReference, softmax

REFERENCE_TOLERANCE = 1e-5   # per step, relative above magnitude 1: fp32 graphs against the float64 reference
                             # (mixture weights pi, mu, sigma, rho, pen logits and the new state)
PRIME_CHECK_STEPS = 32
PRIME_TOLERANCE = EXPORT_PARITY_TOLERANCE  # the primer against the step graph: two fp32 recurrences
SAMPLER_TOLERANCE = 1e-4     # sampled offsets (they also pass through exp, sin and asin of the noise)
CHECK_SKETCHES = 16          # sketches the fp32 model draws for the parity and int8 checks
CHECK_TEMPERATURE = 1.0
PROVENANCE = "official sketch-rnn model"
# The official JS demos feed an official model zeros before the first point (SketchGen's training feeds [0, 0, 1, 0,
# 0]); some official models end their drawings far more often so (toothbrush at tau 0.1 under the JS rule: 90% of
# 60 samples against 27%; lantern at 0.5: 90% against 43%), so an imported official model's card asks for zeros.
OFFICIAL_START = np.zeros(5, np.float32)
QUICKDRAW_LICENSE = ("CC BY 4.0", "Quick, Draw! dataset, Google", "https://github.com/googlecreativelab/quickdraw-dataset")
WEIGHTS_NOTE = ("The weights were published by the sketch-rnn authors (Ha & Eck) with the official sketch-rnn-js "
                "demos (magenta/magenta-demos) and carry no license file of their own; they were trained on "
                "QuickDraw data (CC BY 4.0, Google). Download them from the official storage; do not redistribute "
                "converted folders.")

Progress = Callable[[str], None]


class ImportCheckError(SketchGenError):
    """An imported graph does not compute what the official arithmetic computes (a bug, never the user's file)."""


# -- graphs ------------------------------------------------------------------------------------------------------------

def build_init(model: JSModel) -> onnx.ModelProto:
    """decoder_init.onnx: ``batch`` -> zeros [batch, H] for a decoder-only model, ``z`` -> tanh(z W + b) for a vae."""
    return build_init_graph(model.units, *model.init_weights()) if model.conditional else build_init_graph(model.units)


def config_for(model: JSModel) -> HParams:
    """The model's hyperparameters as SketchGen's config records them (its sizes; the training values are not
    published and stay at the defaults, which were the official ones)."""
    values = {"data_set": [f"{model.name}.npz"], "max_seq_len": model.max_seq_len, "conditional": model.conditional,
              "enc_model": "lstm", "dec_model": "lstm", "dec_rnn_size": model.units, "num_mixture": 20}
    if model.conditional:
        values.update(enc_rnn_size=model.enc_units, z_size=model.z_size)
    try:
        return HParams.from_dict(values, source=model.source)
    except ConfigError as exc:
        raise DataFileError(model.source, f"its sizes are outside what SketchGen runs ({exc})") from None


def _session(proto: onnx.ModelProto):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), sess_options=so, providers=["CPUExecutionProvider"])


# -- parity ------------------------------------------------------------------------------------------------------------

def _error(got: np.ndarray, want: np.ndarray) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want)))) if want.size else 0.0


def _inputs(sketches: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Normalised stroke-5 sketches -> decoder inputs [B, T, 5] (start token first, padded with end rows) and
    lengths (points + 1)."""
    longest = max(len(s) for s in sketches)
    batch = np.zeros((len(sketches), longest + 1, 5), np.float32)
    batch[:, :, 4] = 1.0
    batch[:, 0] = START_TOKEN
    for i, s in enumerate(sketches):
        batch[i, 1:len(s) + 1] = s
    return batch, np.array([len(s) + 1 for s in sketches], np.int32)


def check_parity(model: JSModel, sessions: dict[str, Any], sketches: Sequence[np.ndarray],
                 seed: int = 0) -> dict[str, float]:
    """The largest error of each graph against the reference over ``sketches`` (normalised stroke-5 rows, no end
    row); ImportCheckError when one is out of tolerance."""
    ref = JSReference(model)
    inputs, lengths = _inputs(sketches)
    batch, steps = inputs.shape[:2]
    errors: dict[str, float] = {}
    z = None
    if model.conditional:
        strokes, enc_lengths = inputs[:, 1:], lengths - 1
        mu, logvar = sessions[ENCODER].run(["mu", "logvar"], {"strokes": strokes, "lengths": enc_lengths})
        want_mu, want_logvar = ref.encode(strokes, enc_lengths)
        errors[ENCODER] = max(_error(mu, want_mu), _error(logvar, want_logvar))
        z = mu.astype(np.float32)
        h, c = sessions[DECODER_INIT].run(["h", "c"], {"z": z})
        want_h, want_c = ref.initial_state(z)
    else:
        h, c = sessions[DECODER_INIT].run(["h", "c"], {"batch": np.array(batch, np.int64)})
        want_h, want_c = ref.zero_state(batch)
    errors[DECODER_INIT] = max(_error(h, want_h), _error(c, want_c))
    h0, c0 = h, c
    # every step from the same state: the graph's (so fp32's rounding cannot accumulate over a sketch)
    step = sessions[DECODER_STEP]
    names = [o.name for o in step.get_outputs()]
    worst = 0.0
    states = []
    for t in range(steps):
        feeds = {"x": inputs[:, t], "h": h, "c": c, **({"z": z} if z is not None else {})}
        out = dict(zip(names, step.run(None, feeds)))
        pdf, rh, rc = ref.step(inputs[:, t], z, h, c)
        live = t < lengths
        got = {**out, "pi": softmax(out["pi"])}       # the mixture weights, as get_pdf gives them
        want = {**pdf, "pi": softmax(pdf["pi"])}
        worst = max(worst, _error(out["h_out"][live], rh[live]), _error(out["c_out"][live], rc[live]),
                    *(_error(got[k][live], want[k][live]) for k in pdf))
        h, c = out["h_out"], out["c_out"]
        states.append((h, c))
    errors[DECODER_STEP] = worst
    # the primer reaches the step graph's state after each row's first PRIME_CHECK_STEPS inputs (two fp32
    # implementations of a recurrence drift apart over hundreds of steps wherever its dynamics amplify rounding)
    prime_lengths = np.minimum(lengths, PRIME_CHECK_STEPS).astype(np.int32)
    feeds = {"strokes": inputs, "lengths": prime_lengths, "h0": h0, "c0": c0, **({"z": z} if z is not None else {})}
    ph, pc = sessions[DECODER_PRIME].run(["h", "c"], feeds)
    rows = np.arange(batch)
    want_ph = np.stack([states[n - 1][0][i] for i, n in zip(rows, prime_lengths)])
    want_pc = np.stack([states[n - 1][1][i] for i, n in zip(rows, prime_lengths)])
    errors[DECODER_PRIME] = max(_error(ph, want_ph), _error(pc, want_pc))
    for name, err in errors.items():
        tolerance = PRIME_TOLERANCE if name == DECODER_PRIME else REFERENCE_TOLERANCE
        if not err <= tolerance:
            raise ImportCheckError(f"{name}: differs from the official model's arithmetic by {err:.2e} "
                                   f"(tolerance {tolerance:g}); nothing was written")
    # the fused samplers against a step-by-step loop over the reference, each step from the sampler's own point
    rng = np.random.default_rng(seed)
    for name in (DECODER_SAMPLE, DECODER_SAMPLE_INT8):
        if name not in sessions:
            continue
        errors[name] = _check_sampler(name, sessions[name], ref, sessions.get(f"{name}:step"), z, h0, c0, rng)
    return errors


def _check_sampler(name: str, sampler, ref: JSReference, int8_step, z, h0, c0, rng) -> float:
    batch = h0.shape[0]
    steps = 24
    noise = draw_noise(rng, steps, np.full(batch, 0.8), 20)
    logits, angle = noise.graph_inputs()
    x0 = np.tile(START_TOKEN, (batch, 1))
    feeds = {"h0": h0, "c0": c0, "x0": x0, "noise_logits": logits, "noise_angle": angle,
             "stop_pen": np.array(3, np.int64), **({"z": z} if z is not None else {})}
    offsets, pens = sampler.run(["offsets", "pens"], feeds)

    if int8_step is not None:  # the int8 sampler computes what the int8 step does (the step is judged by L_R)
        names = [o.name for o in int8_step.get_outputs()]

        def step(x, z_, h, c):
            feeds = {"x": x, "h": np.asarray(h, np.float32), "c": np.asarray(c, np.float32)}
            return dict(zip(names, int8_step.run(None, {**feeds, **({"z": z_} if z_ is not None else {})})))
        tolerance = 1e-3
    else:
        def step(x, z_, h, c):
            pdf, h1, c1 = ref.step(x, z_, h, c)
            return {**{k: v.astype(np.float32) for k, v in pdf.items()}, "h_out": h1, "c_out": c1}
        tolerance = SAMPLER_TOLERANCE
    want_offsets, want_pens = reference_loop(step, x0, h0.astype(np.float64), c0.astype(np.float64), z, noise,
                                             stop_at_end=False, follow=(offsets, pens))
    if want_pens.shape != pens.shape or (want_pens != pens).mean() > 0.01:
        raise ImportCheckError(f"{name}: samples other pen states than the official model's arithmetic; "
                               "nothing was written")
    same = (want_pens == pens)[..., 0]
    err = _error(offsets[same], want_offsets[same])
    if not err <= tolerance:
        raise ImportCheckError(f"{name}: samples points {err:.2e} away from the official model's arithmetic "
                               f"(tolerance {tolerance:g}); nothing was written")
    return err


# -- int8 --------------------------------------------------------------------------------------------------------------

def is_official(model: JSModel) -> bool:
    """Not a SketchGen model that went through the format (its header names the producer)."""
    return not str(model.info.get("producer", "")).startswith("sketchgen")


def start_token_for(model: JSModel) -> np.ndarray:
    return OFFICIAL_START if is_official(model) else START_TOKEN


def draw_check_sketches(sessions: dict[str, Any], model: JSModel, n: int = CHECK_SKETCHES,
                        temperature: float = CHECK_TEMPERATURE, seed: int = 0) -> list[np.ndarray]:
    """n sketches the fp32 model draws itself (normalised stroke-5 rows, no end row); a sketch that never ends is
    cut at max_seq_len - 1 points, one that ends at once gets one pen-up point."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, model.z_size)).astype(np.float32) if model.conditional else None
    if z is not None:
        h, c = sessions[DECODER_INIT].run(["h", "c"], {"z": z})
    else:
        h, c = sessions[DECODER_INIT].run(["h", "c"], {"batch": np.array(n, np.int64)})
    steps = model.max_seq_len - 1
    noise = draw_noise(rng, steps, np.full(n, temperature), 20)
    logits, angle = noise.graph_inputs()
    feeds = {"h0": h, "c0": c, "x0": np.tile(start_token_for(model), (n, 1)), "noise_logits": logits,
             "noise_angle": angle,
             "stop_pen": np.array(2, np.int64), **({"z": z} if z is not None else {})}
    offsets, pens = sessions[DECODER_SAMPLE].run(["offsets", "pens"], feeds)
    sketches = []
    for b in range(n):
        pen = pens[:, b, 0]
        ends = np.flatnonzero(pen == 2)
        length = max(int(ends[0]) if len(ends) else len(pen), 1)
        rows = np.zeros((length, 5), np.float32)
        rows[:, 0:2] = offsets[:length, b]
        rows[np.arange(length), 2 + np.minimum(pen[:length], 1)] = 1.0
        rows[-1, 2:5] = (0, 1, 0)
        sketches.append(rows)
    return sketches


def choose_int8(sessions: dict[str, Any], weights: DecoderWeights, sketches: Sequence[np.ndarray],
                max_seq_len: int, conditional: bool) -> dict[str, Any]:
    """The export's int8 rule (the fastest weight layout within 0.01 nats of fp32's teacher-forced L_R) on
    ``sketches`` drawn by the model itself."""
    from sketchgen.precision import choose_int8_layout

    stroke3 = [np.column_stack([s[:, 0:2], s[:, 3]]) for s in sketches]
    measure = {"decoder_init": sessions[DECODER_INIT], "decoder_step": sessions[DECODER_STEP]}
    if conditional:
        measure["encoder"] = sessions[ENCODER]
    report = choose_int8_layout(measure, None, lambda scales: _session(build_step(weights, "int8", scales=scales)),
                                stroke3, max_seq_len, conditional, seed=0)
    report["sketches_source"] = (f"{len(sketches)} sketches drawn by the fp32 model itself at temperature "
                                 f"{CHECK_TEMPERATURE} (the category's data is not at hand)")
    return report


# -- the import --------------------------------------------------------------------------------------------------------

def import_js_model(source: str | os.PathLike[str] | JSModel, out: str | os.PathLike[str], *, force: bool = False,
                    int8: bool = True, origin: str | None = None, sketches: Sequence[np.ndarray] | None = None,
                    progress: Progress | None = None) -> Path:
    """Convert a parsed model (or a ``.gen.json`` / ``.vae.json`` file) into the model folder ``out``.

    ``origin``: where the file came from (URL or path) for the card; ``sketches``: extra normalised stroke-3 sketches
    (real ones) to prove parity on, besides those the model draws. Raises DataFileError for a bad file,
    ModelError for a bad target, ImportCheckError when a graph fails its check; writes nothing then."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # the reference's products are small: one BLAS thread
        return _import(source, out, force, int8, origin, sketches, progress)


def _import(source, out, force: bool, int8: bool, origin: str | None, sketches, progress: Progress | None) -> Path:
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    model = source if isinstance(source, JSModel) else read_js_model(source)
    out = Path(out)
    _check_target(out, force)
    say("building graphs")
    weights = model.decoder_weights()
    protos: dict[str, onnx.ModelProto] = {
        DECODER_INIT: build_init(model),
        DECODER_STEP: build_step(weights, "fp32"),
        DECODER_PRIME: build_prime(weights),
        DECODER_SAMPLE: build_sampler(weights, "fp32"),
    }
    if model.conditional:
        protos[ENCODER] = build_encoder(model.encoder_weights(), "fp32")
    sessions = {name: _session(p) for name, p in protos.items()}
    config = config_for(model)
    contract = graph_contract(config)
    for name, sess in sessions.items():
        runtime.check_io(sess, Path(name), contract[name])

    say("checking the graphs against the official arithmetic")
    drawn = draw_check_sketches(sessions, model)
    real = [_stroke5(s) for s in (sketches or [])[:8] if len(s) <= model.max_seq_len - 1]
    check = drawn[:4] + real + [_random_walk(np.random.default_rng(1), n) for n in (1, 2, 17)]
    precision: dict[str, Any] = {"default": "fp32", "int8": None}
    if int8:
        say("measuring int8 against fp32")
        report = choose_int8(sessions, weights, drawn, model.max_seq_len, model.conditional)
        if report["verified"]:
            protos[DECODER_SAMPLE_INT8] = build_sampler(weights, "int8", scales=report["scales"])
            sessions[DECODER_SAMPLE_INT8] = _session(protos[DECODER_SAMPLE_INT8])
            sessions[DECODER_SAMPLE_INT8 + ":step"] = _session(build_step(weights, "int8",
                                                                                  scales=report["scales"]))
            precision = {"default": "int8", "int8": {**report, "files": [DECODER_SAMPLE_INT8]}}
        else:
            precision["int8"] = {**report, "files": [],
                                 "note": f"int8 moved L_R by {report['delta_nats']:+.4f} nats with every weight "
                                         "layout: not written"}
    errors = check_parity(model, sessions, check)
    seconds = round(time.perf_counter() - started, 2)
    say("writing the model folder")
    return _write_folder(out, protos, lambda files: _card(model, config, origin or model.source, errors, precision,
                                                          seconds, len(real), contract, files))


def _stroke5(s3: np.ndarray) -> np.ndarray:
    s3 = np.asarray(s3, np.float32)
    rows = np.zeros((len(s3), 5), np.float32)
    rows[:, 0:2] = s3[:, 0:2]
    rows[:, 3] = s3[:, 2] > 0
    rows[:, 2] = 1.0 - rows[:, 3]
    return rows


def _random_walk(rng: np.random.Generator, n: int) -> np.ndarray:
    s3 = np.column_stack([rng.normal(0, 0.5, (n, 2)), rng.random(n) < 0.2]).astype(np.float32)
    return _stroke5(s3)


def _card(model: JSModel, config: HParams, origin: str, errors: dict[str, float], precision: dict[str, Any],
          seconds: float, real: int, contract: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
    header = dict(model.info)
    official = is_official(model)
    if official:
        license_, attribution, source = QUICKDRAW_LICENSE
        provenance, data, basis = PROVENANCE, f"QuickDraw {model.name} ({license_})", \
            "official sketch-rnn models are trained on QuickDraw categories"
        dataset_name, weights_note = f"QuickDraw {model.name}", WEIGHTS_NOTE
    else:  # a SketchGen model that went through the format: its header says what it was trained on
        data = str(header.get("data") or "unknown (check its license before using or sharing this model)")
        license_ = attribution = source = None
        provenance, basis = f"SketchGen model ({header['producer']}) read from the sketch-rnn-js format", \
            "as the file's header states it"
        dataset_name, weights_note = data, "as the model's own data sets"
    has_losses = isinstance(header.get("r_loss"), (int, float))
    card = build_card(
        name=model.name, config=config, scale_factor=model.scale_factor, max_seq_len=model.max_seq_len, files=files,
        datasets=[{"name": dataset_name, "file": None, "license": license_, "attribution": attribution,
                   "source": source, "license_basis": basis}],
        training={"steps_trained": None, "hardware": None, "wall_time_s": None,
                  "facts_source": f"{provenance}: not recorded"},
        losses=({"r_loss": header["r_loss"], "kl_loss": header.get("kl_loss")} if has_losses else None),
        losses_source=("the file's header (r_loss, kl_loss as its trainer logged them)" if has_losses
                       else "not published with the model"),
        export={"opset": OPSET, "tool": "sketchgen-import (graphs built from the weights, no TensorFlow)",
                "parity": {"reference": "numpy copy of sketch-rnn-js/lib/sketch_rnn.js (float64)",
                           "tolerance": REFERENCE_TOLERANCE,
                           "max_abs_error": errors, "real_sketches_checked": real},
                "seconds": seconds},
        precision=precision,
        graphs={name: {kind: {k: {"type": t, "shape": list(s)} for k, (t, s) in io_.items()}
                       for kind, io_ in contract[name].items()} for name in files})
    card["provenance"] = provenance
    card["data"] = data
    if official:
        card["start_token"] = OFFICIAL_START.tolist()
    card["official"] = {"name": model.name, "kind": model.kind, "source": origin, "official_model": official,
                        "header": header, "weights_license": weights_note}
    return card


def _check_target(out: Path, force: bool) -> None:
    if out.exists():
        if not out.is_dir():
            raise ModelError(out, "exists and is not a folder")
        if not force:
            raise ModelError(out, "already exists (pass --force to replace it)")
        if any(out.iterdir()) and not (out / CARD_FILE).is_file():
            raise ModelError(out, "exists and is not a model folder; refusing to replace it")
    check_writable_folder(out.parent)


def _write_folder(out: Path, protos: dict[str, onnx.ModelProto], card_for: Callable[[dict[str, Any]], dict]) -> Path:
    with atomic_dir(out) as tmp:
        for name, proto in protos.items():
            (tmp / name).write_bytes(proto.SerializeToString())
        write_card(tmp, card_for(file_entries(tmp, sorted(protos))))
        from sketchgen.engine import load_model

        load_model(tmp, provider="cpu").sample(n=1, temperature=0.5, max_len=4, seed=0)  # it loads and draws
    return out


__all__ = ["import_js_model", "build_init", "check_parity", "draw_check_sketches", "choose_int8", "ImportCheckError",
           "REFERENCE_TOLERANCE", "PROVENANCE", "DataFileError"]
