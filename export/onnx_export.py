"""Export a trained SketchRNN to a model folder of ONNX graphs that the engine (sketchgen.engine) runs.

Graphs (see docs/export.md for the folder contract):

- ``encoder.onnx`` (conditional models): built in TensorFlow from two plain ``keras.layers.LSTM`` layers that take
  the trained cells' weights, the backward one over ``tf.reverse_sequence(strokes, lengths)``, both read at
  ``lengths - 1``. This is exact (later padding cannot reach step length-1 of the forward pass, and the reversal
  keeps each sketch's own points first) and tf2onnx turns each layer into one native ONNX ``LSTM`` op. A layer-norm
  encoder has no ONNX LSTM equivalent: it is converted from the model's own ``encode`` (an ONNX ``Loop``, slower).
- ``decoder_init.onnx``, ``decoder_step.onnx``: the model's own ``initial_state`` and ``decoder_step``, via tf2onnx.
- ``decoder_prime.onnx``, ``decoder_sample.onnx``, ``decoder_sample_int8.onnx``: built from the decoder's weights
  by sketchgen/graphs/ (prefix priming as one LSTM op; the whole sampling loop as one ONNX Loop).

Nothing is written unless every graph passes onnx.checker and matches TensorFlow (export/parity.py). The folder is
assembled in a temporary folder beside the target and renamed into place, so a model folder is always complete.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from export import model_card, parity
from export.parity import ExportError
from export.model_weights import decoder_weights, encoder_weights, hyper_decoder_weights
from sketchgen import precision
from sketchgen.graphs import (DecoderWeights, build_encoder, build_hyper_sampler, build_prime, build_sampler,
                              build_step)
from sketchgen.engine import runtime
from sketchgen.errors import SketchGenError
from sketchgen.fileio import atomic_dir, check_writable_folder, remove_stale_temporaries
from sketchgen.model_folder import (CARD_FILE, DECODER_INIT, DECODER_PRIME, DECODER_SAMPLE, DECODER_SAMPLE_INT8,
                                    DECODER_STEP, ENCODER, ENCODER_INT8, OPSET, PRECISION_TOLERANCE_NATS, build_card,
                                    file_entries, graph_contract, write_card)

PRECISION_SKETCHES = 500  # test sketches used to measure int8's L_R (all of them when fewer)


# -- TensorFlow functions that tf2onnx converts --------------------------------------------------------------------

def _quiet_tf() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in ("tf2onnx", "tensorflow"):
        logging.getLogger(name).setLevel(logging.ERROR)


def encoder_function(model):
    """(tf.function strokes, lengths -> {mu, logvar}, native): native LSTM layers for plain LSTM encoders."""
    import keras
    import tensorflow as tf

    hp = model.hp
    signature = [tf.TensorSpec([None, None, 5], tf.float32, name="strokes"),
                 tf.TensorSpec([None], tf.int32, name="lengths")]
    if hp.enc_model != "lstm":
        @tf.function(input_signature=signature)
        def encoder_generic(strokes, lengths):
            mu, logvar = model.encode(strokes, lengths)
            return {"mu": mu, "logvar": logvar}
        return encoder_generic, False

    def plain_lstm(cell, name):
        layer = keras.layers.LSTM(cell.units, return_sequences=True, recurrent_dropout=0.0, name=name)
        layer.build((None, None, 5))
        layer.set_weights([cell.kernel.numpy(), cell.recurrent_kernel.numpy(), cell.bias.numpy()])
        return layer

    forward = plain_lstm(model.enc_fw.cell, "encoder_forward")
    backward = plain_lstm(model.enc_bw.cell, "encoder_backward")

    @tf.function(input_signature=signature)
    def encoder(strokes, lengths):
        fw = forward(strokes)
        bw = backward(tf.reverse_sequence(strokes, lengths, seq_axis=1, batch_axis=0))
        last = tf.stack([tf.range(tf.shape(strokes)[0]), lengths - 1], axis=1)
        hidden = tf.concat([tf.gather_nd(fw, last), tf.gather_nd(bw, last)], axis=-1)
        return {"mu": model.mu_head(hidden), "logvar": model.logvar_head(hidden)}

    return encoder, True


def decoder_init_function(model):
    import tensorflow as tf

    hp = model.hp
    if hp.conditional:
        @tf.function(input_signature=[tf.TensorSpec([None, hp.z_size], tf.float32, name="z")])
        def decoder_init(z):
            h, c = model.initial_state(z)
            return {"h": h, "c": c}
    else:
        @tf.function(input_signature=[tf.TensorSpec([], tf.int64, name="batch")])
        def decoder_init(batch):  # unconditional: the decoder starts from zeros
            shape = tf.stack([batch, tf.constant(hp.decoder_state_size, tf.int64)])
            return {"h": tf.zeros(shape, tf.float32), "c": tf.zeros(shape, tf.float32)}
    return decoder_init


def decoder_step_function(model):
    import tensorflow as tf

    hp = model.hp
    h, x = hp.decoder_state_size, tf.TensorSpec([None, 5], tf.float32, name="x")
    state = [tf.TensorSpec([None, h], tf.float32, name="h"), tf.TensorSpec([None, h], tf.float32, name="c")]

    def outputs(p, h_out, c_out):
        return {"pi": p.pi_logits, "mu_x": p.mu_x, "mu_y": p.mu_y, "sigma_x": p.sigma_x, "sigma_y": p.sigma_y,
                "rho": p.rho, "pen": p.pen_logits, "h_out": h_out, "c_out": c_out}

    if hp.conditional:
        @tf.function(input_signature=[x, tf.TensorSpec([None, hp.z_size], tf.float32, name="z")] + state)
        def decoder_step(x, z, h, c):
            return outputs(*model.decoder_step(x, z, h, c))
    else:
        @tf.function(input_signature=[x] + state)
        def decoder_step(x, h, c):
            return outputs(*model.decoder_step(x, None, h, c))
    return decoder_step


def convert(function, names: Sequence[str], opset: int):
    """tf2onnx.convert.from_function, with the graph's outputs named after ``function``'s returned dict."""
    import tf2onnx

    with contextlib.redirect_stdout(io.StringIO()):
        proto, _ = tf2onnx.convert.from_function(function, input_signature=function.input_signature, opset=opset)
    produced = {o.name: o for o in proto.graph.output}
    if sorted(produced) != sorted(names):
        raise ExportError(f"tf2onnx named the outputs {sorted(produced)}, expected {sorted(names)}")
    ordered = [produced[n] for n in names]  # tf2onnx sorts a returned dict's keys; keep the contract's order
    del proto.graph.output[:]
    proto.graph.output.extend(ordered)
    proto.producer_name = "sketchgen-export (tf2onnx)"
    return proto


# -- the export ----------------------------------------------------------------------------------------------------

def _check_target(out: Path, force: bool) -> None:
    if out.exists():
        if not out.is_dir():
            raise ExportError(f"{out}: exists and is not a folder")
        if not force:
            raise ExportError(f"{out}: already exists (pass --force / force=True to replace it)")
        if any(out.iterdir()) and not (out / CARD_FILE).is_file():
            raise ExportError(f"{out}: exists and is not a model folder; refusing to replace it")
    if not out.parent.is_dir():
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExportError(f"{out.parent}: cannot create the folder ({exc.strerror or exc})") from None
    check_writable_folder(out.parent)  # before the conversion, not after it
    remove_stale_temporaries(out)


def export_model(model, out: str | os.PathLike[str], *, scale_factor: float, max_seq_len: int | None = None,
                 data_sets: Sequence[dict[str, Any] | str] | None = None, training: dict[str, Any] | None = None,
                 losses: dict[str, Any] | None = None, losses_source: str | None = None,
                 real_sketches: Sequence[np.ndarray] | None = None, int8: bool = True, opset: int = OPSET,
                 force: bool = False, name: str | None = None) -> Path:
    """Export an in-memory ``training.model.SketchRNN`` (with its ``hp``) to the model folder ``out``.

    ``real_sketches``: normalised stroke-3 test sketches (divided by ``scale_factor``): used for parity and to
    measure int8's test-set L_R (without them the int8 sampler is written but not verified, and the engine's
    default precision stays fp32). ``losses``: valid/test L_R and L_KL to record (``None``: recorded as null).
    Raises ExportError / ParityError and writes nothing when any check fails.
    """
    _quiet_tf()
    out = Path(out)
    hp = model.hp
    if not (isinstance(scale_factor, (int, float)) and np.isfinite(scale_factor) and scale_factor > 0):
        raise ExportError(f"scale_factor must be a positive number, got {scale_factor!r}")
    max_seq_len = int(max_seq_len or hp.max_seq_len)
    _check_target(out, force)
    for weight in model.weights:
        if weight.dtype == "float32" and not np.isfinite(weight.numpy()).all():
            raise ExportError(f"weight {weight.path} holds NaN or infinite values (a diverged checkpoint?); "
                              "nothing was written")
    started = time.perf_counter()

    protos: dict[str, Any] = {}
    native = False
    if hp.conditional:
        fn, native = encoder_function(model)
        protos[ENCODER] = convert(fn, ["mu", "logvar"], opset)
    protos[DECODER_INIT] = convert(decoder_init_function(model), ["h", "c"], opset)
    protos[DECODER_STEP] = convert(decoder_step_function(model), ["pi", "mu_x", "mu_y", "sigma_x", "sigma_y",
                                                                          "rho", "pen", "h_out", "c_out"], opset)
    hyper = hp.dec_model == "hyper"
    weights = None if hyper else decoder_weights(model)
    if hyper:  # the fused sampler in fp32; no primer (the engine primes with decoder_step.onnx), no int8
        int8 = False
        protos[DECODER_SAMPLE] = build_hyper_sampler(hyper_decoder_weights(model))
    else:
        protos[DECODER_PRIME] = build_prime(weights)
        protos[DECODER_SAMPLE] = build_sampler(weights, "fp32")
    encoder_twin = None
    if int8 and hp.conditional and native:  # a plain-LSTM encoder also gets an int8 one-op twin
        encoder = encoder_weights(model)
        protos[ENCODER_INT8] = build_encoder(encoder, "int8")
        encoder_twin = parity.session(build_encoder(encoder, "fp32"))
    # int8: the test-set L_R decides first which int8 weight layout the sampler gets (or whether none ships)
    precision_info: dict[str, Any] = {"default": "fp32"}
    if hyper:
        precision_info["int8"] = {"files": [], "verified": False,
                                  "note": "not offered for the hyper decoder (its fused sampler is fp32 only)"}
    int8_scales = "tensor"
    if int8:
        precision_info["int8"] = int8_info = _int8_precision(protos, weights, real_sketches, max_seq_len, hp)
        int8_scales = int8_info.get("scales", int8_scales)
        if int8_info.get("files"):
            protos[DECODER_SAMPLE_INT8] = build_sampler(weights, "int8", scales=int8_scales)
        if ENCODER_INT8 not in int8_info.get("files", []):
            protos.pop(ENCODER_INT8, None)
            encoder_twin = None
        if int8_info.get("verified"):
            precision_info["default"] = "int8"

    structure = {name_: parity.check_structure(p, name_, native_lstm=(name_ == ENCODER and native))
                 for name_, p in protos.items()}
    if ENCODER_INT8 in protos and structure[ENCODER_INT8].get("DynamicQuantizeLSTM") != 1:
        raise ExportError(f"{ENCODER_INT8}: expected one DynamicQuantizeLSTM op")
    sessions = {name_: parity.session(p) for name_, p in protos.items()}
    contract = graph_contract(hp)
    for name_, sess in sessions.items():
        try:
            runtime.check_io(sess, Path(name_), contract[name_])
        except SketchGenError as exc:
            raise ExportError(f"exported graph breaks the model-folder contract: {exc}") from None

    rng = np.random.default_rng(hp.seed)
    limit = min(max_seq_len, 40)
    cases = [parity.random_strokes(rng, sorted({1, 2, limit // 2, limit}))]
    real = parity.pick_real(real_sketches)
    if real:
        cases.append(parity.real_strokes(real))
    int8_step = (parity.session(build_step(weights, "int8", scales=int8_scales))
                 if DECODER_SAMPLE_INT8 in protos else None)
    report = parity.check_all(parity.TFReference(model), sessions, int8_step, cases, hp.z_size, hp.decoder_state_size,
                              hp.num_mixture, max_seq_len, seed=hp.seed, encoder_twin=encoder_twin)

    datasets = [d if isinstance(d, dict) else model_card.dataset_entry(d) for d in (data_sets or hp.data_set)]
    training = dict(training or {})
    training.setdefault("steps_trained", None)
    training.setdefault("hardware", None)
    training.setdefault("wall_time_s", None)
    export_info = {
        "opset": opset,
        "tools": model_card.tool_versions(),
        "decoder": hp.describe_decoder(),
        "encoder": (None if not hp.conditional else "native ONNX LSTM ops (keras.layers.LSTM with the trained weights)"
                    if native else "generic conversion of the layer-norm cell (ONNX Loop): no native LSTM op exists "
                                   "for it"),
        "ops": {name_: dict(sorted(counts.items())) for name_, counts in structure.items()},
        "parity": report.to_dict(),
        "real_sketches_checked": bool(real),
        "seconds": None,
    }
    graphs = {name_: {kind: {k: {"type": t, "shape": list(s)} for k, (t, s) in io_.items()}
                      for kind, io_ in contract[name_].items()} for name_ in protos}

    with atomic_dir(out) as tmp:
        for name_, proto in protos.items():
            (tmp / name_).write_bytes(proto.SerializeToString())
        export_info["seconds"] = round(time.perf_counter() - started, 2)
        write_card(tmp, build_card(
            name=name or out.name, config=hp, scale_factor=float(scale_factor), max_seq_len=max_seq_len,
            datasets=datasets, training=training, losses=losses,
            losses_source=losses_source or ("given to the export" if losses else "not available (null)"),
            export=export_info, precision=precision_info, graphs=graphs, files=file_entries(tmp, sorted(protos))))
        _smoke_test(tmp)
    return out


def _int8_precision(protos: dict[str, Any], weights: DecoderWeights, real_sketches: Sequence[np.ndarray] | None,
                    max_seq_len: int, hp) -> dict[str, Any]:
    """Measure int8's test-set L_R against fp32 (sketchgen/precision.py) and pick the int8 sampler's weight layout:
    the fastest one within PRECISION_TOLERANCE_NATS. "files" lists the int8 graphs to write: none when no layout is
    good enough; the sampler alone when the int8 encoder is not (the engine then encodes in fp32); both, but
    unverified (the engine then uses fp32 unless asked), without test sketches."""
    files = [ENCODER_INT8] * (ENCODER_INT8 in protos) + [DECODER_SAMPLE_INT8]
    info: dict[str, Any] = {
        "files": files,
        "weights": "decoder sampler: int8 weights ('scales': 'tensor', one scale for the recurrent kernel and "
                   "output head together; 'column', one per output column; 'gates', the recurrent kernel only, "
                   "the output head fp32), h quantised with a fixed scale (uint8, 1/127), ONNX Runtime QGemm; "
                   "encoder: ONNX Runtime DynamicQuantizeLSTM (int8 weights per gate column)"}
    if not real_sketches or not any(len(s) <= max_seq_len for s in real_sketches):
        info.update(scales="tensor", verified=False, note="not measured: no test sketches were given to the export; "
                                                          "the engine uses it only when asked (precision='int8')")
        return info
    test = [s for s in real_sketches if len(s) <= max_seq_len][:PRECISION_SKETCHES]
    measure = {"decoder_init": parity.session(protos[DECODER_INIT]),
               "decoder_step": parity.session(build_step(weights, "fp32"))}
    if hp.conditional:
        measure["encoder"] = parity.session(protos[ENCODER])
    encoder_int8 = parity.session(protos[ENCODER_INT8]) if ENCODER_INT8 in protos else None
    info.update(precision.choose_int8_layout(
        measure, encoder_int8, lambda scales: parity.session(build_step(weights, "int8", scales=scales)), test,
        max_seq_len, hp.conditional, seed=hp.seed))
    if not info["verified"]:
        info["files"] = []
        info["note"] = (f"int8 changed test-set L_R by {info['delta_nats']:+.4f} nats (more than "
                        f"{PRECISION_TOLERANCE_NATS}) with every weight layout; the int8 graphs were not written")
    elif "encoder" not in info["int8_graphs"] and encoder_int8 is not None:
        info["files"] = [DECODER_SAMPLE_INT8]
        delta = info["encoder_int8"]["delta_nats_with_int8_decoder"]
        info["note"] = (f"the int8 encoder moved test-set L_R by {delta:+.4f} nats together with the int8 decoder "
                        f"(more than {PRECISION_TOLERANCE_NATS}): it was not written; int8 sampling encodes with "
                        "encoder.onnx (fp32)")
    return info


def _smoke_test(folder: Path) -> None:
    """The finished folder loads in the engine and draws (the same code path a user's program takes)."""
    from sketchgen.engine import load_model

    model = load_model(folder, provider="cpu")
    sketches = model.sample(n=2, temperature=0.5, max_len=8, seed=0)
    if len(sketches) != 2 or not all(np.isfinite(s).all() for s in sketches):
        raise ExportError(f"{folder}: the exported model does not sample (smoke test)")


# -- from an experiment folder ---------------------------------------------------------------------------------------

def _recorded(state: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if state.get(key) is not None:
            return state[key]
    return None


def export_experiment(experiment_dir: str | os.PathLike[str], out: str | os.PathLike[str], *, which: str = "best",
                      data_dir: str | os.PathLike[str] | None = None, int8: bool = True, opset: int = OPSET,
                      force: bool = False) -> Path:
    """Export a sketchgen-train experiment (its ``best`` checkpoint, else ``latest``) to ``out``; or export a model
    folder again (``experiment_dir`` holds a ``model.json``): its weights, config and training facts, with this
    exporter's graphs and measurements."""
    _quiet_tf()
    from training.checkpoint import load_trained_model
    from training.dataset import load_sketch_data

    _check_target(Path(out), force)  # before the slow part: a wrong --out fails at once
    if (Path(experiment_dir) / CARD_FILE).is_file() and not (Path(experiment_dir) / "state.json").is_file():
        from training.warm_start import trained_model_from_folder

        trained = trained_model_from_folder(Path(experiment_dir))
    else:
        trained = load_trained_model(experiment_dir, which)
    hp, info = trained.hparams, trained.data
    max_seq_len = int(info.get("max_seq_len") or hp.max_seq_len)
    sources = info.get("sources") or []
    sha = {s["name"]: s["sha256"] for s in sources if "sha256" in s}
    datasets = [model_card.dataset_entry(s.get("name") or s.get("path"), s.get("sha256")) for s in sources] \
        or [model_card.dataset_entry(d) for d in info.get("data_sets", hp.data_set)]

    data = None
    data_problem = None
    try:
        entries = [s["name"] for s in sources] if data_dir is not None else [s["path"] for s in sources]
        data = load_sketch_data(entries, data_dir, max_seq_len, scale=trained.scale_factor, expected_sha256=sha)
    except (SketchGenError, KeyError, OSError) as exc:
        data_problem = str(exc)

    losses, losses_source = None, None
    evaluation = trained.state.get("evaluation")
    if isinstance(evaluation, dict) and "valid" in evaluation and "test" in evaluation:
        losses_source = f"recorded by training.evaluate when checkpoint '{trained.directory.name}' was saved"
    elif data is not None:
        from training.evaluate import Evaluator

        evaluator = Evaluator(trained.model, hp, max_seq_len)
        evaluation = {split: evaluator.evaluate(data.splits[split]) for split in ("valid", "test")}
        losses_source = "computed at export with training.evaluate.Evaluator"
    else:
        evaluation = None
        losses_source = f"not available: the data could not be loaded ({data_problem})"
    if evaluation:
        losses = {f"{split}_{name}": float(evaluation[split][key]) for split in ("valid", "test")
                  for name, key in (("L_R", "r_loss"), ("L_KL", "kl_loss"))}

    state = trained.state
    training = {
        "steps_trained": trained.step,
        "hardware": _recorded(state, "hardware", "device"),
        **({"segments": state["segments"]} if state.get("segments") else {}),
        "wall_time_s": _recorded(state, "wall_time_s", "train_seconds", "elapsed_s"),
        "experiment": state.get("experiment") or str(Path(experiment_dir).resolve()),
        "checkpoint": state.get("checkpoint") or trained.directory.name,
        "best_step": state.get("best_step"),
        **({"best_rule": state["best_rule"]} if state.get("best_rule") else {}),
        **({"initialised_from": state["init_from"]} if state.get("init_from") else {}),
        **({"reexported_from": state["reexported_from"]} if state.get("reexported_from") else {}),
        "facts_source": "state.json of the checkpoint (null: not recorded by the training run)",
    }
    real = data.splits["test"] if data is not None else None
    return export_model(trained.model, out, scale_factor=trained.scale_factor, max_seq_len=max_seq_len,
                        data_sets=datasets, training=training, losses=losses, losses_source=losses_source,
                        real_sketches=real, int8=int8, opset=opset, force=force)
