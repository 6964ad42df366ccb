"""Coordinate mappings between the screen and model units, and partial sketches for replay (pure numpy, no Qt).

Model units are the pixels of the data set the model was trained on (sketch-rnn's stroke-3 offsets before
normalisation; a sheep in aaron_sheep is about 250 units wide, a QuickDraw drawing spans 0..255). The drawing canvas
uses one *fixed* scale, :data:`UNITS_PER_CANVAS_PX` model units per logical (device-independent) pixel, with the model
origin at the canvas centre. A fixed scale means a stroke drawn 200 logical pixels long is always 200 units to the
model, whatever the window size or screen DPI, so what the person draws matches the size of the training drawings and
the model's strokes come back at the size they were drawn. Thumbnails, replay and exports instead *fit* a sketch into
their box (:func:`fit_mapping`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "UNITS_PER_CANVAS_PX",
    "Bounds",
    "Mapping",
    "canvas_mapping",
    "fit_mapping",
    "lines_bounds",
    "truncate_lines",
]

UNITS_PER_CANVAS_PX = 1.0
"""Model units per logical canvas pixel (fixed: 1 logical px = 1 data-set pixel)."""

Bounds = tuple[float, float, float, float]  # (min_x, max_x, min_y, max_y)


@dataclass(frozen=True)
class Mapping:
    """``screen = model * scale + (tx, ty)`` and its inverse."""

    scale: float
    tx: float
    ty: float

    def to_screen(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, dtype=np.float64) * self.scale + np.array([self.tx, self.ty])

    def to_model(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) - np.array([self.tx, self.ty])) / self.scale


def canvas_mapping(width: float, height: float) -> Mapping:
    """The drawing canvas's fixed mapping: model origin at the widget centre, 1 / UNITS_PER_CANVAS_PX px per unit."""
    return Mapping(1.0 / UNITS_PER_CANVAS_PX, width / 2.0, height / 2.0)


def lines_bounds(lines: Sequence[np.ndarray]) -> Bounds | None:
    """Bounding box of all points of ``lines``, or None when there are none."""
    arrays = [np.asarray(line, dtype=np.float64).reshape(-1, 2) for line in lines]
    arrays = [a for a in arrays if len(a)]
    if not arrays:
        return None
    pts = np.concatenate(arrays)
    return float(pts[:, 0].min()), float(pts[:, 0].max()), float(pts[:, 1].min()), float(pts[:, 1].max())


def fit_mapping(bounds: Bounds | None, rect: tuple[float, float, float, float], margin: float = 0.08) -> Mapping:
    """Scale and centre ``bounds`` into ``rect`` = (x, y, width, height), keeping the aspect ratio.

    ``margin`` is the fraction of the smaller side left free on each side. A sketch of zero size (a dot, a straight
    line) is not blown up: its zero extent counts as one unit.
    """
    x, y, width, height = rect
    inner = max(1e-9, min(width, height) * (1.0 - 2.0 * margin))
    if bounds is None:
        return Mapping(1.0, x + width / 2.0, y + height / 2.0)
    min_x, max_x, min_y, max_y = bounds
    extent = max(max_x - min_x, max_y - min_y, 1.0)
    scale = inner / extent
    cx, cy = (min_x + max_x) / 2.0, (min_y + max_y) / 2.0
    return Mapping(scale, x + width / 2.0 - cx * scale, y + height / 2.0 - cy * scale)


def truncate_lines(lines: Sequence[np.ndarray], points: int) -> list[np.ndarray]:
    """The first ``points`` points of a sketch's polylines, in drawing order (what a replay shows at that moment)."""
    out: list[np.ndarray] = []
    left = max(0, int(points))
    for line in lines:
        if left <= 0:
            break
        out.append(line[:left])
        left -= len(line)
    return out
