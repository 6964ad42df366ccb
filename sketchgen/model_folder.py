"""The model folder: its file names, its card (``model.json``) as a typed :class:`ModelCard`, and finding one by name.

A model folder alone is enough to use a model: ``model.json`` holds the typed config (:class:`HParams`), the data's
scale factor, the data sets with their licenses, how it was trained and exported, and the sha256 of every graph
it lists. Every part reads it through :meth:`ModelCard.read`, which checks every field where the file enters, so a
hand-edited or hostile card is a :class:`ModelError` naming model.json and the field, never a crash later.

Here too live the facts every part must agree on: the graphs' inputs and outputs (:func:`graph_contract`), the
start token, the parity tolerances and the opsets. numpy and the standard library only (no ONNX Runtime).
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from sketchgen.config import LIMITS, HParams
from sketchgen.errors import ConfigError, ModelError
from sketchgen.fileio import atomic_write, sha256_file

__all__ = [
    "CARD_FILE", "ENCODER", "ENCODER_INT8", "DECODER_INIT", "DECODER_STEP", "DECODER_PRIME", "DECODER_SAMPLE",
    "DECODER_SAMPLE_INT8", "GRAPH_FILES", "MODELS_DIR", "START_TOKEN", "OPSET", "OPSET_RANGE", "PARITY_TOLERANCE",
    "PRECISION_TOLERANCE_NATS", "PRECISIONS", "HEAD_COLUMNS", "head_rows", "DataSet", "FileEntry", "Precision",
    "ModelCard", "graph_contract", "required_files", "is_model_folder", "shipped_models", "resolve_model",
    "build_card", "file_entries", "write_card",
]

# -- the folder's files ----------------------------------------------------------------------------------------------
CARD_FILE = "model.json"
ENCODER = "encoder.onnx"
ENCODER_INT8 = "encoder_int8.onnx"
DECODER_INIT = "decoder_init.onnx"
DECODER_STEP = "decoder_step.onnx"
DECODER_PRIME = "decoder_prime.onnx"
DECODER_SAMPLE = "decoder_sample.onnx"
DECODER_SAMPLE_INT8 = "decoder_sample_int8.onnx"
GRAPH_FILES = (ENCODER, ENCODER_INT8, DECODER_INIT, DECODER_STEP, DECODER_PRIME, DECODER_SAMPLE, DECODER_SAMPLE_INT8)
FORMAT = "sketchgen-model"
FORMAT_VERSION = 1

MODELS_DIR = Path(__file__).resolve().parents[1] / "assets" / "models"  # the models SketchGen ships

# -- facts the graphs, the engine, training and the export share -----------------------------------------------------
START_TOKEN = np.array([0.0, 0.0, 1.0, 0.0, 0.0], dtype=np.float32)  # the stroke-5 row fed before the first
OPSET = 17                    # the graphs built from weights; tf2onnx converts Keras 3 at OPSET_RANGE
OPSET_RANGE = (15, 18)
PARITY_TOLERANCE = 1e-4       # ONNX against TensorFlow (and a warm start's weights), relative above magnitude 1
PRECISION_TOLERANCE_NATS = 0.01  # int8 ships only where test-set L_R moves by at most this much
PRECISIONS = ("fp32", "int8")  # of the fused sampler's weights
# The fused sampler's head and its noise input (decoder_sample.onnx's noise_logits [T, B, K, HEAD_COLUMNS]) have one
# row per mixture component, at least 3 (the pen states share the rows); per row: pi logit, pen logit, mu_x, mu_y,
# log sigma_x, log sigma_y, 0, rho logit.
HEAD_COLUMNS = 8


def head_rows(num_mixture: int) -> int:
    """K, the rows of the sampler's head and noise layout."""
    return max(num_mixture, 3)

Dim = int | str  # a fixed size, or a symbolic one ("B", "T", "S") that may be anything
IO = dict[str, tuple[str, tuple[Dim, ...]]]


def required_files(conditional: bool) -> list[str]:
    """The graphs every model folder of this kind holds (the others are optional)."""
    return ([ENCODER] if conditional else []) + [DECODER_INIT, DECODER_STEP]


def graph_contract(config: HParams) -> dict[str, dict[str, IO]]:
    """Inputs and outputs (element type, shape) of every graph a model folder may hold, for a model's config."""
    h, m, nz = config.decoder_state_size, config.num_mixture, config.z_size  # h: with a hyper cell's units
    conditional = config.conditional
    k = head_rows(m)
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
                         "noise_logits": (f, ("T", "B", k, HEAD_COLUMNS)), "noise_angle": (f, ("T", "B", 2)),
                         "stop_pen": ("int64", ())},
              "outputs": {"offsets": (f, ("S", "B", 2)), "pens": ("int64", ("S", "B", 1))}}
    contract[DECODER_SAMPLE] = sample
    contract[DECODER_SAMPLE_INT8] = sample
    if conditional:
        contract[ENCODER] = {"inputs": {"strokes": (f, ("B", "T", 5)), "lengths": ("int32", ("B",))},
                             "outputs": {"mu": (f, ("B", nz)), "logvar": (f, ("B", nz))}}
        contract[ENCODER_INT8] = contract[ENCODER]
    return contract


# -- the card --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DataSet:
    """One data set the model was trained on; the model's use is bound by its license."""

    name: str
    file: str | None = None
    license: str | None = None
    attribution: str | None = None
    source: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    bytes: int | None = None


@dataclass(frozen=True)
class Precision:
    """Which precision the sampler may use: int8 only where the export measured it within the tolerance."""

    default: str = "fp32"
    int8_files: tuple[str, ...] = ()
    int8_verified: bool = False
    int8_scales: str | None = None  # the int8 weight layout the export chose ("tensor", "column", "gates")
    int8_report: Mapping[str, Any] = field(default_factory=dict)  # what the export measured (losses, note)


@dataclass(frozen=True)
class ModelCard:
    """model.json, checked and typed. ``raw`` keeps the whole JSON (for showing it and for fields added later)."""

    folder: Path
    name: str
    config: HParams
    scale_factor: float
    max_seq_len: int
    files: Mapping[str, FileEntry]
    datasets: tuple[DataSet, ...] = ()
    steps_trained: int | None = None
    losses: Mapping[str, float | None] | None = None
    losses_source: str | None = None
    training: Mapping[str, Any] = field(default_factory=dict)   # provenance: hardware, wall time, experiment
    export: Mapping[str, Any] = field(default_factory=dict)     # opset, tool versions, parity report
    precision: Precision = Precision()
    start_token: tuple[float, ...] = tuple(START_TOKEN.tolist())  # the stroke-5 row fed before the first point
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def path(self) -> Path:
        return self.folder / CARD_FILE

    @property
    def conditional(self) -> bool:
        return self.config.conditional

    @property
    def int8_ready(self) -> bool:
        """The fused int8 sampler is in the folder and the export verified its loss."""
        return self.precision.int8_verified and DECODER_SAMPLE_INT8 in self.files

    @property
    def hardware(self) -> str | None:
        value = self.training.get("hardware")
        return value if isinstance(value, str) else None

    @property
    def wall_time_s(self) -> float | None:
        value = self.training.get("wall_time_s")
        return float(value) if _is_number(value) else None

    @property
    def opset(self) -> int | None:
        value = self.export.get("opset")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @classmethod
    def read(cls, folder: str | os.PathLike[str]) -> "ModelCard":
        """The folder's model.json, checked; ModelError naming the file (and the field) for anything wrong."""
        folder = Path(folder)
        path = folder / CARD_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ModelError(path, "is missing: not a model folder") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(path, f"cannot be read ({exc})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(path, f"is not valid JSON (line {exc.lineno}: {exc.msg})") from None
        except RecursionError:
            raise ModelError(path, "is nested too deeply to be a model card") from None
        return cls.from_dict(data, folder)

    @classmethod
    def from_dict(cls, data: Any, folder: str | os.PathLike[str]) -> "ModelCard":
        folder = Path(folder)
        path = folder / CARD_FILE
        bad = lambda field_, problem: ModelError(path, f"{field_} {problem}")  # noqa: E731
        if not isinstance(data, dict):
            raise ModelError(path, f"must hold a JSON object, found {type(data).__name__}")
        fmt, version = data.get("format", FORMAT), data.get("format_version", FORMAT_VERSION)
        if fmt != FORMAT:
            raise bad("format", f"is {fmt!r}, not a SketchGen model card ({FORMAT!r})")
        if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
            raise bad("format_version", f"{version!r} is not one this SketchGen reads (up to {FORMAT_VERSION})")
        config = data.get("config")
        if not isinstance(config, dict):
            raise bad("config", "is missing or not an object (the model's hyperparameters)")
        for key in ("dec_rnn_size", "num_mixture", "z_size"):
            if key not in config:
                raise bad(f"config.{key}", "is missing")
        try:
            hp = HParams.from_dict(config, source="config", strict=True)
        except ConfigError as exc:
            raise ModelError(path, str(exc)) from None
        if "conditional" in data and data["conditional"] != hp.conditional:
            raise bad("conditional", f"is {data['conditional']!r} but config.conditional is {hp.conditional!r}")
        scale = data.get("scale_factor")
        if not _is_number(scale) or not math.isfinite(scale) or not scale > 0:
            raise bad("scale_factor", f"must be a positive finite number, found {scale!r}")
        max_len = data.get("max_seq_len")
        if not isinstance(max_len, int) or isinstance(max_len, bool) or not 0 < max_len <= LIMITS["max_seq_len"]:
            raise bad("max_seq_len", f"must be an integer from 1 to {LIMITS['max_seq_len']}, found {max_len!r}")
        name = data.get("name", folder.name)
        if not isinstance(name, str):
            raise bad("name", f"must be a string, found {name!r}")
        return cls(folder=folder, name=name or folder.name, config=hp, scale_factor=float(scale), max_seq_len=max_len,
                   files=_files(data.get("files"), hp.conditional, bad), datasets=_datasets(data.get("datasets"), bad),
                   steps_trained=_optional_count(data.get("steps_trained"), "steps_trained", bad),
                   losses=_losses(data.get("losses"), bad),
                   losses_source=_optional_str(data.get("losses_source"), "losses_source", bad),
                   training=_optional_object(data.get("training"), "training", bad),
                   export=_optional_object(data.get("export"), "export", bad),
                   precision=_precision(data.get("precision"), bad),
                   start_token=_start_token(data.get("start_token"), bad), raw=data)

    def verify_files(self) -> None:
        """Every file model.json lists is present and has the recorded sha256."""
        for name, entry in self.files.items():
            path = self.folder / name
            if not path.is_file():
                raise ModelError(path, "is missing (model.json lists it)")
            actual = sha256_file(path)
            if actual != entry.sha256.lower():
                raise ModelError(path, f"sha256 {actual[:12]}... does not match model.json ({entry.sha256[:12]}...): "
                                 "the file was altered or corrupted; export the model again")


def _start_token(value: Any, bad) -> tuple[float, ...]:
    """The row fed to the decoder before the first point: the training start token unless the card names one (the
    official JS demos feed their models zeros, and imported official models say so)."""
    if value is None:
        return tuple(START_TOKEN.tolist())
    if not (isinstance(value, list) and len(value) == 5 and all(_is_number(v) for v in value)
            and all(math.isfinite(v) for v in value)):
        raise bad("start_token", f"must be a list of 5 finite numbers, found {str(value)[:60]}")
    return tuple(float(v) for v in value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _optional_str(value: Any, name: str, bad) -> str | None:
    if value is not None and not isinstance(value, str):
        raise bad(name, f"must be a string, found {value!r}")
    return value


def _optional_count(value: Any, name: str, bad) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise bad(name, f"must be a whole number >= 0 or null, found {value!r}")
    return value


def _optional_object(value: Any, name: str, bad) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad(name, f"must be an object, found {value!r}")
    return value


def _files(value: Any, conditional: bool, bad) -> dict[str, FileEntry]:
    if not isinstance(value, dict):
        raise bad("files", "must list the folder's files with their sha256")
    files = {}
    for name, entry in value.items():
        if Path(name).name != name or name in ("", ".", "..", CARD_FILE):
            raise bad("files", f"lists a file outside the model folder: {name!r}")
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise bad(f"files.{name}", "must be an object with its sha256")
        files[name] = FileEntry(entry["sha256"], _optional_count(entry.get("bytes"), f"files.{name}.bytes", bad))
    for name in required_files(conditional):
        if name not in files:
            raise bad("files", f"does not list {name}, which every "
                      f"{'conditional' if conditional else 'unconditional'} model needs")
    return files


def _datasets(value: Any, bad) -> tuple[DataSet, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad("datasets", f"must be a list, found {value!r}")
    sets = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise bad(f"datasets[{i}]", f"must be an object, found {entry!r}")
        fields = {k: _optional_str(entry.get(k), f"datasets[{i}].{k}", bad)
                  for k in ("name", "file", "license", "attribution", "source", "sha256")}
        fields["name"] = fields["name"] or fields["file"] or "data set"
        sets.append(DataSet(**fields))
    return tuple(sets)


def _losses(value: Any, bad) -> dict[str, float | None] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(v is None or _is_number(v) for v in value.values()):
        raise bad("losses", f"must be an object of numbers, found {value!r}")
    return {k: None if v is None else float(v) for k, v in value.items()}


def _precision(value: Any, bad) -> Precision:
    if value is None:
        return Precision()
    if not isinstance(value, dict):
        raise bad("precision", f"must be an object, found {value!r}")
    default = value.get("default", "fp32")
    if default not in PRECISIONS:
        raise bad("precision.default", f"must be one of {', '.join(PRECISIONS)}, found {default!r}")
    int8 = value.get("int8")
    if int8 is None:
        return Precision(default)
    if not isinstance(int8, dict):
        raise bad("precision.int8", f"must be an object or null, found {int8!r}")
    files = int8.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise bad("precision.int8.files", f"must be a list of file names, found {files!r}")
    verified = int8.get("verified", False)
    if not isinstance(verified, bool):
        raise bad("precision.int8.verified", f"must be true or false, found {verified!r}")
    return Precision(default, tuple(files), verified, _optional_str(int8.get("scales"), "precision.int8.scales", bad),
                     int8)


# -- writing a card --------------------------------------------------------------------------------------------------

def file_entries(folder: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    return {name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size} for name in names}


def build_card(*, name: str, config: HParams, scale_factor: float, max_seq_len: int,
               files: dict[str, dict[str, Any]],
               datasets: list[dict[str, Any]] = (), training: dict[str, Any] | None = None,
               losses: dict[str, Any] | None = None, losses_source: str | None = None,
               export: dict[str, Any] | None = None, precision: dict[str, Any] | None = None,
               graphs: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model.json dict (key order is the order a reader wants)."""
    training = training or {}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "created": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "conditional": config.conditional,
        "scale_factor": float(scale_factor),
        "max_seq_len": int(max_seq_len),
        "datasets": list(datasets),
        "steps_trained": training.get("steps_trained"),
        "losses": losses,
        "losses_source": losses_source,
        "training": training,
        "config": config.to_dict(),
        "export": export or {},
        "precision": precision or {"default": "fp32", "int8": None},
        "graphs": graphs or {},
        "files": files,
    }


def write_card(folder: Path, card: dict[str, Any]) -> ModelCard:
    """Check ``card`` as a reader will, then write it to ``folder``/model.json (atomically)."""
    checked = ModelCard.from_dict(card, folder)
    with atomic_write(folder / CARD_FILE, mode="w") as fh:
        fh.write(json.dumps(card, indent=2) + "\n")
    return checked


# -- finding a folder ------------------------------------------------------------------------------------------------

def is_model_folder(path: Path) -> bool:
    return (path / CARD_FILE).is_file()


def shipped_models(root: Path | None = None) -> dict[str, Path]:
    """Name -> folder of the model folders directly under ``root`` (default: the shipped models), sorted by name."""
    root = MODELS_DIR if root is None else root
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return {}
    return {p.name: p for p in children if is_model_folder(p)}


def resolve_model(spec: str | os.PathLike[str], known: Mapping[str, Path] | None = None) -> Path:
    """``--model`` argument -> folder: an existing folder, else the name of a known model (default: the shipped
    ones); ModelError listing the known names otherwise."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    known = shipped_models() if known is None else known
    if str(spec) in known:
        return Path(known[str(spec)])
    names = ", ".join(known) or "none installed"
    raise ModelError(spec, f"no such model folder or model name (known models: {names})")
