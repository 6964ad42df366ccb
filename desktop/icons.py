"""Toolbar icons for the model's actions, painted in the app's two inks (Qt's standard set has no such pictures).

Painted with QPainter at start-up (microseconds, no image files to ship); the file and edit actions keep the
platform style's standard icons.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

from desktop.painting import MODEL_INK, USER_INK

__all__ = ["sample_icon", "reconstruct_icon", "export_icon", "suggest_icon", "undo_icon", "redo_icon"]

_SIZE = 48  # drawn at 48 px; Qt scales it down (and keeps it sharp on 2x screens)


def _canvas() -> tuple[QPixmap, QPainter]:
    pixmap = QPixmap(_SIZE, _SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.scale(_SIZE / 24.0, _SIZE / 24.0)  # draw on a 24 x 24 grid
    return pixmap, painter


def _pen(color: QColor, width: float = 2.0) -> QPen:
    return QPen(color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)


def _squiggle(x0: float, y0: float, width: float, height: float) -> QPainterPath:
    """A small hand-drawn-looking wave."""
    path = QPainterPath(QPointF(x0, y0 + height * 0.6))
    path.cubicTo(x0 + width * 0.2, y0 - height * 0.2, x0 + width * 0.4, y0 + height * 1.2,
                 x0 + width * 0.6, y0 + height * 0.5)
    path.cubicTo(x0 + width * 0.75, y0, x0 + width * 0.9, y0 + height * 0.2, x0 + width, y0 + height * 0.6)
    return path


def _done(pixmap: QPixmap, painter: QPainter) -> QIcon:
    painter.end()
    return QIcon(pixmap)


def sample_icon() -> QIcon:
    """Random sample: a model-drawn squiggle and a sparkle."""
    pixmap, painter = _canvas()
    painter.setPen(_pen(MODEL_INK, 2.2))
    painter.drawPath(_squiggle(2.5, 11.0, 15.0, 9.0))
    painter.setPen(_pen(USER_INK, 1.6))
    for dx, dy in ((0, -3.5), (0, 3.5), (-3.5, 0), (3.5, 0)):
        painter.drawLine(QPointF(18.5, 6.0), QPointF(18.5 + dx, 6.0 + dy))
    return _done(pixmap, painter)


def reconstruct_icon() -> QIcon:
    """Reconstruct: the person's squiggle above, the model's copy below, an arrow between."""
    pixmap, painter = _canvas()
    painter.setPen(_pen(USER_INK, 2.0))
    painter.drawPath(_squiggle(2.5, 2.5, 13.0, 6.0))
    painter.setPen(_pen(MODEL_INK, 2.2))
    painter.drawPath(_squiggle(8.5, 15.0, 13.0, 6.0))
    painter.setPen(_pen(USER_INK, 1.6))
    painter.drawLine(QPointF(19.5, 3.0), QPointF(19.5, 11.0))
    painter.drawPolyline(QPolygonF([QPointF(17.0, 8.5), QPointF(19.5, 11.5), QPointF(22.0, 8.5)]))
    return _done(pixmap, painter)


def suggest_icon() -> QIcon:
    """New suggestions: a short stroke going on in three directions."""
    pixmap, painter = _canvas()
    painter.setPen(_pen(USER_INK, 2.2))
    painter.drawLine(QPointF(2.5, 12.0), QPointF(10.0, 12.0))
    painter.setPen(_pen(MODEL_INK, 2.0))
    for end in (QPointF(21.0, 4.0), QPointF(21.5, 12.0), QPointF(21.0, 20.0)):
        path = QPainterPath(QPointF(10.0, 12.0))
        path.quadTo(QPointF(15.0, 12.0), end)
        painter.drawPath(path)
    return _done(pixmap, painter)


def export_icon() -> QIcon:
    """Export: a picture frame with a squiggle and an arrow leaving it."""
    pixmap, painter = _canvas()
    painter.setPen(_pen(USER_INK, 1.6))
    painter.drawRoundedRect(QRectF(2.0, 6.0, 15.0, 15.0), 1.5, 1.5)
    painter.setPen(_pen(MODEL_INK, 2.0))
    painter.drawPath(_squiggle(4.5, 11.5, 10.0, 5.0))
    painter.setPen(_pen(USER_INK, 1.8))
    painter.drawLine(QPointF(12.0, 11.0), QPointF(21.5, 2.5))
    painter.drawPolyline(QPolygonF([QPointF(15.5, 2.5), QPointF(21.5, 2.5), QPointF(21.5, 8.5)]))
    return _done(pixmap, painter)


def _turn(clockwise: bool) -> QIcon:
    """A curved arrow turning back (undo) or forward (redo): the familiar edit icons, unlike back/forward arrows
    that read as navigation."""
    pixmap, painter = _canvas()
    painter.setPen(_pen(USER_INK, 2.2))
    if clockwise:
        painter.translate(24.0, 0.0)
        painter.scale(-1.0, 1.0)
    path = QPainterPath(QPointF(6.0, 9.0))
    path.lineTo(QPointF(14.0, 9.0))
    path.cubicTo(QPointF(23.0, 9.0), QPointF(23.0, 20.0), QPointF(14.0, 20.0))
    path.lineTo(QPointF(9.0, 20.0))
    painter.drawPath(path)
    painter.drawPolyline(QPolygonF([QPointF(10.0, 4.5), QPointF(5.5, 9.0), QPointF(10.0, 13.5)]))
    return _done(pixmap, painter)


def undo_icon() -> QIcon:
    return _turn(clockwise=False)


def redo_icon() -> QIcon:
    return _turn(clockwise=True)
