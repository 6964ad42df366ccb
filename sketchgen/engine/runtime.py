"""ONNX Runtime sessions for a model folder's graphs: providers, threads, and each graph checked on opening.

Every graph's input and output names, element types and fixed sizes are checked against
:func:`sketchgen.model_folder.graph_contract`, so a stale, truncated or hand-edited file is reported as a
:class:`ModelError` naming it instead of failing later inside ONNX Runtime. The folder itself (its card, its file
names, its checksums) is :mod:`sketchgen.model_folder`'s.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sketchgen.errors import ModelError
from sketchgen.model_folder import DECODER_INIT, ENCODER, ENCODER_INT8, IO

PROVIDERS = ("auto", "cpu", "cuda")


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
    (bench/sample_speed.py), so it gets two where there are two cores."""
    return SessionOptions(intra_op_threads=max(options.intra_op_threads, min(2, os.cpu_count() or 1)))


def graph_options(name: str, options: SessionOptions) -> SessionOptions:
    """The options for one graph of a model folder. ``decoder_init.onnx`` (one small product) always runs on the
    calling thread: every session owns its thread pool, whose threads spin on for a while after a call, so a
    2-thread init session called just before a 2-thread sampler takes a core from it (ONNX Runtime's Python API
    cannot share one pool between sessions). The encoders get :func:`encoder_options`."""
    if name in (ENCODER, ENCODER_INT8):
        return encoder_options(options)
    if name == DECODER_INIT:
        return SessionOptions(intra_op_threads=1)
    return options


def open_session(path: Path, providers: list[str], options: SessionOptions | None = None):
    """An InferenceSession for one graph; a file ONNX Runtime cannot load is a ModelError naming it.

    Denormals are left as they are: ONNX Runtime's ``session.set_denormal_as_zero`` switches flush-to-zero on in the
    thread that creates the session and never back, which changed the float arithmetic of the whole calling program
    (numpy included), and it bought nothing measurable in the sampler."""
    import onnxruntime as ort

    options = options or SessionOptions()
    so = ort.SessionOptions()
    so.intra_op_num_threads = options.intra_op_threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
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
