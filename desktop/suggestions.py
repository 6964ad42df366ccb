"""The suggestion cells beside the canvas (sketch-rnn's multi-predict): one square thumbnail per continuation,
laid out as a grid chosen from their count and the space (:mod:`desktop.square_grid`), with a status line.

The cells fade while new suggestions are on the way (no flicker when the model answers quickly) and say "thinking..."
only when it takes long enough to be read.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop.canvas_views import SketchThumbnail
from desktop.document import Stroke, strokes_to_stroke3
from desktop.painting import user_and_model
from desktop.render_jobs import Shown
from desktop.square_grid import SquareGrid
from sketchgen.strokes import center

__all__ = ["ContinuationPanel", "continuation_shown"]


class ContinuationPanel(QWidget):
    """Square cells, one per alternative continuation, sized to fill the space beside the canvas."""

    accepted = Signal(int)
    previewed = Signal(int)  # index, or -1 when no continuation is under the pointer or focused

    THINKING_AFTER_MS = 150  # "thinking..." only when the model takes long enough for it to be read

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbnails: list[SketchThumbnail] = []
        self.grid = SquareGrid(self, spacing=6, max_cell=320)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setMinimumHeight(self.status.fontMetrics().lineSpacing() * 2)
        self.status.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self._thinking = QTimer(self)
        self._thinking.setSingleShot(True)
        self._thinking.timeout.connect(self._show_thinking)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addWidget(self.grid, 1)

    def set_count(self, count: int) -> None:
        if count == len(self.thumbnails):
            return
        self.grid.clear()
        self.thumbnails = []
        for i in range(count):
            thumb = SketchThumbnail(self.grid, caption=f"{i + 1}" if i >= 9 else f"{i + 1}   Alt+{i + 1}")
            thumb.setAccessibleName(f"Continuation {i + 1}")
            keys = f", Enter or Alt+{i + 1}" if i < 9 else " or Enter"
            thumb.setToolTip(f"Click{keys} to add this continuation; drag it to a morph slot")
            thumb.activated.connect(lambda i=i: self.accepted.emit(i))
            thumb.hovered.connect(lambda on, i=i: self.previewed.emit(i if on else -1))
            self.grid.add(thumb)
            self.thumbnails.append(thumb)

    def show_message(self, text: str) -> None:
        self.status.setText(text)

    def clear(self, placeholder: str = "") -> None:
        self._thinking.stop()
        for thumb in self.thumbnails:
            thumb.set_lines([])
            thumb.drag_sketch = None
            thumb.set_dimmed(False)
            thumb.set_placeholder(placeholder)

    def mark_stale(self) -> None:
        """New continuations are on the way: fade the old ones (no flicker when the model answers quickly)."""
        for thumb in self.thumbnails:
            thumb.set_dimmed(True)
            thumb.drag_sketch = None
            if not thumb.has_sketch():
                thumb.set_placeholder("")
        self._thinking.start(self.THINKING_AFTER_MS)

    def _show_thinking(self) -> None:
        for thumb in self.thumbnails:
            if thumb.dimmed:
                thumb.set_placeholder("thinking...")

    def show_continuations(self, prefix: list[Stroke], continuations: list[list[Stroke]]) -> None:
        """The cells already show their pictures (:func:`desktop.render_jobs.submit_rendered`); this settles the
        rest: no more fading, and a note in each cell the model had nothing for."""
        self._thinking.stop()
        for i, thumb in enumerate(self.thumbnails):
            thumb.set_dimmed(False)
            if i < len(continuations) and continuations[i]:
                thumb.set_placeholder("")
            else:
                thumb.set_lines([])
                thumb.drag_sketch = None
                thumb.set_placeholder("(the model would stop here)" if i < len(continuations) else "")


def continuation_shown(prefix: list[Stroke], continuations: list[list[Stroke]]) -> list[Shown]:
    """What each suggestion cell shows (the drawing and the model's strokes) and drags (the whole sketch, centred)."""
    return [Shown(user_and_model(prefix, c), center(strokes_to_stroke3(prefix + c))) if c else Shown([])
            for c in continuations]
