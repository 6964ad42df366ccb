"""Open and save sketches in the formats SketchGen knows, chosen by file extension.

* ``.json``: one sketch (:mod:`sketchgen.datafiles` sketch JSON, keeps metadata).
* ``.ndjson``: QuickDraw lines; opening a file with several drawings lets the user pick one. Saving writes one line
  in QuickDraw's *simplified* form ``{"word": ..., "drawing": [[[x...], [y...]], ...]}`` with the absolute points
  in model units (integers where they are whole), which :func:`sketchgen.quickdraw.parse_ndjson_line` reads back
  exactly.
* ``.npz``: sketch-rnn data files; opening a data set lets the user pick a split and index. Saving writes a
  single-sketch file (the sketch in ``train``, empty ``valid`` and ``test``).

Every problem is a DataFileError naming the file; every write is atomic.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sketchgen.datafiles import SPLITS, Sketch, load_npz, load_sketch_json, save_npz, save_sketch_json
from sketchgen.errors import DataFileError, SketchError
from sketchgen.fileio import atomic_write
from sketchgen.quickdraw import load_ndjson
from sketchgen.strokes import stroke3_to_polylines, validate_stroke3

__all__ = [
    "OPEN_FILTER",
    "SAVE_FILTERS",
    "SKETCH_SUFFIXES",
    "SketchChoice",
    "OpenedFile",
    "read_sketch_file",
    "write_sketch_file",
    "ndjson_line",
]

SKETCH_SUFFIXES = (".json", ".ndjson", ".npz")
OPEN_FILTER = (
    "Sketches (*.json *.ndjson *.npz);;Sketch JSON (*.json);;QuickDraw ndjson (*.ndjson);;"
    "sketch-rnn data (*.npz);;All files (*)"
)
SAVE_FILTERS = {
    "Sketch JSON (*.json)": ".json",
    "QuickDraw ndjson line (*.ndjson)": ".ndjson",
    "stroke-3 npz, one sketch (*.npz)": ".npz",
}


@dataclass
class SketchChoice:
    """One sketch a file offers: where it is in the file (label) and its stroke-3 data."""

    label: str
    strokes: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class OpenedFile:
    """Everything a file offers; ``skipped`` lists ndjson lines that could not be read (line, problem)."""

    path: Path
    choices: list[SketchChoice]
    skipped: list[tuple[int, str]] = field(default_factory=list)


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SKETCH_SUFFIXES:
        known = ", ".join(SKETCH_SUFFIXES)
        raise DataFileError(path, f"unknown file type {suffix or '(no extension)'!r}; SketchGen reads {known}")
    return suffix


def read_sketch_file(path: str | os.PathLike[str]) -> OpenedFile:
    """The sketches in ``path``; DataFileError when it holds none or is malformed."""
    file = Path(path)
    suffix = _suffix(file)
    if file.is_dir():
        raise DataFileError(file, "is a folder, not a sketch file")
    if not file.exists():
        raise DataFileError(file, "no such file")
    if suffix == ".json":
        sketch = load_sketch_json(file)
        return OpenedFile(file, [SketchChoice(file.name, sketch.strokes, sketch.metadata)])
    if suffix == ".ndjson":
        sketches, skipped = load_ndjson(file)
        if not sketches:
            why = f"; line {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
            raise DataFileError(file, f"holds no readable drawing{why}")
        choices = [
            SketchChoice(f"line {s.metadata.get('line', i + 1)}: {s.metadata.get('word', 'drawing')}", s.strokes,
                         s.metadata)
            for i, s in enumerate(sketches)
        ]
        return OpenedFile(file, choices, skipped)
    splits = load_npz(file)
    choices = [
        SketchChoice(f"{split} {index}", sketch, {"source": file.name, "split": split, "index": index})
        for split in SPLITS
        for index, sketch in enumerate(splits[split])
    ]
    if not choices:
        raise DataFileError(file, "holds no sketches (train, valid and test are all empty)")
    return OpenedFile(file, choices)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 3)


def ndjson_line(s3: np.ndarray, metadata: dict[str, Any] | None = None) -> str:
    """One QuickDraw simplified-format line (absolute points) for a stroke-3 sketch."""
    lines = stroke3_to_polylines(s3)
    drawing = [[[_number(x) for x in line[:, 0]], [_number(y) for y in line[:, 1]]] for line in lines]
    record: dict[str, Any] = {"word": "sketch"}
    for key, value in (metadata or {}).items():
        if key not in ("drawing", "quickdraw_form", "line", "source", "split", "index", "authors", "autosave"):
            record[key] = value
    record["drawing"] = drawing
    return json.dumps(record, allow_nan=False, ensure_ascii=False)


def write_sketch_file(path: str | os.PathLike[str], s3: np.ndarray, metadata: dict[str, Any] | None = None) -> None:
    """Save one sketch in the format the extension names (atomic); DataFileError for any problem."""
    file = Path(path)
    suffix = _suffix(file)
    try:
        sketch = validate_stroke3(s3, name="drawing")
    except SketchError as exc:
        raise DataFileError(file, f"cannot save: {exc}") from None
    if suffix == ".json":
        save_sketch_json(file, Sketch(sketch, dict(metadata or {})))
    elif suffix == ".ndjson":
        try:
            text = ndjson_line(sketch, metadata)
        except (TypeError, ValueError) as exc:
            raise DataFileError(file, f"cannot save: metadata is not plain JSON ({exc})") from None
        try:
            with atomic_write(file, "w") as handle:
                handle.write(text + "\n")
        except OSError as exc:
            raise DataFileError(file, f"cannot write ({exc.strerror or exc})") from None
    else:
        save_npz(file, {"train": [sketch], "valid": [], "test": []})
