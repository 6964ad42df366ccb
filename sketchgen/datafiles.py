"""sketch-rnn ``.npz`` data sets and single-sketch JSON files.

The ``.npz`` layout is the one of the official QuickDraw sketchrnn files and David Ha's extra data sets: keys
``train``, ``valid`` and ``test``, each a 1-D object array whose elements are ``[N, 3]`` stroke-3 arrays (int16, or
float64 in the kanji.rdp files). Reading goes through :mod:`sketchgen.safe_npz`, so a file can never run code; every
problem is a ``DataFileError`` that names the file, the split and the sketch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sketchgen.errors import DataFileError, SketchError
from sketchgen.fileio import atomic_write
from sketchgen.safe_npz import read_npz
from sketchgen.strokes import validate_stroke3

__all__ = [
    "SPLITS",
    "NpzContents",
    "read_npz_splits",
    "load_npz",
    "save_npz",
    "Sketch",
    "SKETCH_JSON_FORMAT",
    "SKETCH_JSON_VERSION",
    "save_sketch_json",
    "load_sketch_json",
]

SPLITS = ("train", "valid", "test")

_INT16_MIN, _INT16_MAX = np.iinfo(np.int16).min, np.iinfo(np.int16).max


@dataclass(frozen=True)
class NpzContents:
    """What an ``.npz`` holds: validated float32 sketches per split, and the dtype(s) they were stored with."""

    splits: dict[str, list[np.ndarray]]
    stored_dtypes: dict[str, list[str]]


def _split_sketches(path: str | os.PathLike[str], key: str, array: np.ndarray) -> tuple[list[np.ndarray], list[str]]:
    """Validate one split's array and return its sketches as float32 stroke-3 plus the element dtypes seen."""
    if array.ndim == 1 and array.size == 0:
        return [], []
    if array.dtype != np.dtype(object):
        shape = "x".join(str(n) for n in array.shape)
        if array.ndim == 2 and array.shape[1] == 3:
            why = (
                f"split {key!r} is one plain [{shape}] {array.dtype} array, not a list of sketches; a sketch-rnn "
                "file stores each sketch as an element of a 1-D object array"
            )
        elif array.ndim == 3:
            why = (
                f"split {key!r} is a padded 3-D [{shape}] {array.dtype} array; a sketch-rnn file stores each "
                "sketch unpadded as an element of a 1-D object array"
            )
        else:
            why = f"split {key!r} is a [{shape}] {array.dtype} array; expected a 1-D object array of [N, 3] sketches"
        raise DataFileError(path, why)
    if array.ndim != 1:
        raise DataFileError(path, f"split {key!r} is a {array.ndim}-D object array; expected 1-D (one sketch each)")
    sketches: list[np.ndarray] = []
    dtypes: set[str] = set()
    for index, element in enumerate(array):
        where = f"split {key!r}, sketch {index}"
        if not isinstance(element, np.ndarray):
            raise DataFileError(path, f"{where} is a {type(element).__name__}, not a numpy array")
        if element.dtype.kind not in "iuf":
            raise DataFileError(
                path, f"{where} has dtype {element.dtype}; sketches must hold numbers (int16 or float64)"
            )
        if element.ndim != 2 or element.shape[1] != 3:
            hint = " (a single point must be stored as [1, 3])" if element.shape == (3,) else ""
            raise DataFileError(path, f"{where} has shape {element.shape}, expected [N, 3]{hint}")
        try:
            sketches.append(validate_stroke3(element, name=where))
        except SketchError as exc:
            raise DataFileError(path, str(exc)) from None
        dtypes.add(str(element.dtype))
    return sketches, sorted(dtypes)


def read_npz_splits(path: str | os.PathLike[str], max_bytes: int | None = None) -> NpzContents:
    """Load and validate a sketch-rnn ``.npz``; like :func:`load_npz` but also says how the sketches were stored."""
    arrays = read_npz(path, max_bytes=max_bytes)
    missing = [key for key in SPLITS if key not in arrays]
    if missing:
        present = ", ".join(sorted(arrays)) if arrays else "none"
        raise DataFileError(
            path, f"has no {', '.join(repr(k) for k in missing)} split (keys in the file: {present}); "
            "a sketch-rnn file has train, valid and test"
        )
    splits: dict[str, list[np.ndarray]] = {}
    stored: dict[str, list[str]] = {}
    for key in SPLITS:
        splits[key], stored[key] = _split_sketches(path, key, arrays[key])
    return NpzContents(splits=splits, stored_dtypes=stored)


def load_npz(path: str | os.PathLike[str], max_bytes: int | None = None) -> dict[str, list[np.ndarray]]:
    """``{"train": [...], "valid": [...], "test": [...]}`` of validated float32 stroke-3 sketches; never runs code.

    ``max_bytes`` bounds what the file may cost (default: :func:`sketchgen.safe_npz.max_data_bytes`)."""
    return read_npz_splits(path, max_bytes=max_bytes).splits


def _object_array(sketches: Sequence[np.ndarray]) -> np.ndarray:
    out = np.empty(len(sketches), dtype=object)
    for i, sketch in enumerate(sketches):  # element-wise: equal-length sketches must not become a 3-D array
        out[i] = sketch
    return out


def save_npz(path: str | os.PathLike[str], splits: Mapping[str, Sequence[Any]]) -> str:
    """Write ``splits`` in the official sketchrnn layout (np.savez_compressed, object arrays), atomically.

    Sketches are stored as int16 when every value of every split is an integer that fits (as in the official files),
    else as float64, so nothing is ever rounded. Returns the dtype written ("int16" or "float64").
    """
    missing = [key for key in SPLITS if key not in splits]
    extra = sorted(set(splits) - set(SPLITS))
    if missing or extra:
        raise DataFileError(
            path, f"cannot save: splits must be exactly train, valid, test (missing: {missing}, unexpected: {extra})"
        )
    exact: dict[str, list[np.ndarray]] = {}
    for key in SPLITS:
        exact[key] = []
        for index, sketch in enumerate(splits[key]):
            try:
                validate_stroke3(sketch, name=f"split {key!r}, sketch {index}")
            except SketchError as exc:
                raise DataFileError(path, f"cannot save: {exc}") from None
            exact[key].append(np.asarray(sketch, dtype=np.float64))  # the caller's precision, not float32's
    every = [s for key in SPLITS for s in exact[key]]
    integral = all(
        np.array_equal(s, np.round(s)) and (s.size == 0 or (s.min() >= _INT16_MIN and s.max() <= _INT16_MAX))
        for s in every
    )
    dtype = np.int16 if integral else np.float64
    arrays = {key: _object_array([s.astype(dtype) for s in exact[key]]) for key in SPLITS}
    try:
        with atomic_write(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    except OSError as exc:
        raise DataFileError(path, f"cannot write ({exc.strerror or exc})") from None
    return np.dtype(dtype).name


# ---------------------------------------------------------------------------------------------------------------------
# Single sketches as JSON

SKETCH_JSON_FORMAT = "sketchgen.sketch"
SKETCH_JSON_VERSION = 1


@dataclass(eq=False)
class Sketch:
    """One stroke-3 sketch plus free-form metadata (source, category, QuickDraw fields ...).

    ``strokes`` is validated and stored as a float32 copy when the Sketch is made.
    """

    strokes: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.strokes = validate_stroke3(self.strokes)
        self.metadata = dict(self.metadata)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sketch):
            return NotImplemented
        return np.array_equal(self.strokes, other.strokes) and self.metadata == other.metadata

    def __len__(self) -> int:
        return len(self.strokes)


def _json_number(value: float) -> int | float:
    """Integral values as JSON integers (readable files); others as the float32 value's exact decimal."""
    return int(value) if float(value).is_integer() else float(value)


def save_sketch_json(path: str | os.PathLike[str], sketch: Sketch) -> None:
    """Write one sketch as ``{"format", "version", "strokes": [[dx, dy, pen], ...], "metadata": {...}}``, atomically."""
    document = {
        "format": SKETCH_JSON_FORMAT,
        "version": SKETCH_JSON_VERSION,
        "strokes": [[_json_number(v) for v in row] for row in validate_stroke3(sketch.strokes).tolist()],
        "metadata": sketch.metadata,
    }
    try:
        text = json.dumps(document, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise DataFileError(path, f"cannot save: metadata is not plain JSON ({exc})") from None
    try:
        with atomic_write(path, "w") as handle:
            handle.write(text + "\n")
    except OSError as exc:
        raise DataFileError(path, f"cannot write ({exc.strerror or exc})") from None


def load_sketch_json(path: str | os.PathLike[str]) -> Sketch:
    """Read a sketch written by :func:`save_sketch_json`; a clear ``DataFileError`` for anything malformed."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError(path, "no such file") from None
    except UnicodeDecodeError:
        raise DataFileError(path, "is not a UTF-8 text file, so not a sketch JSON file") from None
    except OSError as exc:
        raise DataFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(path, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(document, dict):
        raise DataFileError(path, f"expected a JSON object with a 'strokes' list, found a {type(document).__name__}")
    fmt = document.get("format", SKETCH_JSON_FORMAT)
    if fmt != SKETCH_JSON_FORMAT:
        raise DataFileError(path, f"format is {fmt!r}, not a {SKETCH_JSON_FORMAT!r} file")
    version = document.get("version", SKETCH_JSON_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DataFileError(path, f"version must be a positive integer, found {version!r}")
    if version > SKETCH_JSON_VERSION:
        raise DataFileError(
            path, f"was written in sketch format version {version}; this SketchGen reads up to {SKETCH_JSON_VERSION}"
        )
    if "strokes" not in document:
        raise DataFileError(path, f"has no 'strokes' (keys: {', '.join(sorted(document)) or 'none'})")
    strokes = document["strokes"]
    if not isinstance(strokes, list) or not all(isinstance(row, list) for row in strokes):
        raise DataFileError(path, "'strokes' must be a list of [dx, dy, pen_lifted] rows")
    for index, row in enumerate(strokes):
        if len(row) != 3:
            raise DataFileError(path, f"'strokes' row {index} has {len(row)} values, expected 3 (dx, dy, pen_lifted)")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row):
            raise DataFileError(path, f"'strokes' row {index} holds something other than numbers: {row!r}")
    metadata = document.get("metadata", {})
    if not isinstance(metadata, dict):
        raise DataFileError(path, f"'metadata' must be a JSON object, found a {type(metadata).__name__}")
    try:
        return Sketch(np.asarray(strokes, dtype=np.float64).reshape(-1, 3), metadata)
    except SketchError as exc:  # NaN, infinite or too large values, bad pen values, no points
        problem = str(exc).removeprefix("sketch: ")
        raise DataFileError(path, f"'strokes': {problem}") from None
