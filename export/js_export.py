"""``sketchgen-export MODEL_FOLDER --format sketch-rnn-js --out NAME.gen.json|NAME.vae.json``: a SketchGen model in
the official JavaScript format, so that ``@magenta/sketch``, ml5's SketchRNN and the official demos load it unchanged.

The weights are read back from the folder's graphs (``training.warm_start.read_initial_model``: found by shape, moved
to Keras' layout), then proven twice before the file is written: the official loader's arithmetic
(:class:`sketchgen.official.reference.JSReference`) on the weights before rounding must compute what the folder's
own graphs compute (this settles the layout: gate order, forget bias, c-before-h, and which encoder direction is
which), and the written text, parsed again by the loader's rules, must hold exactly those weights rounded to the
format's int16 steps. Only what the format can express is exported: plain LSTM cells, 20 mixture components and
weights within +-10; anything else is a clear error.
"""
from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from sketchgen.errors import ModelError
from sketchgen.fileio import atomic_write
from sketchgen.graphs import DecoderWeights, EncoderWeights
from sketchgen.model_folder import PARITY_TOLERANCE, START_TOKEN
from sketchgen.official.jsformat import (INT16_SCALE, MAX_WEIGHT, NUM_MIXTURE, JSModel, dumps_js_model, js_weights,
                                         parse_js_model)
from sketchgen.official.reference import JSReference

VERSION = 6               # the header version of the official 2018 files (older ones clip z with tanh)


def _card(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(folder / "model.json", f"cannot be read ({exc})") from None


def _weights(folder: Path) -> tuple[DecoderWeights, EncoderWeights | None, tuple | None, list]:
    """The folder's weights in Keras' layout; the encoder's two directions in both possible orders."""
    from training.warm_start import read_initial_model

    w = read_initial_model(folder).weights
    dec, out = w["decoder"], w["decoder_output"]
    conditional = "decoder_init" in w
    z_size = dec["kernel"].shape[0] - 5
    decoder = DecoderWeights(kernel=dec["kernel"], recurrent_kernel=dec["recurrent_kernel"], bias=dec["bias"],
                             ln_gamma=None, ln_beta=None, out_kernel=out["kernel"], out_bias=out["bias"],
                             num_mixture=(out["kernel"].shape[1] - 3) // 6, z_size=z_size if conditional else 0)
    if not conditional:
        return decoder, None, None, []
    init = (w["decoder_init"]["kernel"], w["decoder_init"]["bias"])
    encoders = []
    for fw, bw in itertools.permutations(w["encoder_directions"]):
        encoders.append(EncoderWeights(
            kernels=(fw["kernel"], bw["kernel"]), recurrent_kernels=(fw["recurrent_kernel"], bw["recurrent_kernel"]),
            biases=(fw["bias"], bw["bias"]), mu=(w["encoder_mu"]["kernel"], w["encoder_mu"]["bias"]),
            logvar=(w["encoder_logvar"]["kernel"], w["encoder_logvar"]["bias"])))
    return decoder, encoders[0], init, encoders


def _check_inputs(folder: Path, card: dict[str, Any], sketches) -> tuple[np.ndarray, np.ndarray]:
    """Decoder inputs [B, T, 5] (start token first) and lengths: real sketches when given, else random walks."""
    rng = np.random.default_rng(0)
    chosen = [np.asarray(s, np.float32) for s in (sketches or [])][:4]
    if not chosen:
        chosen = [np.column_stack([rng.normal(0, 1, (n, 2)), rng.random(n) < 0.15]).astype(np.float32)
                  for n in (5, 23, 40)]
    longest = max(len(s) for s in chosen)
    batch = np.zeros((len(chosen), longest + 1, 5), np.float32)
    batch[:, :, 4] = 1.0
    batch[:, 0] = START_TOKEN
    for i, s in enumerate(chosen):
        batch[i, 1:len(s) + 1, 0:2] = s[:, 0:2]
        batch[i, 1:len(s) + 1, 3] = s[:, 2] > 0
        batch[i, 1:len(s) + 1, 2] = s[:, 2] <= 0
        batch[i, 1:len(s) + 1, 4] = 0
    return batch, np.array([len(s) for s in chosen], np.int32)


def _error(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))


def compare_with_folder(folder: Path, ref: JSReference, inputs: np.ndarray, lengths: np.ndarray) -> dict[str, float]:
    """The reference against the folder's own graphs (encoder, decoder_init, decoder_step from the same state)."""
    from sketchgen.engine.runtime import open_session

    def run(name: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        sess = open_session(folder / name, ["CPUExecutionProvider"])
        return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))

    errors: dict[str, float] = {}
    batch = inputs.shape[0]
    z = None
    if ref.conditional:
        enc = run("encoder.onnx", {"strokes": inputs[:, 1:], "lengths": lengths})
        mu, logvar = ref.encode(inputs[:, 1:], lengths)
        errors["encoder.onnx"] = max(_error(mu, enc["mu"]), _error(logvar, enc["logvar"]))
        z = enc["mu"]
        init = run("decoder_init.onnx", {"z": z})
        rh, rc = ref.initial_state(z)
    else:
        init = run("decoder_init.onnx", {"batch": np.array(batch, np.int64)})
        rh, rc = ref.zero_state(batch)
    errors["decoder_init.onnx"] = max(_error(rh, init["h"]), _error(rc, init["c"]))
    step = open_session(folder / "decoder_step.onnx", ["CPUExecutionProvider"])
    names = [o.name for o in step.get_outputs()]
    h, c, worst = init["h"], init["c"], 0.0
    for t in range(min(inputs.shape[1], 60)):
        out = dict(zip(names, step.run(None, {"x": inputs[:, t], "h": h, "c": c,
                                              **({"z": z} if z is not None else {})})))
        pdf, rh, rc = ref.step(inputs[:, t], z, h, c)
        worst = max(worst, _error(rh, out["h_out"]), *(_error(pdf[k], out[k]) for k in pdf))
        h, c = out["h_out"], out["c_out"]
    errors["decoder_step.onnx"] = worst
    return errors


def export_js(folder: str | os.PathLike[str], out: str | os.PathLike[str], *, force: bool = False,
              sketches=None) -> dict[str, Any]:
    """Write the model folder ``folder`` as a sketch-rnn-js file ``out``; returns what was checked."""
    folder, out = Path(folder), Path(out)
    card = _card(folder)
    config = card.get("config") or {}
    conditional = bool(config.get("conditional", True))
    suffix = ".vae.json" if conditional else ".gen.json"
    if not out.name.endswith(suffix):
        raise ModelError(out, f"a {'conditional' if conditional else 'decoder-only'} model is written as "
                              f"NAME{suffix} (the official libraries tell the two apart by it)")
    if out.exists() and not force:
        raise ModelError(out, "already exists (pass --force to replace it)")
    for key, what in (("dec_model", "decoder"), ("enc_model", "encoder")):
        cell = config.get(key, "lstm")
        if cell != "lstm" and (key == "dec_model" or conditional):
            raise ModelError(folder, f"its {what} is a {cell!r} cell; the sketch-rnn-js format holds plain LSTM "
                                     "models only")
    if int(config.get("num_mixture", NUM_MIXTURE)) != NUM_MIXTURE:
        raise ModelError(folder, f"has {config.get('num_mixture')} mixture components; the official loader reads "
                                 f"exactly {NUM_MIXTURE}")
    decoder, _, init, encoders = _weights(folder)
    info = {"name": card.get("name") or folder.name, "mode": 1 if conditional else 2, "version": VERSION,
            "max_seq_len": int(card["max_seq_len"]), "scale_factor": float(card["scale_factor"])}
    info["producer"] = "sketchgen-export"  # ignored by the official loaders; tells sketchgen-import it is ours
    sets = [d for d in card.get("datasets") or [] if isinstance(d, dict)]
    info["data"] = "; ".join(f"{d.get('name')} ({d.get('license') or 'license unknown'})" for d in sets) or "unknown"
    losses = card.get("losses") or {}
    if losses.get("test_L_R") is not None:
        info["r_loss"] = float(losses["test_L_R"])
        info["kl_loss"] = float(losses.get("test_L_KL") or 0.0)

    inputs, lengths = _check_inputs(folder, card, sketches)
    best = None
    for candidate in (encoders or [None]):
        try:
            weights = js_weights(decoder, candidate, init)
        except ValueError as exc:
            raise ModelError(folder, str(exc)) from None
        exact = JSModel(info=info, weights=weights, source=str(folder))
        errors = compare_with_folder(folder, JSReference(exact), inputs, lengths)
        if best is None or max(errors.values()) < max(best[1].values()):
            best = (weights, errors)
    weights, errors = best
    if max(errors.values()) > PARITY_TOLERANCE:
        worst = max(errors, key=errors.get)
        raise ModelError(folder / worst, f"the official arithmetic on the weights read from it differs by "
                                         f"{errors[worst]:.2e} (tolerance {PARITY_TOLERANCE:g}); nothing was written")
    try:
        text = dumps_js_model(info, weights)
    except ValueError as exc:
        raise ModelError(folder, f"cannot be written in the sketch-rnn-js format: {exc}") from None
    parsed = parse_js_model(text.encode("utf-8"), str(out))  # the loader's rules: structure, shapes, sizes
    step = MAX_WEIGHT / INT16_SCALE
    rounding = max(float(np.max(np.abs(parsed.weights[k].astype(np.float64) - weights[k]))) for k in weights)
    if parsed.kind != ("vae" if conditional else "gen") or rounding > 0.5 * step * (1 + 1e-3):
        raise ModelError(out, f"the written file does not read back as the model (largest weight change "
                              f"{rounding:.2e}); nothing was written")
    rounded = compare_with_folder(folder, JSReference(parsed), inputs, lengths)
    with atomic_write(out, mode="w") as fh:
        fh.write(text)
    return {"kind": parsed.kind, "units": parsed.units, "z_size": parsed.z_size, "layout_error": errors,
            "rounded_error": rounded, "largest_weight_rounding": rounding, "bytes": out.stat().st_size}
