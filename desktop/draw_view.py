"""The Draw tab: the canvas, and beside it the model's alternative continuations (sketch-rnn's multi-predict).

Every change of the drawing (a finished stroke, undo, redo, ...) asks the model for ``count`` continuations on the
worker thread; a newer drawing makes older requests stale. Clicking a continuation (or Alt+number, or Enter on a
focused one) appends its strokes as one undoable command; hovering or focusing one previews it on the canvas.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.canvas import DrawingCanvas, SketchThumbnail
from desktop.commands import AddStrokes, ReplaceDrawing
from desktop.document import MODEL, USER, SketchDocument, Stroke, strokes_from_stroke3, strokes_to_stroke3
from desktop.inference import LoadedModel, centred
from desktop.painting import user_and_model
from desktop.workers import ModelRunner

__all__ = ["DrawView", "ContinuationPanel", "MAX_CONTINUATIONS"]

CONTINUE, SAMPLE, RECONSTRUCT = "continue", "sample", "reconstruct"
MAX_CONTINUATIONS = 12


class ContinuationPanel(QWidget):
    """A grid of small canvases, one per alternative continuation."""

    accepted = Signal(int)
    previewed = Signal(int)  # index, or -1 when no continuation is under the pointer or focused

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbnails: list[SketchThumbnail] = []
        self._grid = QGridLayout()
        self._grid.setSpacing(6)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addLayout(self._grid, 1)

    def set_count(self, count: int) -> None:
        if count == len(self.thumbnails):
            return
        for thumb in self.thumbnails:
            self._grid.removeWidget(thumb)
            thumb.deleteLater()
        self.thumbnails = []
        columns = 2 if count <= 4 else 3
        for i in range(count):
            thumb = SketchThumbnail(self, caption=f"{i + 1}")
            thumb.setAccessibleName(f"Continuation {i + 1}")
            thumb.setToolTip(f"Click, Enter or Alt+{i + 1} to add this continuation; drag it to a morph slot")
            thumb.activated.connect(lambda i=i: self.accepted.emit(i))
            thumb.hovered.connect(lambda on, i=i: self.previewed.emit(i if on else -1))
            self._grid.addWidget(thumb, i // columns, i % columns)
            self.thumbnails.append(thumb)

    def show_message(self, text: str) -> None:
        self.status.setText(text)

    def clear(self, placeholder: str = "") -> None:
        for thumb in self.thumbnails:
            thumb.set_lines([])
            thumb.drag_sketch = None
            thumb.set_placeholder(placeholder)

    def show_continuations(self, prefix: list[Stroke], continuations: list[list[Stroke]]) -> None:
        for i, thumb in enumerate(self.thumbnails):
            if i < len(continuations):
                strokes = prefix + continuations[i]
                thumb.set_lines(user_and_model(prefix, continuations[i]))
                thumb.drag_sketch = centred(strokes_to_stroke3(strokes))
                thumb.set_placeholder("" if continuations[i] else "(the model would stop here)")
            else:
                thumb.set_lines([])
                thumb.drag_sketch = None


class DrawView(QWidget):
    """Owns the drawing interactions; the window owns the menus and forwards model, temperature and count."""

    message = Signal(str)
    error = Signal(str, str)
    reconstructed = Signal(object, object)  # original strokes, reconstruction strokes

    def __init__(self, document: SketchDocument, undo_stack: QUndoStack, runner: ModelRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.undo_stack = undo_stack
        self.runner = runner
        self.model: LoadedModel | None = None
        self.temperature = 0.5
        self.continuations: list[list[Stroke]] = []
        self._continuations_for = -1  # document revision the shown continuations belong to

        self.canvas = DrawingCanvas(document, self)
        self.canvas.strokeFinished.connect(self.add_user_stroke)
        self.panel = ContinuationPanel(self)
        self.panel.accepted.connect(self.accept_continuation)
        self.panel.previewed.connect(self._preview)

        self.count = QSpinBox(self)
        self.count.setRange(1, MAX_CONTINUATIONS)
        self.count.setValue(4)
        self.count.setAccessibleName("Number of continuations")
        self.count.valueChanged.connect(self._count_changed)
        count_label = QLabel("&Continuations:", self)
        count_label.setBuddy(self.count)
        self.auto = QCheckBox("&Auto", self)
        self.auto.setChecked(True)
        self.auto.setToolTip("Ask the model for continuations after every stroke")
        self.auto.toggled.connect(lambda on: self.request_continuations() if on else None)
        self.regenerate_button = QPushButton("&New suggestions", self)
        self.regenerate_button.clicked.connect(self.request_continuations)

        controls = QHBoxLayout()
        controls.addWidget(count_label)
        controls.addWidget(self.count)
        controls.addWidget(self.auto)
        controls.addStretch(1)
        side = QWidget(self)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addLayout(controls)
        side_layout.addWidget(self.panel, 1)
        side_layout.addWidget(self.regenerate_button)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.canvas)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.setFocusProxy(self.canvas)

        for i in range(9):
            QShortcut(QKeySequence(f"Alt+{i + 1}"), self, lambda i=i: self.accept_continuation(i),
                      context=Qt.ShortcutContext.WidgetWithChildrenShortcut)

        self.panel.set_count(self.count.value())
        self._fix_tab_order()
        document.changed.connect(self._document_changed)
        self._sync_panel()

    # settings from the window -----------------------------------------------------------------------------------------
    def set_model(self, model: LoadedModel | None) -> None:
        for channel in (CONTINUE, SAMPLE, RECONSTRUCT):
            self.runner.cancel(channel)
        self.model = model
        self.continuations = []
        self._continuations_for = -1
        self._sync_panel()
        self.request_continuations()

    def set_temperature(self, value: float) -> None:
        if abs(value - self.temperature) < 1e-9:
            return
        self.temperature = value
        self.request_continuations()

    def set_count(self, count: int) -> None:
        self.count.setValue(count)

    def _count_changed(self, count: int) -> None:
        self.panel.set_count(count)
        self._fix_tab_order()
        self._sync_panel()
        self.request_continuations()

    def _fix_tab_order(self) -> None:
        """Tab goes canvas -> count -> auto -> each continuation -> new suggestions."""
        chain = [self.canvas, self.count, self.auto, *self.panel.thumbnails, self.regenerate_button]
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)

    # drawing ----------------------------------------------------------------------------------------------------------
    def add_user_stroke(self, points: np.ndarray) -> None:
        self.undo_stack.push(AddStrokes(self.document, [Stroke(points, USER)], "Draw stroke"))

    def accept_continuation(self, index: int) -> bool:
        """Append continuation ``index`` to the drawing as one undoable step; False if there is none."""
        if self._continuations_for != self.document.revision or not 0 <= index < len(self.continuations):
            return False
        strokes = self.continuations[index]
        if not strokes:
            return False
        self.canvas.set_preview([])
        self.undo_stack.push(AddStrokes(self.document, strokes, "Accept continuation"))
        self.message.emit(f"Added continuation {index + 1} ({len(strokes)} strokes).")
        return True

    def _preview(self, index: int) -> None:
        if index >= 0 and self._continuations_for == self.document.revision and index < len(self.continuations):
            self.canvas.set_preview(self.continuations[index])
        else:
            self.canvas.set_preview([])

    def _document_changed(self) -> None:
        self.canvas.set_preview([])
        if self.auto.isChecked():
            self.request_continuations()
        else:
            self._sync_panel()

    # model requests ---------------------------------------------------------------------------------------------------
    def request_continuations(self) -> None:
        """Ask for continuations of the drawing as it is now (older requests become stale)."""
        model = self.model
        if model is None or self.document.is_empty():
            self.runner.cancel(CONTINUE)
            self.continuations = []
            self._continuations_for = -1
            self._sync_panel()
            return
        prefix = list(self.document.strokes)
        revision = self.document.revision
        n, temperature = self.count.value(), self.temperature
        self.continuations = []
        self._continuations_for = -1
        self.panel.clear("thinking...")
        self.panel.show_message(f"Asking {model.name} for {n} continuations...")

        def done(result: list[list[Stroke]]) -> None:
            if revision != self.document.revision:
                return  # the drawing changed meanwhile
            self.continuations = result
            self._continuations_for = revision
            self.panel.show_continuations(prefix, result)
            self.panel.show_message("Click a continuation (or Alt+number) to add it; hover to preview.")

        def failed(message: str) -> None:
            self.panel.clear("")
            self.panel.show_message("")
            self.error.emit("Continuation failed", message)

        self.runner.submit(CONTINUE, lambda: model.continuations(prefix, n, temperature), done, failed)

    def _sync_panel(self) -> None:
        if self.model is None:
            self.panel.clear("no model")
            self.panel.show_message("No model loaded: continuations need a model (Model menu).")
        elif self.document.is_empty():
            self.panel.clear("")
            self.panel.show_message("Draw a stroke: the model suggests how to go on.")
        elif self._continuations_for != self.document.revision:
            self.panel.clear("")
            self.panel.show_message("Press 'New suggestions' to ask the model.")
        self.regenerate_button.setEnabled(self.model is not None and not self.document.is_empty())

    def random_sample(self) -> None:
        """Replace the drawing with a sample from the model (one undoable step)."""
        model, temperature = self.model, self.temperature
        if model is None:
            self.message.emit("No model loaded: cannot sample.")
            return
        self.message.emit(f"Sampling from {model.name}...")

        def done(s3: np.ndarray) -> None:
            self.undo_stack.push(ReplaceDrawing(self.document, strokes_from_stroke3(s3, MODEL), "Random sample"))
            self.message.emit(f"Sampled {len(s3)} points at temperature {temperature:.2f}.")

        self.runner.submit(SAMPLE, lambda: model.sample(temperature), done, lambda m: self.error.emit("Sampling failed", m))

    def reconstruct(self) -> None:
        """Encode then decode the drawing; the window shows original and reconstruction side by side."""
        model, temperature = self.model, self.temperature
        drawing = self.document.to_stroke3()
        if model is None or drawing is None:
            self.message.emit("Draw something and load a model to reconstruct.")
            return
        original = list(self.document.strokes)
        self.message.emit(f"Reconstructing with {model.name}...")

        def done(s3: np.ndarray) -> None:
            self.reconstructed.emit(original, strokes_from_stroke3(s3, MODEL))
            self.message.emit("Reconstruction ready: replaying it beside the original.")

        self.runner.submit(
            RECONSTRUCT, lambda: model.reconstruct(drawing, temperature), done,
            lambda m: self.error.emit("Reconstruction failed", m),
        )
