"""Painting sketches with QPainter: one code path for the screen, PNG (QImage) and SVG (QSvgGenerator).

Points are mapped to the target with numpy before painting, so the pen width stays in logical pixels whatever the
sketch's scale, and every stroke becomes exactly one QPainterPath (one ``<path>`` in SVG). Painting uses logical
coordinates with antialiasing, so it is sharp on high-DPI screens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen

from desktop.document import MODEL, Stroke
from sketchgen.geometry import Mapping, fit_mapping, lines_bounds

__all__ = [
    "USER_INK",
    "MODEL_INK",
    "ink_for",
    "InkLine",
    "inked",
    "stroke_path",
    "paint_lines",
    "paint_fitted",
    "paint_cells",
    "user_and_model",
    "InkGeometry",
    "render_ink",
]

USER_INK = QColor(0, 0, 0)
MODEL_INK = QColor(0xD9, 0x48, 0x0F)  # a warm orange, distinct from black for every kind of colour vision
DEFAULT_WIDTH = 2.0
FIT_MARGIN = 0.08  # the share of a box's smaller side left free around a fitted sketch


def ink_for(author: str) -> QColor:
    return QColor(MODEL_INK if author == MODEL else USER_INK)


@dataclass(frozen=True)
class InkLine:
    """A polyline in model units and the colour it is drawn in."""

    points: np.ndarray
    color: QColor


def inked(strokes: Sequence[Stroke], override: QColor | None = None) -> list[InkLine]:
    """Strokes -> InkLines coloured by author (or all in ``override``)."""
    return [InkLine(s.points, QColor(override) if override is not None else ink_for(s.author)) for s in strokes]


def stroke_path(screen_points: np.ndarray) -> QPainterPath:
    """One stroke as a path; a single point becomes a tiny segment so round caps paint a dot."""
    path = QPainterPath()
    pts = np.asarray(screen_points, dtype=np.float64).tolist()  # Python floats: 5x faster than numpy scalars
    x0, y0 = pts[0]
    path.moveTo(x0, y0)
    if len(pts) == 1:
        path.lineTo(x0 + 0.01, y0)
    for x, y in pts[1:]:
        path.lineTo(x, y)
    return path


def paint_lines(painter: QPainter, lines: Sequence[InkLine], mapping: Mapping, width: float = DEFAULT_WIDTH) -> None:
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    for line in lines:
        if len(line.points) == 0:
            continue
        pen = QPen(line.color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.drawPath(stroke_path(mapping.to_screen(line.points)))


def paint_fitted(
    painter: QPainter,
    rect: QRectF,
    lines: Sequence[InkLine],
    width: float = DEFAULT_WIDTH,
    fit_to: Sequence[np.ndarray] | None = None,
    margin: float = FIT_MARGIN,
) -> Mapping:
    """Paint ``lines`` scaled to fit ``rect``; ``fit_to`` (default: the lines) decides the box, so a replay can fit
    the whole sketch while painting only part of it. Returns the mapping used."""
    box = lines_bounds(fit_to if fit_to is not None else [line.points for line in lines])
    mapping = fit_mapping(box, (rect.x(), rect.y(), rect.width(), rect.height()), margin)
    paint_lines(painter, lines, mapping, width)
    return mapping


def paint_cells(
    painter: QPainter,
    cells: Sequence[Sequence[InkLine]],
    columns: int,
    cell: float,
    width: float = DEFAULT_WIDTH,
    fit_to: Sequence[Sequence[np.ndarray] | None] | None = None,
) -> None:
    """Paint sketches in a grid of ``cell`` x ``cell`` squares, row by row, each fitted to its square."""
    for i, lines in enumerate(cells):
        row, col = divmod(i, columns)
        rect = QRectF(col * cell, row * cell, cell, cell)
        paint_fitted(painter, rect, lines, width, fit_to[i] if fit_to is not None else None)


def user_and_model(prefix: Sequence[Stroke], continuation: Sequence[Stroke]) -> list[InkLine]:
    """A drawing (coloured by author) followed by the model's new strokes in the second colour."""
    return inked(prefix) + inked(continuation, MODEL_INK)


InkGeometry = tuple[int, int, float]
"""(width, height, device pixel ratio) of the box a sketch view fits its lines into."""


def render_ink(lines: Sequence[InkLine], geometry: InkGeometry, width: float = DEFAULT_WIDTH,
               fit_to: Sequence[np.ndarray] | None = None) -> QImage:
    """``lines`` fitted into a transparent image of ``geometry`` (no text, so any thread may call it: Qt paints
    QImages outside the GUI thread). The model's worker renders its sketches with this, and the GUI thread only
    copies the finished pixels: painting 25 long sketches would otherwise hold the GUI thread for tens of ms."""
    w, h, ratio = geometry
    image = QImage(max(1, round(w * ratio)), max(1, round(h * ratio)), QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(ratio)
    image.fill(QColor(0, 0, 0, 0))
    painter = QPainter(image)
    paint_fitted(painter, QRectF(0, 0, w, h), lines, width, fit_to)
    painter.end()
    return image
