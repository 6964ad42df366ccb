"""The drawing canvas: mouse and pen input in model units, a view that fits and zooms, and the model's live ink.

At zoom 1 the canvas maps widget coordinates to model units with the fixed scale of :mod:`desktop.geometry` (what a
person draws is as large as the training drawings). Opening or sampling a drawing fits the view to it, the wheel
(or a pinch) zooms about the pointer, and the zoom applies to input too, so a stroke drawn on a zoomed-out drawing is
as large, in that drawing's units, as it looks. A drawing whose coordinates no drawing could have (far beyond any data
set) still shows, scaled down, and :meth:`fit_to_drawing` says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QNativeGestureEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QTabletEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop.canvas_views import PAPER
from desktop.document import SketchDocument, Stroke
from desktop.geometry import canvas_mapping
from desktop.painting import FIT_MARGIN, MODEL_INK, USER_INK, InkLine, inked, paint_lines
from sketchgen.geometry import Mapping, lines_bounds
from sketchgen.strokes import rdp

__all__ = ["DrawingCanvas", "STROKE_RDP_EPSILON", "ABSURD_EXTENT", "MIN_ZOOM", "MAX_ZOOM"]

STROKE_RDP_EPSILON = 2.0
"""Each finished stroke is simplified with Ramer-Douglas-Peucker at this many model units, the epsilon QuickDraw's
simplified data (and so the models trained on it) uses; mouse input would otherwise give far denser strokes."""

ABSURD_EXTENT = 100_000.0
"""Model units no drawing spans: data sets span a few hundred (QuickDraw raw a few thousand)."""
MIN_ZOOM, MAX_ZOOM = 1e-3, 16.0  # the wheel's limits; fitting an absurd drawing may go below MIN_ZOOM
WHEEL_STEP = 1.0015  # zoom factor per 1/8 degree of wheel turn (one notch: about 1.2)


class DrawingCanvas(QWidget):
    """Where the person draws: press, move, release (mouse or pen) make one stroke in model units.

    Paints the document's strokes (user ink black, model ink orange), the stroke being drawn, a faded preview of a
    suggestion under consideration, and ``overlay``: model strokes being drawn live (the animation). Emits
    ``strokeStarted`` on pen down (the animation yields to it) and ``strokeFinished(points)`` with an ``[k, 2]``
    array in model units, already simplified; the view turns it into an undoable command.
    """

    strokeStarted = Signal()
    strokeFinished = Signal(object)
    viewChanged = Signal()

    def __init__(self, document: SketchDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._current: list[tuple[float, float]] = []  # the stroke being drawn, widget coordinates
        self._preview: list[Stroke] = []
        self._overlay: list[InkLine] = []
        self._ink: QImage | None = None
        self._ink_key: tuple = ()
        self.zoom = 1.0
        self.centre = np.zeros(2)  # the model point shown at the widget's centre
        self.line_width = 2.5
        self.setMinimumSize(240, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.grabGesture(Qt.GestureType.PinchGesture)  # touch screens (touchpads send native zoom gestures)
        self.setAccessibleName("Drawing canvas")
        document.changed.connect(self.update)

    # mapping and view -------------------------------------------------------------------------------------------------
    def mapping(self) -> Mapping:
        base = canvas_mapping(self.width(), self.height())
        scale = base.scale * self.zoom
        return Mapping(scale, base.tx - self.centre[0] * scale, base.ty - self.centre[1] * scale)

    def to_model(self, x: float, y: float) -> np.ndarray:
        return self.mapping().to_model(np.array([[x, y]]))[0]

    def to_widget(self, points: np.ndarray) -> np.ndarray:
        return self.mapping().to_screen(points)

    def reset_view(self) -> None:
        self.zoom, self.centre = 1.0, np.zeros(2)
        self._view_changed()

    def fit_to_drawing(self) -> str:
        """Show the whole drawing: zoomed out when it is larger than the canvas, at zoom 1 (centred on the drawing)
        when it fits. Returns a note for the status bar ("" when nothing is unusual)."""
        box = lines_bounds([s.points for s in self.document.strokes])
        if box is None:
            self.reset_view()
            return ""
        min_x, max_x, min_y, max_y = box
        extent = max(max_x - min_x, max_y - min_y, 1.0)
        room = max(1.0, min(self.width(), self.height()) * (1.0 - 2.0 * FIT_MARGIN))
        self.zoom = min(1.0, room / extent)
        self.centre = np.array([(min_x + max_x) / 2.0, (min_y + max_y) / 2.0])
        self._view_changed()
        if extent > ABSURD_EXTENT:
            return (f"; warning: it spans {extent:.3g} units, far more than any drawing (data sets span a few "
                    f"hundred), so it is shown scaled down to 1/{1 / self.zoom:.3g} and a model will not draw it well")
        return ""

    def zoom_about(self, factor: float, at: QPointF | None = None) -> None:
        """Zoom by ``factor`` keeping the model point under ``at`` (widget coordinates; default the centre) still."""
        at = at if at is not None else QPointF(self.width() / 2.0, self.height() / 2.0)
        anchor = self.to_model(at.x(), at.y())
        self.zoom = float(min(MAX_ZOOM, max(min(MIN_ZOOM, self.zoom), self.zoom * factor)))
        after = self.to_model(at.x(), at.y())
        self.centre = self.centre + (anchor - after)
        self._view_changed()

    def _view_changed(self) -> None:
        self._ink = None
        self.update()
        self.viewChanged.emit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() or event.angleDelta().x()
        if steps:
            self.zoom_about(WHEEL_STEP ** steps, event.position())
        event.accept()

    def event(self, event: QEvent) -> bool:
        """Pinch to zoom: a touchpad's native zoom gesture, or a pinch on a touch screen."""
        if isinstance(event, QNativeGestureEvent) and event.gestureType() == Qt.NativeGestureType.ZoomNativeGesture:
            self.zoom_about(1.0 + event.value(), event.position())
            return True
        if event.type() == QEvent.Type.Gesture:
            pinch = event.gesture(Qt.GestureType.PinchGesture)
            if pinch is not None:
                self.zoom_about(pinch.scaleFactor(), self.mapFromGlobal(pinch.centerPoint()))
                event.accept(pinch)
                return True
        return super().event(event)

    # preview and overlay ----------------------------------------------------------------------------------------------
    def set_preview(self, strokes: Sequence[Stroke]) -> None:
        self._preview = list(strokes)
        self.update()

    def preview(self) -> list[Stroke]:
        return list(self._preview)

    def set_overlay(self, lines: Sequence[InkLine]) -> None:
        """Model ink drawn live on top of the drawing (full strength: it is being drawn, not proposed)."""
        self._overlay = list(lines)
        self.update()

    def overlay(self) -> list[InkLine]:
        return list(self._overlay)

    def is_drawing(self) -> bool:
        return bool(self._current)

    # input ------------------------------------------------------------------------------------------------------------
    def _begin(self, pos: QPointF) -> None:
        self._current = [(pos.x(), pos.y())]
        self.strokeStarted.emit()
        self.update()

    def _extend(self, pos: QPointF) -> None:
        if not self._current:
            return
        last = self._current[-1]
        if abs(pos.x() - last[0]) + abs(pos.y() - last[1]) < 0.5:
            return
        self._current.append((pos.x(), pos.y()))
        self.update()

    def _finish(self, pos: QPointF | None) -> None:
        if not self._current:
            return
        if pos is not None:
            self._extend(pos)
        points = self.mapping().to_model(np.array(self._current, dtype=np.float64))
        self._current = []
        if len(points) > 2:
            points = rdp(points, STROKE_RDP_EPSILON / self.zoom)
        self.update()
        self.strokeFinished.emit(points)

    def cancel_stroke(self) -> None:
        self._current = []
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._begin(event.position())
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._extend(event.position())
            event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._finish(event.position())
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def tabletEvent(self, event: QTabletEvent) -> None:
        """Pen input with sub-pixel positions (accepted, so Qt does not also synthesise mouse events)."""
        kind = event.type()
        if kind == QTabletEvent.Type.TabletPress:
            self._begin(event.position())
        elif kind == QTabletEvent.Type.TabletMove and event.buttons() & Qt.MouseButton.LeftButton:
            self._extend(event.position())
        elif kind == QTabletEvent.Type.TabletRelease:
            self._finish(event.position())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self._current:
            self.cancel_stroke()
            event.accept()
        else:
            super().keyPressEvent(event)

    # painting -------------------------------------------------------------------------------------------------------
    def _document_ink(self, mapping: Mapping) -> QImage:
        """The drawing's strokes, rendered once per change of the drawing, the view or the canvas size, so a mouse
        move while drawing (or an animation frame) repaints only what moves, however long the drawing is."""
        ratio = self.devicePixelRatioF()
        key = (self.document.revision, self.width(), self.height(), ratio, self.line_width)
        if self._ink is None or self._ink_key != key:
            image = QImage(max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio)),
                           QImage.Format.Format_ARGB32_Premultiplied)
            image.setDevicePixelRatio(ratio)
            image.fill(QColor(0, 0, 0, 0))
            ink = QPainter(image)
            paint_lines(ink, inked(self.document.strokes), mapping, self.line_width)
            ink.end()
            self._ink, self._ink_key = image, key
        return self._ink

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.fillRect(self.rect(), PAPER)
        mapping = self.mapping()
        if self._preview:
            faded = QColor(MODEL_INK)
            faded.setAlphaF(0.55)
            paint_lines(painter, inked(self._preview, faded), mapping, self.line_width)
        painter.drawImage(0, 0, self._document_ink(mapping))
        if self._overlay:
            paint_lines(painter, self._overlay, mapping, self.line_width)
        if self._current:
            current = np.array(self._current, dtype=np.float64)
            paint_lines(painter, [InkLine(mapping.to_model(current), USER_INK)], mapping, self.line_width)
        if self.document.is_empty() and not self._current and not self._preview and not self._overlay:
            painter.setPen(QColor(150, 150, 150))
            painter.drawText(
                QRectF(self.rect()),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                "Draw here with the mouse or a pen.\nThe model continues your drawing after each stroke.\n"
                "Wheel or pinch to zoom.",
            )
        if self.hasFocus():
            painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 1.0))
            painter.drawRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5))
        painter.end()
