"""Read-only sketch widgets: views that fit a sketch into their box, and clickable, draggable thumbnails.

Thumbnails can be dragged: the drag carries the sketch as stroke-3 JSON (``SKETCH_MIME``) so the morph slots, the
window and other apps can take it. The drawing canvas is :mod:`desktop.canvas`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDrag,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop.document import Stroke
from desktop.painting import FIT_MARGIN, InkGeometry, InkLine, inked, paint_lines, render_ink
from sketchgen.errors import SketchError
from sketchgen.geometry import fit_mapping, lines_bounds
from sketchgen.strokes import validate_stroke3

__all__ = [
    "SKETCH_MIME",
    "PAPER",
    "sketch_mime_data",
    "sketch_from_mime",
    "SketchView",
    "SketchThumbnail",
]

SKETCH_MIME = "application/x-sketchgen-stroke3"

PAPER = QColor(255, 255, 255)
FRAME = QColor(200, 200, 200)


def sketch_mime_data(s3: np.ndarray) -> QMimeData:
    """Drag payload: the sketch as stroke-3 JSON (and as plain text for other apps)."""
    text = json.dumps({"strokes": np.asarray(s3, dtype=np.float64).round(3).tolist()})
    mime = QMimeData()
    mime.setData(SKETCH_MIME, text.encode("utf-8"))
    mime.setText(text)
    return mime


def sketch_from_mime(mime: QMimeData) -> np.ndarray | None:
    """The stroke-3 sketch a drag carries, or None when it carries none (or a malformed one)."""
    if not mime.hasFormat(SKETCH_MIME):
        return None
    try:
        data = json.loads(bytes(mime.data(SKETCH_MIME)).decode("utf-8"))
        return validate_stroke3(data["strokes"], name="dropped sketch")
    except (ValueError, KeyError, TypeError, SketchError):
        return None


def _grows(old: list[InkLine], old_fit: list[np.ndarray] | None, new: list[InkLine],
           new_fit: list[np.ndarray] | None) -> bool:
    """True when ``new`` is ``old`` with points added at the end (same colours, same fixed box)."""
    if old_fit is None or new_fit is None or len(old_fit) != len(new_fit) or not old or len(new) < len(old):
        return False
    if any(a is not b for a, b in zip(old_fit, new_fit)):
        return False
    for before, after in zip(old, new):
        k = len(before.points)
        if len(after.points) < k or before.color != after.color or not np.array_equal(after.points[:k], before.points):
            return False
    return all(len(a.points) == len(b.points) for a, b in zip(old[:-1], new[: len(old) - 1]))


class SketchView(QWidget):
    """Shows ink lines fitted into the widget on white paper, with an optional caption and placeholder text.

    The lines are rendered once into an image (:func:`desktop.painting.render_ink`) that every repaint (hover, focus,
    fading) just copies; a worker thread can hand in that image ready-made (:meth:`show_rendered`).
    """

    def __init__(self, parent: QWidget | None = None, caption: str = "", placeholder: str = "") -> None:
        super().__init__(parent)
        self._lines: list[InkLine] = []
        self._fit_to: list[np.ndarray] | None = None
        self.caption = caption
        self.placeholder = placeholder
        self.line_width = 2.0
        self.dimmed = False  # painted faint: what it shows is out of date (new results are on the way)
        self._ink: QImage | None = None
        self._ink_geometry: InkGeometry | None = None
        self.drag_sketch: np.ndarray | None = None  # the stroke-3 sketch shown (a thumbnail's drag carries it)
        self.gui_renders = 0  # times this view rendered its ink itself, on the GUI thread (tests count them)
        self.setMinimumSize(48, 48)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)

    def set_lines(self, lines: Sequence[InkLine], fit_to: Sequence[np.ndarray] | None = None) -> None:
        """Show ``lines``; ``fit_to`` fixes the box (e.g. the whole sketch while a replay shows part of it).

        When the new lines only add points to the old ones in the same box (a replay moving on), just the new
        segments are painted onto the picture already rendered, so a replay frame costs what it adds."""
        lines = list(lines)
        fit = list(fit_to) if fit_to is not None else None
        if (self._ink is not None and self._ink_geometry == self.ink_geometry()
                and _grows(self._lines, self._fit_to, lines, fit)):
            self._paint_growth(self._lines, lines)
        else:
            self._ink = None
        self._lines, self._fit_to = lines, fit
        self.update()

    def _paint_growth(self, old: list[InkLine], new: list[InkLine]) -> None:
        assert self._ink is not None and self._ink_geometry is not None
        w, h, _ = self._ink_geometry
        box = lines_bounds(self._fit_to or [])
        mapping = fit_mapping(box, (0.0, 0.0, float(w), float(h)), FIT_MARGIN)
        added = []
        for i in range(max(0, len(old) - 1), len(new)):
            start = len(old[i].points) - 1 if i < len(old) else 0
            if len(new[i].points) - start >= (2 if i < len(old) else 1):
                added.append(InkLine(new[i].points[start:], new[i].color))
        if added:
            painter = QPainter(self._ink)
            paint_lines(painter, added, mapping, self.line_width)
            painter.end()

    def show_rendered(self, lines: Sequence[InkLine], image: QImage | None, geometry: InkGeometry,
                      sketch: np.ndarray | None = None) -> None:
        """Show ``lines`` with ``image``, their picture already rendered at ``geometry`` (off the GUI thread, by
        :mod:`desktop.render_jobs`); the view renders them itself only if it was resized meanwhile."""
        self._lines, self._fit_to = list(lines), None
        fits = image is not None and geometry == self.ink_geometry()
        self._ink, self._ink_geometry = (image, geometry) if fits else (None, None)
        self.drag_sketch = sketch
        self.update()

    def set_strokes(self, strokes: Sequence[Stroke]) -> None:
        self.set_lines(inked(strokes))

    def lines(self) -> list[InkLine]:
        return list(self._lines)

    def has_sketch(self) -> bool:
        return bool(self._lines)

    def set_placeholder(self, text: str) -> None:
        if text != self.placeholder:
            self.placeholder = text
            self.update()

    def set_dimmed(self, dimmed: bool) -> None:
        if dimmed != self.dimmed:
            self.dimmed = dimmed
            self.update()

    def _paper_rect(self) -> QRectF:
        return QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)

    def _caption_height(self) -> float:
        return self.fontMetrics().height() + 4.0 if self.caption else 0.0

    def _ink_rect(self) -> QRectF:
        """Whole pixels, so the rendered ink is copied 1:1 (never resampled)."""
        top = 3 + round(self._caption_height())
        return QRectF(3, top, max(1, self.width() - 6), max(1, self.height() - 3 - top))

    def ink_geometry(self) -> InkGeometry:
        """Where the lines go now (size in logical pixels, device pixel ratio): what a worker renders them for."""
        area = self._ink_rect()
        return max(1, int(area.width())), max(1, int(area.height())), self.devicePixelRatioF()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Window))
        paper = self._paper_rect()
        painter.fillRect(paper, PAPER)
        if self.caption:
            painter.setPen(QColor(90, 90, 90))
            painter.drawText(paper.adjusted(6, 2, -6, 0), Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft,
                             self.caption)
        area = self._ink_rect()
        if self._lines or self._fit_to:
            geometry = self.ink_geometry()
            if self._ink is None or self._ink_geometry != geometry:
                self._ink = render_ink(self._lines, geometry, self.line_width, self._fit_to)
                self._ink_geometry = geometry
                self.gui_renders += 1
            if self.dimmed:
                painter.setOpacity(0.3)
            painter.drawImage(area.topLeft(), self._ink)
            painter.setOpacity(1.0)
        elif self.placeholder:
            painter.setPen(QColor(130, 130, 130))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._paint_frame(painter, paper)
        painter.end()

    def _paint_frame(self, painter: QPainter, paper: QRectF) -> None:
        painter.setPen(QPen(FRAME, 1.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(paper)


class SketchThumbnail(SketchView):
    """A small sketch that can be clicked (or Enter/Space when focused) and dragged elsewhere."""

    activated = Signal()
    hovered = Signal(bool)

    def __init__(self, parent: QWidget | None = None, caption: str = "", placeholder: str = "") -> None:
        super().__init__(parent, caption, placeholder)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setMouseTracking(True)
        self._press: QPointF | None = None
        self._hover = False
        self.setMinimumSize(48, 48)

    def enterEvent(self, event) -> None:
        self._hover = True
        self.hovered.emit(True)
        self.update()

    def leaveEvent(self, event) -> None:
        self._hover = False
        self.hovered.emit(False)
        self.update()

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.hovered.emit(True)
        self.update()

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.hovered.emit(False)
        self.update()

    def _paint_frame(self, painter: QPainter, paper: QRectF) -> None:
        highlight = self.palette().color(QPalette.ColorRole.Highlight)
        if self.hasFocus() or self._hover:
            painter.setPen(QPen(highlight, 2.0))
        else:
            painter.setPen(QPen(FRAME, 1.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(paper.adjusted(0.5, 0.5, -0.5, -0.5))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position()
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is None or self.drag_sketch is None:
            return
        if (event.position() - self._press).manhattanLength() < 8:
            return
        self._press = None
        drag = QDrag(self)
        drag.setMimeData(sketch_mime_data(self.drag_sketch))
        pixmap = QPixmap(self.size() * self.devicePixelRatioF())
        pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        self.render(pixmap)
        drag.setPixmap(pixmap.scaled(96, 96, Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation))
        drag.exec(Qt.DropAction.CopyAction)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._press is not None:
            self._press = None
            if self.rect().contains(event.position().toPoint()) and self.has_sketch():
                self.activated.emit()
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space) and self.has_sketch():
            self.activated.emit()
            event.accept()
        else:
            super().keyPressEvent(event)
