"""A sketch's bounding box and the mapping that fits it into a box: one rule for the core's pictures and the app.

Pure numpy. A sketch of zero size (a dot, a straight line) is not blown up when fitted: its zero extent counts as one
unit, so a dot stays a dot and a line keeps its length relative to the box.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Bounds", "Mapping", "lines_bounds", "fit_mapping"]

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


def lines_bounds(lines: Sequence[np.ndarray]) -> Bounds | None:
    """Bounding box of all points of the polylines ``lines`` ([N, 2] each), or None when there are none."""
    arrays = [np.asarray(line, dtype=np.float64).reshape(-1, 2) for line in lines]
    arrays = [a for a in arrays if len(a)]
    if not arrays:
        return None
    pts = np.concatenate(arrays)
    return float(pts[:, 0].min()), float(pts[:, 0].max()), float(pts[:, 1].min()), float(pts[:, 1].max())


def fit_mapping(bounds: Bounds | None, rect: tuple[float, float, float, float], margin: float = 0.08,
                inset: float = 0.0) -> Mapping:
    """Scale and centre ``bounds`` into ``rect`` = (x, y, width, height), keeping the aspect ratio.

    ``margin`` is the fraction of the smaller side left free on each side; ``inset`` is taken off the room besides (a
    stroke's width, so the ink stays inside). No bounds (an empty sketch): unit scale, origin at the centre.
    """
    x, y, width, height = rect
    inner = max(1e-9, min(width, height) * (1.0 - 2.0 * margin) - inset)
    if bounds is None:
        return Mapping(1.0, x + width / 2.0, y + height / 2.0)
    min_x, max_x, min_y, max_y = bounds
    scale = inner / max(max_x - min_x, max_y - min_y, 1.0)
    cx, cy = (min_x + max_x) / 2.0, (min_y + max_y) / 2.0
    return Mapping(scale, x + width / 2.0 - cx * scale, y + height / 2.0 - cy * scale)
