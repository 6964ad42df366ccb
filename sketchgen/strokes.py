"""Stroke formats (stroke-3, stroke-5, polylines) and sketch-rnn's preprocessing and augmentations.

stroke-3: float32 ``[N, 3]`` rows ``(dx, dy, pen_lifted)``; pen_lifted = 1 on the last point of each stroke and the
first row is measured from the origin. stroke-5: float32 ``[N, 5]`` rows ``(dx, dy, p1, p2, p3)`` with p1 = pen down,
p2 = pen up, p3 = end of sketch (padding rows are ``(0, 0, 0, 0, 1)``).

The conversions and augmentations follow magenta's ``sketch_rnn/utils.py`` (``to_big_strokes``,
``to_normal_strokes``, ``augment_strokes``, ``DataLoader.random_scale``, ``calculate_normalizing_scale_factor``) so
models trained here see the same data as the original. Every function is pure numpy and never mutates its input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .errors import ConfigError, SketchError
from .geometry import Bounds, lines_bounds

__all__ = [
    "validate_stroke3",
    "stroke3_to_stroke5",
    "stroke5_to_stroke3",
    "stroke3_to_polylines",
    "polylines_to_stroke3",
    "bounds",
    "center",
    "scale_factor",
    "normalize",
    "denormalize",
    "clamp",
    "rdp",
    "simplify",
    "simplify_many",
    "augment_random_scale",
    "augment_drop_points",
    "filter_by_length",
]

_NUMERIC_KINDS = "biuf"


def _as_numeric_2d(
    data: object, name: str, columns: int, what: str, dtype: type[np.floating] = np.float32
) -> np.ndarray:
    """Turn ``data`` into a finite ``[N, columns]`` float copy or raise SketchError saying what is wrong."""
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise SketchError(f"{name}: not a rectangular [N, {columns}] {what} array ({exc})") from None
    if arr.dtype.kind == "O":
        if not all(isinstance(v, (int, float, np.integer, np.floating)) for v in arr.flat):
            raise SketchError(f"{name}: values must be numbers, got non-numeric objects")
        arr = arr.astype(np.float64)
    elif arr.dtype.kind not in _NUMERIC_KINDS:
        raise SketchError(f"{name}: values must be numbers, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] != columns:
        raise SketchError(f"{name}: expected a 2-D [N, {columns}] {what} array, got shape {tuple(arr.shape)}")
    if arr.dtype.kind == "f" and arr.size:
        bad = ~np.isfinite(arr)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            kind = "NaN" if np.isnan(arr[bad]).any() else "infinite"
            raise SketchError(f"{name}: contains {kind} values (first at row {row})")
    with np.errstate(over="ignore"):  # reported just below, with the sketch's name
        out = arr.astype(dtype)  # always a copy
    if out.size and not np.isfinite(out).all():
        raise SketchError(f"{name}: values too large for {np.dtype(dtype).name}")
    return out


def validate_stroke3(s: object, name: str = "sketch", allow_empty: bool = False) -> np.ndarray:
    """Return a float32 copy of a stroke-3 sketch, or raise SketchError naming ``name`` and the problem.

    Checks: numeric dtype, shape ``[N, 3]``, N > 0 (unless ``allow_empty``), no NaN/inf, pen values 0 or 1.
    The last row may have pen 0 (an unfinished stroke, e.g. a prefix drawn by the user).
    """
    arr = _as_numeric_2d(s, name, 3, "stroke-3")
    if arr.shape[0] == 0 and not allow_empty:
        raise SketchError(f"{name}: is empty (no points)")
    pen = arr[:, 2]
    bad = (pen != 0) & (pen != 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise SketchError(f"{name}: pen values must be 0 or 1, found {pen[row]:g} at row {row}")
    return arr


def stroke3_to_stroke5(s3: object, max_len: int | None = None) -> np.ndarray:
    """stroke-3 -> stroke-5, padded with ``(0, 0, 0, 0, 1)`` rows to ``max_len`` (magenta's ``to_big_strokes``).

    No start token is added. A sketch longer than ``max_len`` raises SketchError instead of being cut.
    """
    s = validate_stroke3(s3)
    n = len(s)
    length = n if max_len is None else int(max_len)
    if n > length:
        raise SketchError(f"sketch: has {n} points, more than max_len={length}")
    out = np.zeros((length, 5), dtype=np.float32)
    out[:n, 0:2] = s[:, 0:2]
    out[:n, 3] = s[:, 2]
    out[:n, 2] = 1.0 - s[:, 2]
    out[n:, 4] = 1.0
    return out


def stroke5_to_stroke3(s5: object) -> np.ndarray:
    """stroke-5 -> stroke-3, stopping at the first end-of-sketch row (magenta's ``to_normal_strokes``).

    The pen state of each row is its largest of p1/p2, so soft (probability) rows work too. The last point of the
    result always has pen_lifted = 1, so it is a complete sketch. A sketch that ends on its first row gives an empty
    ``[0, 3]`` array (the model drew nothing).
    """
    s = _as_numeric_2d(s5, "stroke-5 sketch", 5, "stroke-5")
    ends = np.flatnonzero(s[:, 4] > np.maximum(s[:, 2], s[:, 3]))
    n = int(ends[0]) if len(ends) else len(s)
    out = np.zeros((n, 3), dtype=np.float32)
    out[:, 0:2] = s[:n, 0:2]
    out[:, 2] = (s[:n, 3] > s[:n, 2]).astype(np.float32)
    if n:
        out[-1, 2] = 1.0
    return out


def _absolute_points(s: np.ndarray, origin: Sequence[float] = (0.0, 0.0)) -> np.ndarray:
    """Absolute float64 positions of every row of a validated stroke-3 array."""
    return np.cumsum(s[:, 0:2], axis=0, dtype=np.float64) + np.asarray(origin, dtype=np.float64)


def stroke3_to_polylines(s3: object, origin: Sequence[float] = (0, 0)) -> list[np.ndarray]:
    """stroke-3 -> absolute float64 ``[k, 2]`` polylines, one per stroke (magenta's ``strokes_to_lines``)."""
    s = validate_stroke3(s3)
    pts = _absolute_points(s, origin)
    ends = np.flatnonzero(s[:-1, 2] == 1) + 1
    return np.split(pts, ends)


def polylines_to_stroke3(lines: Iterable[object], origin: Sequence[float] = (0, 0)) -> np.ndarray:
    """Absolute polylines -> stroke-3 (magenta's ``lines_to_strokes``); the first offset is from ``origin``."""
    arrays = []
    for i, line in enumerate(lines):
        arr = line if isinstance(line, np.ndarray) and line.dtype.kind == "f" else None
        if arr is None or arr.ndim != 2 or arr.shape[1] != 2 or not np.isfinite(arr).all():
            arr = _as_numeric_2d(line, f"polyline {i}", 2, "point", np.float64)  # slow path: names the problem
        if len(arr) == 0:
            raise SketchError(f"polyline {i}: has no points")
        arrays.append(arr)
    if not arrays:
        raise SketchError("polylines: no strokes")
    pts = np.concatenate(arrays)
    out = np.zeros((len(pts), 3), dtype=np.float32)
    out[:, 0:2] = np.diff(pts, axis=0, prepend=np.asarray(origin, dtype=np.float64)[None, :])
    out[np.cumsum([len(a) for a in arrays]) - 1, 2] = 1.0
    return out


def bounds(s3: object) -> Bounds:
    """``(min_x, max_x, min_y, max_y)`` of the absolute points (the origin itself is not a point)."""
    return lines_bounds([_absolute_points(validate_stroke3(s3))])


def center(s3: object) -> np.ndarray:
    """Shift the first point so the bounding box centre lands on (0, 0); the shape is unchanged."""
    s = validate_stroke3(s3)
    min_x, max_x, min_y, max_y = bounds(s)
    s[0, 0] -= np.float32((min_x + max_x) / 2.0)
    s[0, 1] -= np.float32((min_y + max_y) / 2.0)
    return s


def _check_positive(value: float, what: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"{what} must be a positive finite number, got {value!r}")
    return value


def scale_factor(sketches: Sequence[object]) -> float:
    """Standard deviation of every dx and dy of ``sketches`` (sketch-rnn's normalising scale factor).

    Computed in float64 over all offsets pooled together, exactly as ``calculate_normalizing_scale_factor``.
    """
    if len(sketches) == 0:
        raise SketchError("scale_factor: no sketches")
    try:  # one validation of all rows together: fast for 70k sketches
        rows = validate_stroke3(np.concatenate([np.asarray(s) for s in sketches]), name="sketches")
    except (SketchError, ValueError, TypeError):
        for i, s in enumerate(sketches):  # slow path, only to name the offending sketch
            validate_stroke3(s, name=f"sketch {i}")
        raise
    factor = float(np.std(rows[:, 0:2].astype(np.float64)))
    if factor == 0.0:
        raise SketchError("scale_factor: every dx and dy is zero, the sketches cannot be normalised")
    return factor


def normalize(s3: object, factor: float) -> np.ndarray:
    """Divide dx, dy by ``factor`` (from :func:`scale_factor`); pen values are untouched."""
    s = validate_stroke3(s3)
    s[:, 0:2] /= np.float32(_check_positive(factor, "scale factor"))
    return s


def denormalize(s3: object, factor: float) -> np.ndarray:
    """Multiply dx, dy by ``factor``: the inverse of :func:`normalize`."""
    s = validate_stroke3(s3)
    s[:, 0:2] *= np.float32(_check_positive(factor, "scale factor"))
    return s


def clamp(s3: object, limit: float) -> np.ndarray:
    """Clip |dx| and |dy| to ``limit`` (sketch-rnn removes large gaps this way, default limit 1000)."""
    s = validate_stroke3(s3)
    lim = np.float32(_check_positive(limit, "clamp limit"))
    np.clip(s[:, 0:2], -lim, lim, out=s[:, 0:2])
    return s


def _rdp_keep(points: np.ndarray, starts: np.ndarray, ends: np.ndarray, epsilon: float) -> np.ndarray:
    """Boolean mask of the points Ramer-Douglas-Peucker keeps, for several polylines at once.

    ``points`` is float64 ``[n, 2]``; polyline j spans rows ``starts[j]..ends[j]`` (inclusive). All open segments of
    one recursion depth are processed together, so the cost is a few numpy calls per depth, not per point.
    A point is kept when its distance to the segment between the kept neighbours exceeds ``epsilon``
    (compared squared, which is exact for the comparison and avoids a square root).
    """
    keep = np.zeros(len(points), dtype=bool)
    keep[starts] = True
    keep[ends] = True
    x, y = points[:, 0], points[:, 1]
    eps2 = epsilon * epsilon
    s, e = starts.astype(np.int64), ends.astype(np.int64)
    while True:
        open_ = e - s > 1
        s, e = s[open_], e[open_]
        if len(s) == 0:
            return keep
        counts = e - s - 1  # interior points of each open segment
        first = np.cumsum(counts) - counts  # where each segment's interior starts in the flat arrays
        total = int(first[-1] + counts[-1])
        flat = np.arange(total)
        idx = flat + np.repeat(s + 1 - first, counts)
        abx, aby = np.repeat(x[e] - x[s], counts), np.repeat(y[e] - y[s], counts)
        px, py = x[idx] - np.repeat(x[s], counts), y[idx] - np.repeat(y[s], counts)
        # squared distance to the segment, written so integer coordinates give exact ties (cross**2 / |ab|**2)
        length2 = abx * abx + aby * aby
        dot = px * abx + py * aby
        cross = px * aby - py * abx
        dist2 = np.divide(cross * cross, length2, out=px * px + py * py, where=(dot > 0) & (dot < length2))
        beyond_end = (dot >= length2) & (length2 > 0)
        dist2[beyond_end] = (px[beyond_end] - abx[beyond_end]) ** 2 + (py[beyond_end] - aby[beyond_end]) ** 2
        seg_max = np.maximum.reduceat(dist2, first)
        # first farthest point of each segment (ties go to the earliest, like the recursive algorithm)
        farthest = np.minimum.reduceat(np.where(dist2 == np.repeat(seg_max, counts), flat, total), first)
        split = seg_max > eps2
        mid = idx[farthest[split]]
        keep[mid] = True
        s = np.concatenate((s[split], mid))
        e = np.concatenate((mid, e[split]))


def rdp(points: object, epsilon: float) -> np.ndarray:
    """Ramer-Douglas-Peucker simplification of one ``[k, 2]`` polyline (distance to the segment, float64).

    ``epsilon == 0`` keeps every point (even exactly collinear or repeated ones).
    """
    pts = _as_numeric_2d(points, "polyline", 2, "point", np.float64)
    eps = _check_epsilon(epsilon)
    if eps == 0 or len(pts) < 3:
        return pts
    return pts[_rdp_keep(pts, np.array([0]), np.array([len(pts) - 1]), eps)]


def _check_epsilon(epsilon: float) -> float:
    eps = float(epsilon)
    if not np.isfinite(eps) or eps < 0:
        raise ConfigError(f"simplify epsilon must be a finite number >= 0, got {epsilon!r}")
    return eps


def simplify(s3: object, epsilon: float) -> np.ndarray:
    """RDP on every stroke of a stroke-3 sketch; stroke ends are always kept, so the pen structure is unchanged.

    ``epsilon == 0`` returns the sketch unchanged. For many sketches, :func:`simplify_many` is much faster.
    """
    return simplify_many([validate_stroke3(s3)], epsilon)[0]


def simplify_many(sketches: Sequence[object], epsilon: float) -> list[np.ndarray]:
    """:func:`simplify` for a list of sketches at once: one vectorised RDP over all their strokes (10k in ~1 s)."""
    eps = _check_epsilon(epsilon)
    valid = [validate_stroke3(s, name=f"sketch {i}") for i, s in enumerate(sketches)]
    if eps == 0 or not valid:
        return valid
    sizes = np.array([len(s) for s in valid])
    pts = np.concatenate([_absolute_points(s) for s in valid])
    pen = np.concatenate([s[:, 2] for s in valid])
    stroke_end = pen == 1
    stroke_end[np.cumsum(sizes) - 1] = True  # a stroke never spans two sketches
    ends = np.flatnonzero(stroke_end)
    starts = np.concatenate(([0], ends[:-1] + 1))
    keep = _rdp_keep(pts, starts, ends, eps)
    sketch_of_row = np.repeat(np.arange(len(valid)), sizes)
    kept = pts[keep]
    offsets = np.diff(kept, axis=0, prepend=np.zeros((1, 2)))
    kept_sketch = sketch_of_row[keep]
    first_of_sketch = np.concatenate(([True], kept_sketch[1:] != kept_sketch[:-1]))
    offsets[first_of_sketch] = kept[first_of_sketch]  # each sketch's first point is measured from the origin
    out = np.empty((len(kept), 3), dtype=np.float32)
    out[:, 0:2] = offsets
    out[:, 2] = pen[keep]
    return np.split(out, np.cumsum(np.bincount(kept_sketch, minlength=len(valid)))[:-1])


def _generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def augment_random_scale(
    s3: object, rng: np.random.Generator | int | None, amount: float = 0.15
) -> np.ndarray:
    """Stretch x and y independently by factors in [1 - amount, 1 + amount] (sketch-rnn's ``random_scale``)."""
    s = validate_stroke3(s3)
    amount = float(amount)
    if not np.isfinite(amount) or not 0 <= amount < 1:
        raise ConfigError(f"random scale amount must be in [0, 1), got {amount!r}")
    g = _generator(rng)
    x_factor = (g.random() - 0.5) * 2 * amount + 1.0
    y_factor = (g.random() - 0.5) * 2 * amount + 1.0
    s[:, 0] *= np.float32(x_factor)
    s[:, 1] *= np.float32(y_factor)
    return s


def augment_drop_points(s3: object, rng: np.random.Generator | int | None, prob: float = 0.10) -> np.ndarray:
    """Randomly drop pen-down points inside strokes (sketch-rnn's ``augment_strokes``).

    As in the original: the first three points of a stroke and every stroke end are never dropped, and each
    dropped point's offset is added to the previous kept point, so the total displacement (and every stroke end's
    absolute position) is unchanged. One uniform number is drawn per row, like the original.
    """
    s = validate_stroke3(s3)
    prob = float(prob)
    if not np.isfinite(prob) or not 0 <= prob <= 1:
        raise ConfigError(f"drop probability must be in [0, 1], got {prob!r}")
    g = _generator(rng)
    u = g.random(len(s))
    if prob == 0:
        return s
    pen = s[:, 2]
    row = np.arange(len(s))
    # index of the first row of the stroke each row belongs to -> position within the stroke
    stroke_start = np.maximum.accumulate(np.where(np.concatenate(([True], pen[:-1] == 1)), row, 0))
    droppable = (row - stroke_start >= 3) & (pen == 0)
    keep = ~(droppable & (u < prob))
    group = np.cumsum(keep) - 1  # row 0 is never droppable, so every row has a kept row at or before it
    n_kept = int(keep.sum())
    out = np.zeros((n_kept, 3), dtype=np.float32)
    out[:, 0] = np.bincount(group, weights=s[:, 0], minlength=n_kept)
    out[:, 1] = np.bincount(group, weights=s[:, 1], minlength=n_kept)
    out[:, 2] = pen[keep]
    return out


def filter_by_length(
    sketches: Iterable[np.ndarray], min_len: int = 1, max_len: int | None = None
) -> tuple[list[np.ndarray], int]:
    """Keep sketches with ``min_len <= len <= max_len``; return ``(kept, number dropped)`` so callers can report it."""
    kept: list[np.ndarray] = []
    dropped = 0
    for s in sketches:
        n = len(s)
        if n >= min_len and (max_len is None or n <= max_len):
            kept.append(s)
        else:
            dropped += 1
    return kept, dropped
