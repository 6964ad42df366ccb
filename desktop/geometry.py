"""Coordinate mappings between the screen and model units, and partial sketches for replay (pure numpy, no Qt).

Model units are the pixels of the data set the model was trained on (sketch-rnn's stroke-3 offsets before
normalisation; a sheep in aaron_sheep is about 250 units wide, a QuickDraw drawing spans 0..255). The drawing canvas
uses one *fixed* scale, :data:`UNITS_PER_CANVAS_PX` model units per logical (device-independent) pixel, with the model
origin at the canvas centre. A fixed scale means a stroke drawn 200 logical pixels long is always 200 units to the
model, whatever the window size or screen DPI, so what the person draws matches the size of the training drawings and
the model's strokes come back at the size they were drawn. Thumbnails, replay and exports instead *fit* a sketch into
their box (:func:`sketchgen.geometry.fit_mapping`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sketchgen.geometry import Mapping

__all__ = ["UNITS_PER_CANVAS_PX", "canvas_mapping", "truncate_lines"]

UNITS_PER_CANVAS_PX = 1.0
"""Model units per logical canvas pixel (fixed: 1 logical px = 1 data-set pixel)."""

def canvas_mapping(width: float, height: float) -> Mapping:
    """The drawing canvas's fixed mapping: model origin at the widget centre, 1 / UNITS_PER_CANVAS_PX px per unit."""
    return Mapping(1.0 / UNITS_PER_CANVAS_PX, width / 2.0, height / 2.0)


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
