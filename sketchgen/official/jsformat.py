"""The sketch-rnn-js model format: read it without trusting it, and write it so the official libraries load it.

A file is the JSON list ``[info, shapes, weights]``: ``info`` a header (``name``, ``mode``, ``version``,
``max_seq_len``, ``scale_factor``, ...; the variants differ: ``bear`` says ``mode: "gen", version: 2``, most files
``mode: 2, version: 6``), ``shapes`` one shape per weight, ``weights`` one base64 string per weight of little-endian
int16 values, float = int16 / 32767 * 10. Which weight is which is fixed by their order in the official loader
(``sketch-rnn-js/lib/sketch_rnn.js``, ``load_model``): 5 for a decoder-only (``gen``) model, 17 for a ``vae``.
Its LSTM takes ``[x, h] W + b`` with the gates in the order i, g, f, o (TensorFlow 1's LSTMCell) and adds 1.0 to
the forget gate at run time; its output head gives 3 pen logits, then 20 each of the mixture logits, mu_x, mu_y,
log sigma_x, log sigma_y and rho logits; a ``vae``'s initial state is ``tanh(z W + b)``, c first, then h.

A file comes from the network, so it is hostile until proven otherwise: its size is bounded before it is read, every
shape is checked against the loader's structure (and its size bounded) before any base64 is decoded, each string
must have exactly the length its shape implies, and any problem is a :class:`DataFileError` naming the file and the
problem. Nothing in a file can run code (plain ``json``, plain ``base64``).
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sketchgen.errors import DataFileError
from sketchgen.graphs import DecoderWeights, EncoderWeights

MAX_WEIGHT = 10.0          # float = int16 / INT16_SCALE * MAX_WEIGHT
INT16_SCALE = 32767
NUM_MIXTURE = 20           # the official loader's N_mixture (fixed)
OUTPUTS = 6 * NUM_MIXTURE + 3
FORGET_BIAS = 1.0          # added to the forget gate at run time by the official LSTMCell
MAX_FILE_BYTES = 256 << 20  # the largest official files (1024 units, vae) are about 40 MB
MAX_UNITS = 4096           # LSTM units, z size: far above any published model, small enough to bound memory
MAX_SEQ_LEN = 10_000

GEN_BLOBS = ("dec_output_w", "dec_output_b", "dec_lstm_W_xh", "dec_lstm_W_hh", "dec_lstm_bias")
ENCODER_BLOBS = ("enc_fw_lstm_W_xh", "enc_fw_lstm_W_hh", "enc_fw_lstm_bias", "enc_bw_lstm_W_xh", "enc_bw_lstm_W_hh",
                 "enc_bw_lstm_bias", "enc_mu_w", "enc_mu_b", "enc_sigma_w", "enc_sigma_b", "enc_w", "enc_b")
VAE_BLOBS = ENCODER_BLOBS + GEN_BLOBS
GEN_MODES = (2, "gen")     # the loader: `info.mode === 2 || info.mode === "gen"`; anything else reads as a vae
VAE_MODES = (0, 1, "vae")


@dataclass
class JSModel:
    """A parsed sketch-rnn-js model: its header and its weights (float32) by the official loader's names, in its
    layout (gates i, g, f, o; forget bias not folded in)."""

    info: dict[str, Any]
    weights: dict[str, np.ndarray]
    source: str

    @property
    def kind(self) -> str:
        return "vae" if "enc_w" in self.weights else "gen"

    @property
    def conditional(self) -> bool:
        return self.kind == "vae"

    @property
    def name(self) -> str:
        return str(self.info.get("name") or Path(self.source).name.split(".")[0])

    @property
    def max_seq_len(self) -> int:
        return int(self.info["max_seq_len"])

    @property
    def scale_factor(self) -> float:
        return float(self.info["scale_factor"])

    @property
    def units(self) -> int:
        return int(self.weights["dec_lstm_W_hh"].shape[0])

    @property
    def enc_units(self) -> int:
        return int(self.weights["enc_fw_lstm_W_hh"].shape[0]) if self.conditional else 0

    @property
    def z_size(self) -> int:
        return int(self.weights["enc_w"].shape[0]) if self.conditional else 0

    # -- to SketchGen's (Keras) layout ------------------------------------------------------------------------------
    def decoder_weights(self) -> DecoderWeights:
        w = self.weights
        return DecoderWeights(kernel=js_to_keras_gates(w["dec_lstm_W_xh"]),
                              recurrent_kernel=js_to_keras_gates(w["dec_lstm_W_hh"]),
                              bias=js_to_keras_bias(w["dec_lstm_bias"]), ln_gamma=None, ln_beta=None,
                              out_kernel=w["dec_output_w"].copy(), out_bias=w["dec_output_b"].copy(),
                              num_mixture=NUM_MIXTURE, z_size=self.z_size)

    def encoder_weights(self) -> EncoderWeights:
        w = self.weights
        return EncoderWeights(
            kernels=(js_to_keras_gates(w["enc_fw_lstm_W_xh"]), js_to_keras_gates(w["enc_bw_lstm_W_xh"])),
            recurrent_kernels=(js_to_keras_gates(w["enc_fw_lstm_W_hh"]), js_to_keras_gates(w["enc_bw_lstm_W_hh"])),
            biases=(js_to_keras_bias(w["enc_fw_lstm_bias"]), js_to_keras_bias(w["enc_bw_lstm_bias"])),
            mu=(w["enc_mu_w"].copy(), w["enc_mu_b"].copy()), logvar=(w["enc_sigma_w"].copy(), w["enc_sigma_b"].copy()))

    def init_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """The initial-state head in SketchGen's layout: kernel [Nz, 2H] and bias [2H], h first, then c (the
        official file keeps c first)."""
        h = self.units
        kernel, bias = self.weights["enc_w"], self.weights["enc_b"]
        return (np.concatenate([kernel[:, h:], kernel[:, :h]], axis=1),
                np.concatenate([bias[h:], bias[:h]]))


# -- gate orders -------------------------------------------------------------------------------------------------------

def _swap_middle_gates(array: np.ndarray) -> np.ndarray:
    """(i, g, f, o) <-> (i, f, c, o): the two middle blocks trade places (the same move both ways)."""
    i, second, third, o = np.split(np.asarray(array, np.float32), 4, axis=-1)
    return np.concatenate([i, third, second, o], axis=-1)


def js_to_keras_gates(array: np.ndarray) -> np.ndarray:
    return _swap_middle_gates(array)


def keras_to_js_gates(array: np.ndarray) -> np.ndarray:
    return _swap_middle_gates(array)


def js_to_keras_bias(bias: np.ndarray) -> np.ndarray:
    """The official bias with its run-time forget bias folded in, in Keras' gate order."""
    keras = js_to_keras_gates(bias)
    units = keras.shape[-1] // 4
    keras[units:2 * units] += np.float32(FORGET_BIAS)
    return keras


def keras_to_js_bias(bias: np.ndarray) -> np.ndarray:
    keras = np.asarray(bias, np.float32).copy()
    units = keras.shape[-1] // 4
    keras[units:2 * units] -= np.float32(FORGET_BIAS)
    return keras_to_js_gates(keras)


# -- reading -----------------------------------------------------------------------------------------------------------

def read_js_model(path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES) -> JSModel:
    """Read and check a ``.gen.json`` / ``.vae.json`` file (at most ``max_bytes``)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DataFileError(path, f"is {size / 2**20:.0f} MiB, more than a sketch-rnn-js model may be "
                                      f"({max_bytes / 2**20:.0f} MiB)")
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except IsADirectoryError:
        raise DataFileError(path, "is a folder, not a sketch-rnn-js model file") from None
    except FileNotFoundError:
        raise DataFileError(path, "does not exist") from None
    except OSError as exc:
        raise DataFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise DataFileError(path, f"is larger than a sketch-rnn-js model may be ({max_bytes / 2**20:.0f} MiB)")
    return parse_js_model(data, str(path))


def parse_js_model(data: bytes, source: str) -> JSModel:
    """Check and decode the bytes of a sketch-rnn-js model; ``source`` names it in errors."""
    def bad(problem: str) -> DataFileError:
        return DataFileError(source, problem)

    head = data[:512].lstrip().lower()
    if head.startswith(b"<"):
        raise bad("is not a sketch-rnn-js model: it is an HTML or XML page (a server's error page?)")
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise bad("is not a sketch-rnn-js model: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        if not data.rstrip().endswith(b"]"):
            raise bad(f"is not valid JSON: it ends too early (truncated after {len(data)} bytes?)") from None
        raise bad(f"is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise bad("is not a sketch-rnn-js model: nested too deeply") from None
    if not isinstance(raw, list) or len(raw) != 3:
        raise bad("is not a sketch-rnn-js model: expected a JSON list [info, shapes, weights]")
    info, shapes, blobs = raw
    if not isinstance(info, dict):
        raise bad("info (the first entry) must be an object")
    info = _check_info(info, bad)
    if not isinstance(shapes, list) or not isinstance(blobs, list):
        raise bad("shapes and weights (the second and third entries) must be lists")
    mode = info.get("mode")
    if mode in GEN_MODES:
        names = GEN_BLOBS
    elif mode in VAE_MODES:
        names = VAE_BLOBS
    elif mode is None:  # the loader would read it as a vae; the number of weights says which it is
        names = GEN_BLOBS if len(shapes) == len(GEN_BLOBS) else VAE_BLOBS
    else:
        raise bad(f"info.mode {mode!r} is not one the official loader knows (2 or 'gen': decoder only; 0, 1 or "
                  "'vae': encoder and decoder)")
    kind = "vae" if names is VAE_BLOBS else "gen"
    if len(shapes) != len(names) or len(blobs) != len(names):
        raise bad(f"a {kind} model has {len(names)} weights, this file has {len(shapes)} shapes and {len(blobs)} "
                  "weight strings")
    dims = [_check_shape(name, shape, bad) for name, shape in zip(names, shapes)]
    _check_structure(dict(zip(names, dims)), kind, bad)
    weights = {}
    for name, shape, blob in zip(names, dims, blobs):
        weights[name] = _decode(name, shape, blob, bad)
    return JSModel(info=info, weights=weights, source=source)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_info(info: dict[str, Any], bad) -> dict[str, Any]:
    max_len = info.get("max_seq_len")
    if not isinstance(max_len, int) or isinstance(max_len, bool) or not 0 < max_len <= MAX_SEQ_LEN:
        raise bad(f"info.max_seq_len must be an integer from 1 to {MAX_SEQ_LEN}, found {max_len!r}")
    scale = info.get("scale_factor")
    if not _is_number(scale) or not math.isfinite(scale) or not scale > 0:
        raise bad(f"info.scale_factor must be a positive number, found {scale!r}")
    name = info.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise bad(f"info.name must be a short string, found {str(name)[:50]!r}")
    version = info.get("version")
    if version is not None and not _is_number(version):
        raise bad(f"info.version must be a number, found {version!r}")
    # keep the header's plain values only (numbers, short strings): they go into the model card
    return {k: v for k, v in info.items() if isinstance(k, str) and len(k) <= 50
            and (_is_number(v) and math.isfinite(v) or isinstance(v, str) and len(v) <= 200 or v is None)}


def _check_shape(name: str, shape: Any, bad) -> tuple[int, ...]:
    if not isinstance(shape, list) or len(shape) not in (1, 2) or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise bad(f"the shape of {name} must be a list of one or two integers, found {str(shape)[:60]}")
    if not all(0 < d <= 4 * MAX_UNITS for d in shape):
        raise bad(f"the shape of {name}, {shape}, is outside what a sketch-rnn model can be "
                  f"(each size from 1 to {4 * MAX_UNITS})")
    return tuple(shape)


def _check_structure(dims: dict[str, tuple[int, ...]], kind: str, bad) -> None:
    """Every shape fits the official loader's structure (so the weights compute what it computes)."""
    h = dims["dec_lstm_W_hh"][0]

    def expect(name: str, shape: tuple[int, ...]) -> None:
        if dims[name] != shape:
            raise bad(f"{name} has shape {list(dims[name])}, expected {list(shape)} for a {kind} model with "
                      f"{h} decoder units")

    if h > MAX_UNITS:
        raise bad(f"the decoder has {h} units, more than {MAX_UNITS}")
    nz = 0
    if kind == "vae":
        e = dims["enc_fw_lstm_W_hh"][0]
        nz = dims["enc_w"][0]
        if e > MAX_UNITS or nz > MAX_UNITS:
            raise bad(f"encoder units ({e}) and z size ({nz}) must be at most {MAX_UNITS}")
        for side in ("fw", "bw"):
            expect(f"enc_{side}_lstm_W_xh", (5, 4 * e))
            expect(f"enc_{side}_lstm_W_hh", (e, 4 * e))
            expect(f"enc_{side}_lstm_bias", (4 * e,))
        for head in ("mu", "sigma"):
            expect(f"enc_{head}_w", (2 * e, nz))
            expect(f"enc_{head}_b", (nz,))
        expect("enc_w", (nz, 2 * h))
        expect("enc_b", (2 * h,))
    if dims["dec_output_w"][-1] != OUTPUTS:
        raise bad(f"dec_output_w has {dims['dec_output_w'][-1]} outputs; the official loader reads {OUTPUTS} "
                  f"(3 pen logits and 6 x {NUM_MIXTURE} mixture parameters)")
    expect("dec_output_w", (h, OUTPUTS))
    expect("dec_output_b", (OUTPUTS,))
    expect("dec_lstm_W_xh", (5 + nz, 4 * h))
    expect("dec_lstm_W_hh", (h, 4 * h))
    expect("dec_lstm_bias", (4 * h,))


def _decode(name: str, shape: tuple[int, ...], blob: Any, bad) -> np.ndarray:
    count = math.prod(shape)
    expected = 4 * math.ceil(2 * count / 3)
    if not isinstance(blob, str):
        raise bad(f"the weights of {name} must be a base64 string, found {type(blob).__name__}")
    if len(blob) != expected:
        raise bad(f"the weights of {name} are {len(blob)} base64 characters; its shape {list(shape)} needs "
                  f"{expected} (truncated or not this model's weights)")
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raise bad(f"the weights of {name} are not valid base64") from None
    if len(raw) != 2 * count:
        raise bad(f"the weights of {name} decode to {len(raw)} bytes, expected {2 * count}")
    values = np.frombuffer(raw, dtype="<i2").astype(np.float64) / INT16_SCALE * MAX_WEIGHT
    return values.astype(np.float32).reshape(shape)


# -- writing -----------------------------------------------------------------------------------------------------------

def quantize(name: str, array: np.ndarray) -> np.ndarray:
    """float32 -> the format's int16 (round to nearest); a weight beyond +-10 cannot be written."""
    array = np.asarray(array, np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    top = float(np.abs(array).max()) if array.size else 0.0
    if top > MAX_WEIGHT:
        raise ValueError(f"{name} holds a weight of magnitude {top:.3g}; the sketch-rnn-js format stores "
                         f"weights from -{MAX_WEIGHT:g} to {MAX_WEIGHT:g} only")
    return np.clip(np.round(array / MAX_WEIGHT * INT16_SCALE), -INT16_SCALE, INT16_SCALE).astype("<i2")


def dumps_js_model(info: dict[str, Any], weights: dict[str, np.ndarray]) -> str:
    """The JSON text of a model: ``weights`` by the loader's names (all of GEN_BLOBS, or all of VAE_BLOBS), in its
    layout. ValueError for a weight the format cannot hold."""
    names = VAE_BLOBS if "enc_w" in weights else GEN_BLOBS
    shapes, blobs = [], []
    for name in names:
        array = np.asarray(weights[name], np.float32)
        shapes.append(list(array.shape))
        blobs.append(base64.b64encode(quantize(name, array).tobytes()).decode("ascii"))
    return json.dumps([info, shapes, blobs], separators=(",", ":"))


def js_weights(decoder: DecoderWeights, encoder: EncoderWeights | None = None,
               init: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """SketchGen's weights (Keras layout; ``init``: kernel [Nz, 2H] and bias [2H], h first) by the loader's names."""
    if decoder.layer_norm or decoder.bias is None:
        raise ValueError("the decoder is a layer-norm LSTM; the sketch-rnn-js format holds plain LSTMs only")
    if decoder.num_mixture != NUM_MIXTURE:
        raise ValueError(f"the model has {decoder.num_mixture} mixture components; the official loader reads "
                         f"exactly {NUM_MIXTURE}")
    weights = {"dec_output_w": decoder.out_kernel, "dec_output_b": decoder.out_bias,
               "dec_lstm_W_xh": keras_to_js_gates(decoder.kernel),
               "dec_lstm_W_hh": keras_to_js_gates(decoder.recurrent_kernel),
               "dec_lstm_bias": keras_to_js_bias(decoder.bias)}
    if decoder.conditional:
        if encoder is None or init is None:
            raise ValueError("a conditional model needs its encoder and initial-state weights")
        h = decoder.units
        kernel, bias = init
        weights.update({
            "enc_fw_lstm_W_xh": keras_to_js_gates(encoder.kernels[0]),
            "enc_fw_lstm_W_hh": keras_to_js_gates(encoder.recurrent_kernels[0]),
            "enc_fw_lstm_bias": keras_to_js_bias(encoder.biases[0]),
            "enc_bw_lstm_W_xh": keras_to_js_gates(encoder.kernels[1]),
            "enc_bw_lstm_W_hh": keras_to_js_gates(encoder.recurrent_kernels[1]),
            "enc_bw_lstm_bias": keras_to_js_bias(encoder.biases[1]),
            "enc_mu_w": encoder.mu[0], "enc_mu_b": encoder.mu[1],
            "enc_sigma_w": encoder.logvar[0], "enc_sigma_b": encoder.logvar[1],
            "enc_w": np.concatenate([kernel[:, h:], kernel[:, :h]], axis=1),
            "enc_b": np.concatenate([bias[h:], bias[:h]])})
    return {k: np.asarray(v, np.float32) for k, v in weights.items()}
