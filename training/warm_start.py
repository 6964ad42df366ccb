"""Start a training run from the weights of an exported model folder (``sketchgen-train --init-from MODEL``).

Why: a model folder is what ships (``assets/models/*``) and what people pass around; the checkpoints of the run
that made it stay on the machine that trained it. The folder's ONNX graphs hold every trained weight, so training
can go on from them: longer, or on one's own sketches. What a model folder does not hold is the optimiser's state
(Adam's moments): the run starts them afresh, at the model's step, so the learning-rate and KL-weight schedules go
on where they were.

The weights are found by what they are (shape, and the Keras layer names the export keeps for the two encoder
heads), moved from ONNX's layouts to Keras' (ONNX ``LSTM`` orders its gates i, o, f, c and stores ``W x``; Keras
orders i, f, c, o and stores ``x W``), and then checked: the Keras model must compute what ``encoder.onnx``,
``decoder_init.onnx`` and ``decoder_step.onnx`` compute on real inputs, or the run does not start.
"""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from sketchgen.config import HParams
from sketchgen.errors import ConfigError, ModelError
from sketchgen.graphs.layout import onnx_to_keras_lstm
from sketchgen.model_folder import (DECODER_INIT, DECODER_STEP, ENCODER, PARITY_TOLERANCE, START_TOKEN, ModelCard,
                                    resolve_model)

# hyperparameters that fix the weights' shapes: a run started from a model keeps the model's values
ARCHITECTURE_KEYS = ("conditional", "enc_model", "enc_rnn_size", "dec_model", "dec_rnn_size", "z_size",
                     "num_mixture")


class InitialModel:
    """A model folder read for training: its card, its folder and its weights in Keras' layout."""

    def __init__(self, card: ModelCard, weights: dict[str, Any]):
        self.folder = card.folder
        self.card = card
        self.weights = weights  # "decoder": {...}, "encoder_fw"/"encoder_bw" candidates, heads

    @property
    def config(self) -> HParams:
        return self.card.config

    @property
    def steps_trained(self) -> int:
        return self.card.steps_trained or 0

    @property
    def scale_factor(self) -> float:
        return self.card.scale_factor

    @property
    def wall_time_s(self) -> float:
        return self.card.wall_time_s or 0.0

    def describe(self) -> dict[str, Any]:
        """What state.json and the model card record of where the run's weights came from."""
        return {"model": self.card.name, "folder": str(self.folder),
                "steps_trained": self.steps_trained,
                "sha256": {k: v.sha256 for k, v in self.card.files.items()
                           if k in (ENCODER, DECODER_INIT, DECODER_STEP)},
                "hardware": self.card.hardware,
                "wall_time_s": self.wall_time_s or None,
                "optimizer_state": "started afresh (a model folder holds no Adam moments)"}


def _initializers(path: Path) -> dict[str, np.ndarray]:
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises several types for a damaged file
        raise ModelError(path, f"cannot be read as ONNX ({exc})") from None
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _one(path: Path, arrays: dict[str, np.ndarray], shape: tuple[int, ...], what: str,
         name_part: str | None = None) -> np.ndarray:
    found = [a for n, a in arrays.items() if a.shape == shape and (name_part is None or name_part in n)]
    if len(found) != 1:
        raise ModelError(path, f"cannot identify the {what} (a {'x'.join(map(str, shape))} weight): found "
                               f"{len(found)}; was it written by sketchgen-export?")
    return found[0].astype(np.float32)


def _lstm_from_onnx(w: np.ndarray, r: np.ndarray, b: np.ndarray, units: int) -> dict[str, np.ndarray]:
    """One direction of an ONNX LSTM (W [4H, in], R [4H, H], B [8H]) as SketchLSTMCell weights."""
    return {"kernel": onnx_to_keras_lstm(w.T).copy(), "recurrent_kernel": onnx_to_keras_lstm(r.T).copy(),
            "bias": onnx_to_keras_lstm(b[:4 * units] + b[4 * units:]).astype(np.float32)}


def read_initial_model(path_or_name: str | Path) -> InitialModel:
    """Read a model folder (a path, or a name under assets/models) for ``--init-from``; checks its files' hashes."""
    folder = resolve_model(path_or_name)
    card = ModelCard.read(folder)
    card.verify_files()
    cfg = card.config
    if cfg.enc_model != "lstm" or cfg.dec_model != "lstm":
        raise ConfigError(f"{folder}: --init-from reads plain LSTM models; this one uses "
                          f"{cfg.enc_model}/{cfg.dec_model} cells")
    cond = cfg.conditional
    h, nz, m = cfg.dec_rnn_size, cfg.z_size, cfg.num_mixture
    step_path = folder / DECODER_STEP
    step = _initializers(step_path)
    weights: dict[str, Any] = {"decoder": {
        "kernel": _one(step_path, step, (5 + (nz if cond else 0), 4 * h), "decoder's input kernel"),
        "recurrent_kernel": _one(step_path, step, (h, 4 * h), "decoder's recurrent kernel"),
        "bias": _one(step_path, step, (4 * h,), "decoder's bias")},
        "decoder_output": {"kernel": _one(step_path, step, (h, 6 * m + 3), "output layer's kernel"),
                           "bias": _one(step_path, step, (6 * m + 3,), "output layer's bias")}}
    if cond:
        he = cfg.enc_rnn_size
        init_path = folder / DECODER_INIT
        init = _initializers(init_path)
        weights["decoder_init"] = {"kernel": _one(init_path, init, (nz, 2 * h), "initial-state kernel"),
                                   "bias": _one(init_path, init, (2 * h,), "initial-state bias")}
        enc_path = folder / ENCODER
        enc = _initializers(enc_path)
        for head in ("encoder_mu", "encoder_logvar"):
            weights[head] = {"kernel": _one(enc_path, enc, (2 * he, nz), f"{head} kernel", head + "_"),
                             "bias": _one(enc_path, enc, (nz,), f"{head} bias", head + "_")}
        graph = onnx.load(str(enc_path)).graph
        lstms = [n for n in graph.node if n.op_type == "LSTM"]
        if len(lstms) != 2:
            raise ModelError(enc_path, f"has {len(lstms)} LSTM ops; an exported encoder has 2 (one per direction)")
        directions = []
        for node in lstms:
            try:
                w, r, b = (enc[name] for name in node.input[1:4])
            except KeyError:
                raise ModelError(enc_path, f"LSTM op {node.name!r} does not read its weights from initializers") \
                    from None
            if w.shape != (1, 4 * he, 5) or r.shape != (1, 4 * he, he) or b.shape != (1, 8 * he):
                raise ModelError(enc_path, f"LSTM op {node.name!r} has weights {w.shape}, {r.shape}, {b.shape}; "
                                           f"expected a one-direction LSTM of {he} units over stroke-5")
            directions.append(_lstm_from_onnx(w[0], r[0], b[0], he))
        weights["encoder_directions"] = directions  # which is forward is settled by verify_against_onnx
    return InitialModel(card, weights)


def check_compatible(initial: InitialModel, hp_dict: dict[str, Any]) -> None:
    """The run's hyperparameters must give the model's weight shapes."""
    cfg = initial.config.to_dict()
    differ = [f"{k}={hp_dict.get(k)!r} (the model has {cfg[k]!r})" for k in ARCHITECTURE_KEYS
              if hp_dict.get(k) != cfg[k]]
    if differ:
        raise ConfigError(f"--init-from {initial.folder}: the run's architecture differs from the model's: "
                          + ", ".join(differ))


def _assign(layer, values: dict[str, np.ndarray]) -> None:
    for name, value in values.items():
        getattr(layer, name).assign(value)


def _max_error(got: np.ndarray, want: np.ndarray) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))


def _verification_inputs(initial: InitialModel, sketches) -> tuple[np.ndarray, np.ndarray]:
    """A few real sketches (stroke-5, normalised, no start token) and their lengths; random walks without data."""
    from sketchgen.strokes import stroke3_to_stroke5
    chosen = list(sketches[:4]) if sketches is not None and len(sketches) else []
    if not chosen:
        rng = np.random.default_rng(0)
        chosen = [np.column_stack([rng.normal(0, 1, (n, 2)), (rng.random(n) < 0.1)]).astype(np.float32)
                  for n in (7, 20, 33)]
    length = max(len(s) for s in chosen)
    strokes = np.stack([stroke3_to_stroke5(np.asarray(s, np.float32), length) for s in chosen]).astype(np.float32)
    return strokes, np.array([len(s) for s in chosen], np.int32)


def apply_and_verify(initial: InitialModel, model, sketches=None) -> dict[str, float]:
    """Put the weights into ``model`` (a training.model.SketchRNN) and check it against the folder's graphs.

    ``sketches``: normalised stroke-3 arrays to check on (the run's validation set). Returns the largest error
    per graph; raises ModelError naming the graph when one exceeds the export's parity tolerance."""
    import onnxruntime as ort

    def open_graph(name: str):
        return ort.InferenceSession(str(initial.folder / name), providers=["CPUExecutionProvider"])

    w = initial.weights
    _assign(model.decoder.cell, w["decoder"])
    _assign(model.output_head, w["decoder_output"])
    strokes, lengths = _verification_inputs(initial, sketches)
    batch = len(lengths)
    errors: dict[str, float] = {}
    if model.hp.conditional:
        _assign(model.init_head, w["decoder_init"])
        _assign(model.mu_head, w["encoder_mu"])
        _assign(model.logvar_head, w["encoder_logvar"])
        encoder = open_graph(ENCODER)
        want_mu, want_logvar = encoder.run(["mu", "logvar"], {"strokes": strokes, "lengths": lengths})
        best = None
        for fw, bw in itertools.permutations(w["encoder_directions"]):
            _assign(model.enc_fw.cell, fw)
            _assign(model.enc_bw.cell, bw)
            mu, logvar = model.encode(strokes, lengths)
            err = max(_max_error(mu, want_mu), _max_error(logvar, want_logvar))
            if best is None or err < best[0]:
                best = (err, fw, bw)
        err, fw, bw = best
        _assign(model.enc_fw.cell, fw)
        _assign(model.enc_bw.cell, bw)
        errors[ENCODER] = err
        z = np.asarray(want_mu, np.float32)
        want_h, want_c = open_graph(DECODER_INIT).run(["h", "c"], {"z": z})
        h, c = model.initial_state(z)
        errors[DECODER_INIT] = max(_max_error(h, want_h), _max_error(c, want_c))
    else:
        z = None
        want_h, want_c = open_graph(DECODER_INIT).run(["h", "c"], {"batch": np.array(batch, np.int64)})
    step = open_graph(DECODER_STEP)
    names = [o.name for o in step.get_outputs()]
    h, c = np.asarray(want_h, np.float32), np.asarray(want_c, np.float32)
    x = np.tile(START_TOKEN, (batch, 1)).astype(np.float32)
    worst = 0.0
    for t in range(min(8, strokes.shape[1])):
        feeds = {"x": x, "h": h, "c": c, **({"z": z} if z is not None else {})}
        want = dict(zip(names, step.run(None, feeds)))
        p, h1, c1 = model.decoder_step(x, z, h, c)
        got = {"pi": p.pi_logits, "mu_x": p.mu_x, "mu_y": p.mu_y, "sigma_x": p.sigma_x, "sigma_y": p.sigma_y,
               "rho": p.rho, "pen": p.pen_logits, "h_out": h1, "c_out": c1}
        worst = max(worst, *(_max_error(got[k], want[k]) for k in got))
        h, c, x = want["h_out"], want["c_out"], strokes[:, t]
    errors[DECODER_STEP] = worst
    for graph, err in errors.items():
        if not err <= PARITY_TOLERANCE:
            raise ModelError(initial.folder / graph, f"the weights read from it do not reproduce its outputs "
                                                     f"(largest error {err:.2e} > {PARITY_TOLERANCE:g})")
    return errors


def trained_model_from_folder(path_or_name: str | Path):
    """A model folder as a ``training.checkpoint.TrainedModel``, so that ``sketchgen-export`` can export it again
    (a newer exporter: another int8 layout, another opset) without the checkpoints of the run that made it.

    The weights come from its ONNX graphs and are checked against them (:func:`apply_and_verify`); the config,
    scale factor, data files and training facts (steps, hardware, wall time, experiment) from its ``model.json``.
    The losses are not carried over: the export measures them again on the data (``--data-dir``)."""
    from training.checkpoint import TrainedModel
    from training.model import SketchRNN

    initial = read_initial_model(path_or_name)
    card = initial.card
    hp = card.config
    model = SketchRNN(hp)
    errors = apply_and_verify(initial, model)
    files = [d for d in card.datasets if d.file]
    data = {"scale_factor": card.scale_factor, "max_seq_len": card.max_seq_len,
            "data_sets": [d.file for d in files] or list(hp.data_set),
            "sources": [{"name": d.file, "path": d.file, **({"sha256": d.sha256} if d.sha256 else {})}
                        for d in files]}
    training = card.training
    state = {"step": initial.steps_trained, "hardware": card.hardware,
             "wall_time_s": training.get("wall_time_s"), "best_step": training.get("best_step"),
             "experiment": training.get("experiment"), "checkpoint": training.get("checkpoint"),
             "reexported_from": {**initial.describe(), "max_error": errors}}
    if training.get("initialised_from"):
        state["init_from"] = training["initialised_from"]
    return TrainedModel(model=model, hparams=hp, data=data, state=state, directory=initial.folder)
