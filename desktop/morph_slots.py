"""One morph slot (A, B, C or D): its sketch, a drop target for sketches and files, and a menu to fill it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QMenu, QToolButton, QVBoxLayout, QWidget

from desktop.canvas_views import SketchThumbnail, sketch_from_mime
from desktop.document import USER, strokes_from_stroke3
from desktop.painting import inked

__all__ = ["SlotWidget", "show_sketch"]


def show_sketch(view: SketchThumbnail, sketch: np.ndarray | None, author: str) -> None:
    """Show ``sketch`` unless the view already shows that very array: a change elsewhere never re-renders it."""
    if view.drag_sketch is sketch:
        return
    view.set_lines([] if sketch is None or len(sketch) == 0 else inked(strokes_from_stroke3(sketch, author)))
    view.drag_sketch = sketch


class SlotWidget(QFrame):
    """One morph slot: the sketch (a drop target) and buttons to fill it."""

    fromDrawing = Signal(str)
    fromFile = Signal(str)
    fromSample = Signal(str)
    dropped = Signal(str, object)  # slot, stroke-3 array
    droppedFile = Signal(str, str)  # slot, path

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.view = SketchThumbnail(self, caption=f"Slot {name}",
                                    placeholder=f"Drop a sketch here\nor fill slot {name}")
        self.view.setAccessibleName(f"Morph slot {name}")
        self.view.setMinimumSize(100, 100)
        self.fill_button = QToolButton(self)
        self.fill_button.setText(f"Fill &{name}" if name != "D" else "Fill D")  # Alt+D is the Draw tab
        self.fill_button.setToolTip(f"Fill slot {name} from the drawing, a file or a model sample (or drop a sketch)")
        self.fill_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.fill_button)
        self.drawing_action = menu.addAction("From the &drawing", lambda: self.fromDrawing.emit(self.name))
        self.file_action = menu.addAction("From a &file...", lambda: self.fromFile.emit(self.name))
        self.sample_action = menu.addAction("Random &sample", lambda: self.fromSample.emit(self.name))
        self.fill_button.setMenu(menu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.fill_button, 0, Qt.AlignmentFlag.AlignLeft)

    def show_sketch(self, s3: np.ndarray | None) -> None:
        show_sketch(self.view, s3, USER)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if sketch_from_mime(mime) is not None or any(url.isLocalFile() for url in mime.urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        sketch = sketch_from_mime(mime)
        if sketch is not None:
            self.dropped.emit(self.name, sketch)
            event.acceptProposedAction()
            return
        files = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
        if files:
            self.droppedFile.emit(self.name, files[0])
            event.acceptProposedAction()
