"""QuickDraw ndjson drawings -> stroke-3 sketches.

Google publishes each category as ndjson, one drawing per line, in two forms:

* "simplified": ``drawing`` is a list of strokes ``[[x0, x1, ...], [y0, y1, ...]]``, already aligned to the top-left
  corner, scaled to 0..255, resampled at 1-pixel spacing and RDP-simplified with epsilon 2.0.
* "raw": strokes are ``[[x...], [y...], [t...]]`` in screen pixels with timestamps (milliseconds).

Simplified drawings convert losslessly (the running sum of the offsets gives back every point); raw drawings first get
Google's own preprocessing, so both forms give the same kind of data as the official sketchrnn ``.npz`` files.
A malformed line never stops :func:`load_ndjson`: it is skipped and reported with its line number. That includes
hostile ones: values are checked where they enter (finite, coordinates within range), and a line nested too deep, a
number of thousands of digits or a line of more than 16 MiB is one more bad line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from collections.abc import Iterator
from typing import Any, BinaryIO

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
# Where values enter: simplified coordinates (0..255 in Google's files) must fit int16, so that every offset of the
# stroke-3 sketch is an exact float32 and the .npz stays int16; raw screen coordinates get a generous bound (no screen
# is 10 million pixels wide) that keeps all the arithmetic of the preprocessing finite. Timestamps are never used.
SIMPLIFIED_COORD_LIMIT = float(np.iinfo(np.int16).max)
RAW_COORD_LIMIT = 1e7
MAX_LINE_BYTES = 16 << 20  # one drawing; Google's longest raw lines are a few hundred KB


class _LineProblem(Exception):
    """Why one ndjson line cannot become a sketch (the text goes into the problem list)."""


def _numbers(values: Any, what: str, limit: float | None) -> np.ndarray:
    """``values`` as float64, checked: numbers only, finite, and (``limit``) within +-limit."""
    if not isinstance(values, list) or not values:
        raise _LineProblem(f"{what} must be a non-empty list of numbers")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise _LineProblem(f"{what} holds something other than numbers")
    try:
        array = np.asarray(values, dtype=np.float64)
    except OverflowError:  # an integer beyond float64 (10**400)
        raise _LineProblem(f"{what} holds a number too large for a coordinate") from None
    if not np.isfinite(array).all():
        raise _LineProblem(f"{what} holds NaN or infinite values")
    if limit is not None:
        worst = float(np.abs(array).max())
        if worst > limit:
            raise _LineProblem(f"{what} holds {worst:g}, outside the range of a coordinate (+-{limit:g})")
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
        limit = SIMPLIFIED_COORD_LIMIT if form == "simplified" else RAW_COORD_LIMIT
        columns = [_numbers(values, f"stroke {index} {axis}", None if axis == "t" else limit)
                   for values, axis in zip(stroke, "xyt")]
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
    except RecursionError:
        raise _LineProblem("is nested too deep to be a drawing") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts (int_max_str_digits)
        why = "a number with thousands of digits" if "digits" in str(exc) else str(exc).splitlines()[0][:80]
        raise _LineProblem(f"is not valid JSON ({why})") from None
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
    try:
        return Sketch(strokes, metadata)
    except SketchError as exc:
        raise _LineProblem(str(exc).removeprefix("sketch: ")) from None


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


def _bounded_lines(handle: BinaryIO) -> Iterator[bytes | None]:
    """The file's lines; ``None`` for one longer than MAX_LINE_BYTES (read past in chunks, never held whole)."""
    while True:
        line = handle.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while True:
                rest = handle.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
            continue
        yield line


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
            for line_no, line in enumerate(_bounded_lines(handle), start=1):
                if line is None:
                    problems.append((line_no, f"is longer than {MAX_LINE_BYTES >> 20} MiB, too long for a drawing"))
                    continue
                if not line.strip():
                    continue
                try:
                    sketch = _parse(line)
                except _LineProblem as exc:
                    problems.append((line_no, str(exc)))
                    continue
                except (ArithmeticError, ValueError, MemoryError, RecursionError) as exc:  # never stop the file
                    problems.append((line_no, f"cannot be converted ({type(exc).__name__}: {exc})"))
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
