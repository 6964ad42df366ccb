"""The Draw tab: the canvas, and beside it the model's alternative continuations (sketch-rnn's multi-predict).

Every change of the drawing (a finished stroke, undo, redo, ...) asks the model for ``count`` continuations on the
worker thread; a newer drawing makes older requests stale. Clicking a continuation (or Alt+number, or Enter on a
focused one) appends its strokes as one undoable command; hovering or focusing one previews it on the canvas.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.canvas import DrawingCanvas
from desktop.canvas_views import SketchThumbnail
from desktop.commands import AddStrokes, ReplaceDrawing
from desktop.icons import suggest_icon
from desktop.document import MODEL, USER, SketchDocument, Stroke, strokes_from_stroke3, strokes_to_stroke3
from desktop.inference import LoadedModel
from desktop.painting import user_and_model
from desktop.render_jobs import Shown, submit_rendered
from desktop.square_grid import SquareGrid
from desktop.workers import ModelRunner
from sketchgen.strokes import center

__all__ = ["DrawView", "ContinuationPanel", "MAX_CONTINUATIONS"]

CONTINUE, SAMPLE, RECONSTRUCT = "continue", "sample", "reconstruct"
MAX_CONTINUATIONS = 12


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


class DrawView(QWidget):
    """Owns the drawing interactions; the window owns the menus and forwards model, temperature and count."""

    message = Signal(str)
    error = Signal(str, str)
    reconstructed = Signal(object, object)  # original strokes, reconstruction strokes

    def __init__(self, document: SketchDocument, undo_stack: QUndoStack, runner: ModelRunner,
                 parent: QWidget | None = None, seed: int | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.undo_stack = undo_stack
        self.runner = runner
        self.model: LoadedModel | None = None
        self.temperature = 0.5
        self.continuations: list[list[Stroke]] = []
        self._continuations_for = -1  # document revision the shown continuations belong to
        # Every model call gets its own seed from this generator and records it in ``last_call``, so a session
        # started with a seed (tests, screenshots) is reproducible and any result can be recomputed exactly.
        self.seeds = np.random.default_rng(seed)
        self.last_call: dict[str, dict[str, object]] = {}

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
        self.regenerate_button = QPushButton(suggest_icon(), "&New suggestions", self)
        self.regenerate_button.setToolTip("Ask the model for other continuations (F5)")
        self.regenerate_button.clicked.connect(self.request_continuations)

        controls = QHBoxLayout()
        controls.addWidget(count_label)
        controls.addWidget(self.count)
        controls.addSpacing(8)
        controls.addWidget(self.auto)
        controls.addStretch(1)
        ask = QHBoxLayout()
        ask.addWidget(self.regenerate_button)
        ask.addStretch(1)
        side = QWidget(self)
        side.setMinimumWidth(220)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(4, 0, 0, 0)
        side_layout.addLayout(controls)
        side_layout.addLayout(ask)
        side_layout.addWidget(self.panel, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.canvas)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([620, 380])  # proportions: the canvas gets the larger part
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
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
        """Tab goes canvas -> count -> auto -> new suggestions -> each continuation."""
        chain = [self.canvas, self.count, self.auto, self.regenerate_button, *self.panel.thumbnails]
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
        count = f"{len(strokes)} stroke{'s' if len(strokes) != 1 else ''}"
        self.message.emit(f"Added continuation {index + 1} ({count}); Ctrl+Z takes it back.")
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
    def _next_seed(self, kind: str, **facts: object) -> int:
        seed = int(self.seeds.integers(2**31 - 1))
        self.last_call[kind] = {"seed": seed, **facts}
        return seed

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
        seed = self._next_seed(CONTINUE, n=n, temperature=temperature, revision=revision)
        self.continuations = []
        self._continuations_for = -1
        self.canvas.set_preview([])
        self.panel.mark_stale()
        self.panel.show_message(f"Asking {model.name} for {n} continuation{'s' if n != 1 else ''}...")
        self.regenerate_button.setEnabled(True)

        def work() -> tuple[list[list[Stroke]], list[Shown]]:
            result = model.continuations(prefix, n, temperature, seed)
            return result, continuation_shown(prefix, result)

        def done(result: list[list[Stroke]]) -> None:
            self.continuations = result
            self._continuations_for = revision
            self.panel.show_continuations(prefix, result)
            usable = sum(1 for c in result if c)
            if usable:
                self.panel.show_message("Click a suggestion (or press Alt+number) to add it to your drawing; "
                                        "point at one to preview it.")
            else:
                self.panel.show_message("The model would end the drawing here. Try 'New suggestions' or a higher "
                                        "temperature.")

        def failed(message: str) -> None:
            self.panel.clear("")
            self.panel.show_message("The model could not continue this drawing.")
            self.error.emit("Continuation failed", message)

        # (a drawing changed meanwhile makes the answer stale)
        submit_rendered(self.runner, CONTINUE, self.panel.thumbnails[:n], work,
                        lambda result: revision == self.document.revision, done, failed)

    def _sync_panel(self) -> None:
        self.panel.grid.setVisible(self.model is not None)  # no empty cells when no model can fill them
        if self.model is None:
            self.panel.clear("")
            self.panel.show_message("No model loaded: suggestions need a model (Model menu).")
        elif self.document.is_empty():
            self.panel.clear("")
            self.panel.show_message("Draw a stroke on the canvas: the model suggests how to go on.")
        elif self._continuations_for != self.document.revision:
            self.panel.clear("")
            self.panel.show_message("Press 'New suggestions' (F5) to ask the model how to go on.")
        self.regenerate_button.setEnabled(self.model is not None and not self.document.is_empty())

    def random_sample(self) -> None:
        """Replace the drawing with a sample from the model (one undoable step)."""
        model, temperature = self.model, self.temperature
        if model is None:
            self.message.emit("No model loaded: cannot sample.")
            return
        seed = self._next_seed(SAMPLE, temperature=temperature)
        self.message.emit(f"Sampling from {model.name}...")

        def done(s3: np.ndarray) -> None:
            self.undo_stack.push(ReplaceDrawing(self.document, strokes_from_stroke3(s3, MODEL), "Random sample"))
            unfinished = "" if model.finished(s3) else (
                f"; the model did not end it within {len(s3)} points: a higher temperature helps")
            self.message.emit(f"Sampled a new drawing ({len(s3)} points, temperature {temperature:.2f}"
                              f"{unfinished}); Ctrl+Z brings yours back.")

        self.runner.submit(SAMPLE, lambda: model.sample(temperature, seed), done,
                           lambda m: self.error.emit("Sampling failed", m))

    def reconstruct(self) -> None:
        """Encode then decode the drawing; the window shows original and reconstruction side by side."""
        model, temperature = self.model, self.temperature
        drawing = self.document.to_stroke3()
        if model is None or drawing is None:
            self.message.emit("Draw something and load a model to reconstruct.")
            return
        original = list(self.document.strokes)
        seed = self._next_seed(RECONSTRUCT, temperature=temperature)
        self.message.emit(f"Reconstructing with {model.name}...")

        def done(s3: np.ndarray) -> None:
            self.reconstructed.emit(original, strokes_from_stroke3(s3, MODEL))
            self.message.emit("Reconstruction ready: replaying it beside the original.")

        self.runner.submit(
            RECONSTRUCT, lambda: model.reconstruct(drawing, temperature, seed), done,
            lambda m: self.error.emit("Reconstruction failed", m),
        )
