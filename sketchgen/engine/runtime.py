"""Model folders: find one, check it against its model.json, and open its ONNX Runtime sessions.

A model folder (``assets/models/<name>/``) holds ``model.json`` and the ONNX graphs it lists with their sha256.
Loading checks every listed file (missing or altered -> :class:`ModelError` naming the file) and every graph's
input and output names, element types and fixed sizes against :func:`graph_contract`, so a stale, truncated or
hand-edited file is reported as such instead of failing later inside ONNX Runtime. numpy + onnxruntime only.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sketchgen.errors import ModelError
from sketchgen.fileio import sha256_file

CARD_FILE = "model.json"
ENCODER = "encoder.onnx"
ENCODER_INT8 = "encoder_int8.onnx"
DECODER_INIT = "decoder_init.onnx"
DECODER_STEP = "decoder_step.onnx"
DECODER_PRIME = "decoder_prime.onnx"
DECODER_SAMPLE = "decoder_sample.onnx"
DECODER_SAMPLE_INT8 = "decoder_sample_int8.onnx"
PROVIDERS = ("auto", "cpu", "cuda")
MODELS_DIR = Path(__file__).resolve().parents[2] / "assets" / "models"

Dim = int | str  # a fixed size, or a symbolic one ("B", "T", "S") that may be anything
IO = dict[str, tuple[str, tuple[Dim, ...]]]


def graph_contract(config: dict[str, Any]) -> dict[str, dict[str, IO]]:
    """Inputs and outputs (element type, shape) of every graph a model folder may hold, for a model's config."""
    h, m = int(config["dec_rnn_size"]), int(config["num_mixture"])
    conditional = bool(config.get("conditional", True))
    nz = int(config["z_size"])
    k = max(m, 3)
    f = "float"
    z_in: IO = {"z": (f, ("B", nz))} if conditional else {}
    state: IO = {"h": (f, ("B", h)), "c": (f, ("B", h))}
    contract: dict[str, dict[str, IO]] = {
        DECODER_INIT: {"inputs": z_in if conditional else {"batch": ("int64", ())}, "outputs": dict(state)},
        DECODER_STEP: {
            "inputs": {"x": (f, ("B", 5)), **z_in, **state},
            "outputs": {**{n: (f, ("B", m)) for n in ("pi", "mu_x", "mu_y", "sigma_x", "sigma_y", "rho")},
                        "pen": (f, ("B", 3)), "h_out": (f, ("B", h)), "c_out": (f, ("B", h))}},
        DECODER_PRIME: {
            "inputs": {"strokes": (f, ("B", "T", 5)), "lengths": ("int32", ("B",)), **z_in,
                       "h0": (f, ("B", h)), "c0": (f, ("B", h))},
            "outputs": dict(state)},
    }
    sample = {"inputs": {**z_in, "h0": (f, ("B", h)), "c0": (f, ("B", h)), "x0": (f, ("B", 5)),
                         "noise_logits": (f, ("T", "B", k, 8)), "noise_angle": (f, ("T", "B", 2)),
                         "stop_pen": ("int64", ())},
              "outputs": {"offsets": (f, ("S", "B", 2)), "pens": ("int64", ("S", "B", 1))}}
    contract[DECODER_SAMPLE] = sample
    contract[DECODER_SAMPLE_INT8] = sample
    if conditional:
        contract[ENCODER] = {"inputs": {"strokes": (f, ("B", "T", 5)), "lengths": ("int32", ("B",))},
                             "outputs": {"mu": (f, ("B", nz)), "logvar": (f, ("B", nz))}}
        contract[ENCODER_INT8] = contract[ENCODER]
    return contract


def required_files(conditional: bool) -> list[str]:
    return ([ENCODER] if conditional else []) + [DECODER_INIT, DECODER_STEP]


# -- finding and checking a folder -------------------------------------------------------------------------------

def resolve_model_path(path_or_name: str | os.PathLike[str]) -> Path:
    """An existing folder, else the name of a folder under the repository's assets/models/."""
    path = Path(path_or_name).expanduser()
    if path.is_dir():
        return path
    candidate = MODELS_DIR / str(path_or_name)
    if Path(str(path_or_name)).name == str(path_or_name) and candidate.is_dir():
        return candidate
    known = sorted(p.name for p in MODELS_DIR.iterdir() if (p / CARD_FILE).is_file()) if MODELS_DIR.is_dir() else []
    hint = f"known models: {', '.join(known)}" if known else f"no models installed in {MODELS_DIR}"
    raise ModelError(path, f"no such model folder or model name ({hint})")


def read_card(folder: Path) -> dict[str, Any]:
    """model.json as a dict, with the fields the engine relies on checked."""
    path = folder / CARD_FILE
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(path, "is missing: not a model folder") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(path, f"cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ModelError(path, f"is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(card, dict):
        raise ModelError(path, "must hold a JSON object")
    config = card.get("config")
    if not isinstance(config, dict):
        raise ModelError(path, "has no 'config' object (the model's hyperparameters)")
    for key in ("dec_rnn_size", "num_mixture", "z_size"):
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ModelError(path, f"config.{key} must be a positive integer, found {value!r}")
    if not isinstance(config.get("conditional", True), bool):
        raise ModelError(path, "config.conditional must be true or false")
    scale = card.get("scale_factor")
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale > 0 or scale != scale:
        raise ModelError(path, f"scale_factor must be a positive number, found {scale!r}")
    max_len = card.get("max_seq_len")
    if not isinstance(max_len, int) or isinstance(max_len, bool) or max_len <= 0:
        raise ModelError(path, f"max_seq_len must be a positive integer, found {max_len!r}")
    files = card.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, dict) and isinstance(v.get("sha256"), str)
                                              for v in files.values()):
        raise ModelError(path, "must list its files with their sha256 under 'files'")
    for name in files:
        if Path(name).name != name or name in (".", "..", CARD_FILE):
            raise ModelError(path, f"lists a file outside the model folder: {name!r}")
    for name in required_files(config.get("conditional", True)):
        if name not in files:
            raise ModelError(path, f"does not list {name}, which every "
                             f"{'conditional' if config.get('conditional', True) else 'unconditional'} model needs")
    return card


def verify_files(folder: Path, card: dict[str, Any]) -> None:
    """Every file model.json lists is present and has the recorded sha256."""
    for name, entry in card["files"].items():
        path = folder / name
        if not path.is_file():
            raise ModelError(path, "is missing (model.json lists it)")
        actual = sha256_file(path)
        if actual != entry["sha256"].lower():
            raise ModelError(path, f"sha256 {actual[:12]}... does not match model.json ({entry['sha256'][:12]}...): "
                             "the file was altered or corrupted; export the model again")


# -- ONNX Runtime ----------------------------------------------------------------------------------------------------

def choose_providers(provider: str = "auto") -> list[str]:
    """Execution providers to ask for: CUDA first when onnxruntime-gpu offers it ("auto" or "cuda"), then CPU."""
    import onnxruntime as ort

    if provider not in PROVIDERS:
        raise ModelError("provider", f"must be one of {', '.join(PROVIDERS)}, got {provider!r}")
    available = ort.get_available_providers()
    if provider == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if provider == "cuda":
        raise ModelError("provider", "cuda was asked for but this onnxruntime has no CUDAExecutionProvider "
                                     "(install onnxruntime-gpu: make GPU=1)")
    return ["CPUExecutionProvider"]


@dataclass
class SessionOptions:
    """How sessions run. One intra-op thread by default: the decoder's ops are small, so a second thread mostly
    waits, and the app runs several calls at once from its worker threads."""

    intra_op_threads: int = 1


def encoder_options(options: SessionOptions) -> SessionOptions:
    """The encoder is one long LSTM op over the whole sketch, not many small ones: a second thread nearly halves it
    (fp32, 250 points: 6.6 -> 3.6 ms on the 2-core CPU, bench/sample_speed.py), so it gets two where there are two
    cores. (With ONNX Runtime's thread spinning off, the second thread's wake-up at each of the 250 time steps costs
    more than it saves: 7.8 ms.)"""
    return SessionOptions(intra_op_threads=max(options.intra_op_threads, min(2, os.cpu_count() or 1)))


def graph_options(name: str, options: SessionOptions) -> SessionOptions:
    """The options for one graph of a model folder. ``decoder_init.onnx`` (one small product) always runs on the
    calling thread: every session owns its thread pool, whose threads spin on for a while after a call, so a
    2-thread init session called just before a 2-thread sampler took a core from it (one sketch: 22 ms against 11
    on the 2-core CPU; ONNX Runtime's Python API cannot share one pool between sessions). The encoders get
    :func:`encoder_options`."""
    if name in (ENCODER, ENCODER_INT8):
        return encoder_options(options)
    if name == DECODER_INIT:
        return SessionOptions(intra_op_threads=1)
    return options


def open_session(path: Path, providers: list[str], options: SessionOptions | None = None):
    """An InferenceSession for one graph; a file ONNX Runtime cannot load is a ModelError naming it."""
    import onnxruntime as ort

    options = options or SessionOptions()
    so = ort.SessionOptions()
    so.intra_op_num_threads = options.intra_op_threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    so.add_session_config_entry("session.set_denormal_as_zero", "1")
    try:
        return ort.InferenceSession(str(path), sess_options=so, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types (Fail, InvalidGraph, ...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(path, f"ONNX Runtime cannot load it ({first})") from None


_ORT_TYPES = {"tensor(float)": "float", "tensor(int32)": "int32", "tensor(int64)": "int64"}


def check_io(session, path: Path, expected: dict[str, IO]) -> None:
    """The session's inputs and outputs have exactly the expected names, element types and ranks, and every size the
    graph fixes is the expected one (a size the graph leaves open is accepted: ONNX Runtime checks it per call)."""
    for kind, actual in (("inputs", session.get_inputs()), ("outputs", session.get_outputs())):
        want = expected[kind]
        names = [a.name for a in actual]
        if sorted(names) != sorted(want):
            raise ModelError(path, f"has {kind} {names}, expected {sorted(want)}")
        for arg in actual:
            dtype, shape = want[arg.name]
            got_type = _ORT_TYPES.get(arg.type, arg.type)
            if got_type != dtype:
                raise ModelError(path, f"{kind[:-1]} '{arg.name}' has type {got_type}, expected {dtype}")
            got = list(arg.shape) if arg.shape is not None else None
            if got is None or len(got) != len(shape):
                raise ModelError(path, f"{kind[:-1]} '{arg.name}' has shape {got}, expected rank {len(shape)} "
                                       f"{list(shape)}")
            for g, s in zip(got, shape):
                if isinstance(g, int) and (not isinstance(s, int) or g != s):
                    raise ModelError(path, f"{kind[:-1]} '{arg.name}' has shape {got}, expected {list(shape)}")
