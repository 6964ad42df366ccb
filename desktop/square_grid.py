"""A container that lays its children out as equal *square* cells, as large as the space allows.

Sketches are about as wide as high, so square cells waste no room; QGridLayout would stretch them into tall or wide
strips. With ``columns=None`` the grid picks rows and columns from the count and its current size
(:func:`best_columns`).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

__all__ = ["SquareGrid", "SquareRow", "best_columns"]


def _side(count: int, columns: int, width: float, height: float, spacing: float) -> float:
    rows = math.ceil(count / columns)
    return min((width - (columns - 1) * spacing) / columns, (height - (rows - 1) * spacing) / rows)


def best_columns(count: int, width: float, height: float, spacing: float, max_cell: float = 10_000.0,
                 tolerance: float = 0.8) -> tuple[int, float]:
    """(columns, cell side) for ``count`` square cells in ``width`` x ``height``.

    The cells are as large as the space allows, but a grid that people read as a grid wins over a slightly larger
    ragged one: among the layouts whose cells are at least ``tolerance`` of the largest, the one with the fewest empty
    cells, then the squarest (9 -> 3 x 3, as the official multi-predict shows them, rather than 2 x 5), then the
    largest cells. ``max_cell`` caps the side first, so in a large space the rule decides by shape alone."""
    count = max(1, count)
    sides = {c: min(max_cell, _side(count, c, width, height, spacing)) for c in range(1, count + 1)}
    largest = max(sides.values())
    good = [c for c, side in sides.items() if side >= tolerance * largest]

    def rank(columns: int) -> tuple[int, int, float]:
        rows = math.ceil(count / columns)
        return rows * columns - count, abs(rows - columns), -sides[columns]

    columns = min(good, key=rank)
    return columns, sides[columns]


class SquareGrid(QWidget):
    """Children added with :meth:`add` are placed row by row in square cells (top-aligned, centred across)."""

    def __init__(self, parent: QWidget | None = None, columns: int | None = None, spacing: int = 6,
                 max_cell: int = 10_000, centre_vertically: bool = False) -> None:
        super().__init__(parent)
        self.columns = columns
        self.spacing = spacing
        self.max_cell = max_cell
        self.centre_vertically = centre_vertically
        self.cells: list[QWidget] = []
        self._shape = (0, 0)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def add(self, widget: QWidget) -> None:
        widget.setParent(self)
        self.cells.append(widget)
        widget.show()
        self._relayout()

    def clear(self) -> None:
        for widget in self.cells:
            widget.hide()
            widget.deleteLater()
        self.cells = []

    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the current layout ((0, 0) before the first)."""
        return self._shape if self.cells else (0, 0)

    def cell_side(self) -> int:
        return self.cells[0].width() if self.cells else 0

    def minimumSizeHint(self) -> QSize:
        return QSize(64, 64)

    def sizeHint(self) -> QSize:
        return QSize(320, 320)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._relayout()

    def _relayout(self) -> None:
        count = len(self.cells)
        if not count:
            return
        width, height = self.width(), self.height()
        if self.columns is None:
            columns, side = best_columns(count, width, height, self.spacing, self.max_cell)
        else:
            columns = max(1, min(self.columns, count))
            rows = math.ceil(count / columns)
            side = min((width - (columns - 1) * self.spacing) / columns, (height - (rows - 1) * self.spacing) / rows)
        side = int(max(16, min(side, self.max_cell)))
        rows = math.ceil(count / columns)
        used_w = columns * side + (columns - 1) * self.spacing
        used_h = rows * side + (rows - 1) * self.spacing
        x0 = max(0, (width - used_w) // 2)
        y0 = max(0, (height - used_h) // 2) if self.centre_vertically else 0
        self._shape = (rows, columns)
        for i, widget in enumerate(self.cells):
            row, col = divmod(i, columns)
            widget.setGeometry(QRect(x0 + col * (side + self.spacing), y0 + row * (side + self.spacing), side, side))


class SquareRow(QWidget):
    """Children side by side, each a square (plus a fixed ``extra`` height below it, e.g. for buttons) whose side is
    proportional to its weight: the morph page's slot A, the larger in-between sketch and slot B."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 10) -> None:
        super().__init__(parent)
        self.spacing = spacing
        self.items: list[tuple[QWidget, float, int]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def add(self, widget: QWidget, weight: float = 1.0, extra: int = 0) -> None:
        widget.setParent(self)
        self.items.append((widget, float(weight), int(extra)))
        widget.show()
        self._relayout()

    def minimumSizeHint(self) -> QSize:
        return QSize(200, 120)

    def sizeHint(self) -> QSize:
        return QSize(800, 400)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._relayout()

    def _relayout(self) -> None:
        if not self.items:
            return
        gaps = self.spacing * (len(self.items) - 1)
        unit = (self.width() - gaps) / sum(w for _, w, _ in self.items)
        unit = min([unit] + [(self.height() - extra) / weight for _, weight, extra in self.items])
        unit = max(unit, 1.0)
        sides = [int(unit * weight) for _, weight, _ in self.items]
        x = max(0, (self.width() - sum(sides) - gaps) // 2)
        tallest = max(side + extra for (_, _, extra), side in zip(self.items, sides))
        y = max(0, (self.height() - tallest) // 2)
        for (widget, _, extra), side in zip(self.items, sides):
            widget.setGeometry(QRect(x, y + (tallest - side - extra) // 2, side, side + extra))
            x += side + self.spacing
