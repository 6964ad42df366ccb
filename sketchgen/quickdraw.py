"""QuickDraw ndjson drawings -> stroke-3 sketches.

Google publishes each category as ndjson, one drawing per line, in two forms:

* "simplified": ``drawing`` is a list of strokes ``[[x0, x1, ...], [y0, y1, ...]]``, already aligned to the top-left
  corner, scaled to 0..255, resampled at 1-pixel spacing and RDP-simplified with epsilon 2.0.
* "raw": strokes are ``[[x...], [y...], [t...]]`` in screen pixels with timestamps (milliseconds).

Simplified drawings convert losslessly (the running sum of the offsets gives back every point); raw drawings first get
Google's own preprocessing, so both forms give the same kind of data as the official sketchrnn ``.npz`` files.
A malformed line never stops :func:`load_ndjson`: it is skipped and reported with its line number.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from sketchgen.datafiles import Sketch
from sketchgen.errors import DataFileError, SketchError
from sketchgen.strokes import polylines_to_stroke3, rdp

__all__ = [
    "RAW_TARGET_SIZE",
    "RAW_RESAMPLE_SPACING",
    "RAW_RDP_EPSILON",
    "simplify_raw_drawing",
    "drawing_to_stroke3",
    "parse_ndjson_line",
    "load_ndjson",
]

RAW_TARGET_SIZE = 255.0  # Google scales raw drawings so the larger side spans 0..255
RAW_RESAMPLE_SPACING = 1.0  # ... resamples every stroke at 1-pixel spacing
RAW_RDP_EPSILON = 2.0  # ... and simplifies it with Ramer-Douglas-Peucker, epsilon 2.0


class _LineProblem(Exception):
    """Why one ndjson line cannot become a sketch (the text goes into the problem list)."""


def _numbers(values: Any, what: str) -> np.ndarray:
    if not isinstance(values, list) or not values:
        raise _LineProblem(f"{what} must be a non-empty list of numbers")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise _LineProblem(f"{what} holds something other than numbers")
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise _LineProblem(f"{what} holds NaN or infinite values")
    return array


def _strokes_of(drawing: Any) -> tuple[list[np.ndarray], str]:
    """The strokes of a ``drawing`` field as ``[k, 2]`` float64 arrays, and the form: "simplified" or "raw"."""
    if not isinstance(drawing, list) or not drawing:
        raise _LineProblem("'drawing' must be a non-empty list of strokes")
    widths = {len(stroke) if isinstance(stroke, list) else -1 for stroke in drawing}
    if widths == {2}:
        form = "simplified"
    elif widths == {3}:
        form = "raw"
    else:
        raise _LineProblem(
            "each stroke must be [x list, y list] (simplified) or [x list, y list, t list] (raw), "
            "all strokes of a drawing in the same form"
        )
    strokes = []
    for index, stroke in enumerate(drawing):
        columns = [_numbers(values, f"stroke {index} {axis}") for values, axis in zip(stroke, "xyt")]
        if len({len(c) for c in columns}) != 1:
            lengths = "/".join(str(len(c)) for c in columns)
            raise _LineProblem(f"stroke {index} has lists of different lengths ({lengths})")
        strokes.append(np.stack(columns[:2], axis=1))
    return strokes, form


def _resample(points: np.ndarray, spacing: float) -> np.ndarray:
    """Points every ``spacing`` pixels along the polyline (its last point always kept)."""
    if len(points) > 1:
        moved = np.concatenate(([True], np.any(np.diff(points, axis=0) != 0, axis=1)))
        points = points[moved]  # np.interp needs strictly increasing arc lengths
    if len(points) < 2:
        return points
    arc = np.concatenate(([0.0], np.cumsum(np.hypot(*np.diff(points, axis=0).T))))
    at = np.arange(0.0, arc[-1], spacing)
    if at[-1] < arc[-1]:
        at = np.append(at, arc[-1])
    return np.stack([np.interp(at, arc, points[:, 0]), np.interp(at, arc, points[:, 1])], axis=1)


def simplify_raw_drawing(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """Google's preprocessing of raw drawings into the "simplified" form (integer points in 0..255).

    Align to the top-left (minimum x and y become 0), scale uniformly so the larger extent is 255, resample every
    stroke at 1-pixel spacing, simplify it with RDP epsilon 2.0 and round to whole pixels.
    """
    every = np.concatenate(strokes)
    low = every.min(axis=0)
    extent = float((every.max(axis=0) - low).max())
    scale = RAW_TARGET_SIZE / extent if extent > 0 else 1.0
    out = []
    for stroke in strokes:
        placed = (stroke - low) * scale
        simplified = rdp(_resample(placed, RAW_RESAMPLE_SPACING), RAW_RDP_EPSILON)
        out.append(np.clip(np.round(simplified), 0.0, RAW_TARGET_SIZE))
    return out


def drawing_to_stroke3(drawing: Any) -> tuple[np.ndarray, str]:
    """A QuickDraw ``drawing`` field -> (float32 stroke-3, form); raises SketchError for a malformed drawing.

    Simplified drawings are converted exactly: the first row is the first point measured from (0, 0), each later row
    the offset from the previous point, pen_lifted = 1 on the last point of every stroke.
    """
    try:
        strokes, form = _strokes_of(drawing)
    except _LineProblem as exc:
        raise SketchError(str(exc)) from None
    if form == "raw":
        strokes = simplify_raw_drawing(strokes)
    return polylines_to_stroke3(strokes), form


def _parse(line: str | bytes) -> Sketch:
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            raise _LineProblem("is not UTF-8 text") from None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _LineProblem(f"is not valid JSON (column {exc.colno}: {exc.msg})") from None
    if not isinstance(record, dict):
        raise _LineProblem(f"is a JSON {type(record).__name__}, expected an object with a 'drawing'")
    if "drawing" not in record:
        raise _LineProblem(f"has no 'drawing' (keys: {', '.join(sorted(record)) or 'none'})")
    try:
        strokes, form = drawing_to_stroke3(record["drawing"])
    except SketchError as exc:
        raise _LineProblem(str(exc)) from None
    metadata = {key: value for key, value in record.items() if key != "drawing"}
    metadata["quickdraw_form"] = form
    return Sketch(strokes, metadata)


def parse_ndjson_line(line: str | bytes, line_no: int | None = None) -> Sketch:
    """One QuickDraw ndjson line (simplified or raw) -> Sketch with the line's other fields as metadata.

    Keeps ``word``, ``countrycode``, ``recognized``, ``key_id``, ``timestamp`` ... as they are and adds
    ``quickdraw_form`` ("simplified" or "raw"). Raises SketchError ("line N: problem") for a malformed line.
    """
    try:
        return _parse(line)
    except _LineProblem as exc:
        where = f"line {line_no}" if line_no is not None else "ndjson line"
        raise SketchError(f"{where}: {exc}") from None


def load_ndjson(path: str | os.PathLike[str]) -> tuple[list[Sketch], list[tuple[int, str]]]:
    """Every drawing of a QuickDraw ndjson file, and ``(line number, problem)`` for each line that was skipped.

    Blank lines are ignored. Each sketch's metadata also gets ``source`` (the file name) and ``line``.
    Only a file that cannot be opened raises (DataFileError); one bad line never stops the rest.
    """
    sketches: list[Sketch] = []
    problems: list[tuple[int, str]] = []
    name = Path(path).name
    try:
        with open(path, "rb") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    sketch = _parse(line)
                except _LineProblem as exc:
                    problems.append((line_no, str(exc)))
                    continue
                sketch.metadata["source"] = name
                sketch.metadata["line"] = line_no
                sketches.append(sketch)
    except FileNotFoundError:
        raise DataFileError(path, "no such file") from None
    except IsADirectoryError:
        raise DataFileError(path, "is a folder, not an ndjson file") from None
    except OSError as exc:
        raise DataFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    return sketches, problems
