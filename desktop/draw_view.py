"""The Draw tab: the canvas, and beside it the model's alternative continuations (sketch-rnn's multi-predict).

Every change of the drawing (a finished stroke, undo, redo, ...) asks the model for ``count`` continuations on the
worker thread; a newer drawing makes older requests stale. Clicking a continuation (or Alt+number, or Enter on a
focused one) has the model draw it onto the canvas stroke by stroke (:mod:`desktop.animation`), and what it drew
becomes one undoable step; hovering or focusing one draws its faded preview. Putting the pen down stops the model at
once and keeps what it drew. In *draw together* mode the model goes on by itself each time the pen lifts, as in the
official predict demo.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.animation import DEFAULT_SPEED, MAX_SPEED, MIN_SPEED, CanvasAnimator
from desktop.canvas import DrawingCanvas
from desktop.commands import AddStrokes, ReplaceDrawing
from desktop.document import MODEL, USER, SketchDocument, Stroke, strokes_from_stroke3
from desktop.icons import suggest_icon
from desktop.inference import LoadedModel
from desktop.render_jobs import submit_rendered
from desktop.suggestions import ContinuationPanel, continuation_shown
from desktop.workers import ModelRunner

__all__ = ["DrawView", "MAX_CONTINUATIONS", "speed_to_slider", "slider_to_speed"]

CONTINUE, SAMPLE, RECONSTRUCT = "continue", "sample", "reconstruct"
MAX_CONTINUATIONS = 12
SPEED_STEPS = 100  # the pen-speed slider's positions, logarithmic from MIN_SPEED to MAX_SPEED


def slider_to_speed(position: int) -> float:
    return float(MIN_SPEED * (MAX_SPEED / MIN_SPEED) ** (position / SPEED_STEPS))


def speed_to_slider(speed: float) -> int:
    speed = min(MAX_SPEED, max(MIN_SPEED, speed))
    return round(SPEED_STEPS * np.log(speed / MIN_SPEED) / np.log(MAX_SPEED / MIN_SPEED))


class DrawView(QWidget):
    """Owns the drawing interactions; the window owns the menus and forwards model, temperature and count."""

    message = Signal(str)
    error = Signal(str, str)
    reconstructed = Signal(object, object)  # original strokes, reconstruction strokes
    penSpeedChanged = Signal(float)
    togetherChanged = Signal(bool)

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
        self._together_for = -1  # the revision a pen lift made, which the model continues in draw-together mode
        self._drawing_index = -1  # the suggestion the model is drawing onto the canvas

        self.canvas = DrawingCanvas(document, self)
        self.canvas.strokeFinished.connect(self.add_user_stroke)
        self.animator = CanvasAnimator(self.canvas, self)
        self.animator.committed.connect(self._keep_drawn)
        self.canvas.strokeStarted.connect(self.animator.yield_to_pen)
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
        self.together = QCheckBox("Draw &together", self)
        self.together.setToolTip("The model goes on drawing each time you lift the pen (put it down to take over)")
        self.together.toggled.connect(self._together_toggled)
        self.speed = QSlider(Qt.Orientation.Horizontal, self)
        self.speed.setRange(0, SPEED_STEPS)
        self.speed.setValue(speed_to_slider(DEFAULT_SPEED))
        self.speed.setAccessibleName("Model pen speed")
        self.speed.setToolTip("How fast the model's pen moves when it draws on the canvas")
        self.speed.setMinimumWidth(40)
        self.speed.valueChanged.connect(self._speed_changed)
        speed_label = QLabel("S&peed:", self)
        speed_label.setBuddy(self.speed)

        controls = QHBoxLayout()
        controls.addWidget(count_label)
        controls.addWidget(self.count)
        controls.addSpacing(8)
        controls.addWidget(self.auto)
        controls.addStretch(1)
        ask = QHBoxLayout()
        ask.addWidget(self.regenerate_button)
        ask.addStretch(1)
        pace = QHBoxLayout()
        pace.addWidget(self.together)
        pace.addSpacing(6)
        pace.addWidget(speed_label)
        pace.addWidget(self.speed, 1)
        side = QWidget(self)
        side.setMinimumWidth(220)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(4, 0, 0, 0)
        side_layout.addLayout(controls)
        side_layout.addLayout(ask)
        side_layout.addLayout(pace)
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

    def set_pen_speed(self, speed: float) -> None:
        self.speed.setValue(speed_to_slider(speed))
        self.animator.speed = min(MAX_SPEED, max(MIN_SPEED, speed))

    def _speed_changed(self, position: int) -> None:
        self.animator.speed = slider_to_speed(position)
        self.penSpeedChanged.emit(self.animator.speed)

    def set_together(self, on: bool) -> None:
        self.together.setChecked(on)

    def _together_toggled(self, on: bool) -> None:
        self.togetherChanged.emit(on)
        if on and not self.document.is_empty():
            self._together_for = self.document.revision  # go on from here at once
            if self._continuations_for == self.document.revision:
                self._continue_together()
            else:
                self.request_continuations()

    def _count_changed(self, count: int) -> None:
        self.panel.set_count(count)
        self._fix_tab_order()
        self._sync_panel()
        self.request_continuations()

    def _fix_tab_order(self) -> None:
        """Tab goes canvas -> count -> auto -> new suggestions -> together -> speed -> each continuation."""
        chain = [self.canvas, self.count, self.auto, self.regenerate_button, self.together, self.speed,
                 *self.panel.thumbnails]
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)

    # drawing ----------------------------------------------------------------------------------------------------------
    def add_user_stroke(self, points: np.ndarray) -> None:
        self.undo_stack.push(AddStrokes(self.document, [Stroke(points, USER)], "Draw stroke"))
        if self.together.isChecked():
            self._together_for = self.document.revision

    def accept_continuation(self, index: int) -> bool:
        """Have the model draw continuation ``index`` onto the canvas (it becomes one undoable step when drawn, or
        when the pen takes over); False if there is none."""
        if self._continuations_for != self.document.revision or not 0 <= index < len(self.continuations):
            return False
        strokes = self.continuations[index]
        if not strokes:
            return False
        self._drawing_index = index
        self.animator.draw(strokes)
        self.message.emit(f"The model is drawing suggestion {index + 1}; put the pen down to take over.")
        return True

    def _keep_drawn(self, strokes: list[Stroke], whole: bool) -> None:
        """What the model drew on the canvas joins the drawing (all of it, or the part drawn before the pen came)."""
        index, self._drawing_index = self._drawing_index, -1
        self.undo_stack.push(AddStrokes(self.document, strokes, "Accept continuation"))
        count = f"{len(strokes)} stroke{'s' if len(strokes) != 1 else ''}"
        what = f"continuation {index + 1}" if whole else "the part the model drew before you took over"
        self.message.emit(f"Added {what} ({count}); Ctrl+Z takes it back.")

    def _continue_together(self) -> None:
        """Draw-together mode: the model draws the first suggestion it finished for the drawing the pen left."""
        if self._together_for != self.document.revision or self.canvas.is_drawing():
            return
        self._together_for = -1
        usable = [i for i, c in enumerate(self.continuations) if c]
        if usable:
            self.accept_continuation(usable[0])

    def _preview(self, index: int) -> None:
        if index >= 0 and self._continuations_for == self.document.revision and index < len(self.continuations):
            self.animator.preview(self.continuations[index])
        else:
            self.animator.stop_preview()

    def _document_changed(self) -> None:
        if self.animator.is_drawing():
            self.animator.cancel()  # the drawing changed under it (undo, open, ...): what it drew belongs to none
        self.animator.stop_preview()
        if self.auto.isChecked() or self._together_for == self.document.revision:
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
        self.animator.stop_preview()
        self.panel.mark_stale()
        self.panel.show_message(f"Asking {model.name} for {n} continuation{'s' if n != 1 else ''}...")
        self.regenerate_button.setEnabled(True)

        def work():
            result = model.continuations(prefix, n, temperature, seed)
            return result, continuation_shown(prefix, result)

        def done(result: list[list[Stroke]]) -> None:
            self.continuations = result
            self._continuations_for = revision
            self.panel.show_continuations(prefix, result)
            usable = sum(1 for c in result if c)
            if usable:
                self.panel.show_message("Click a suggestion (or press Alt+number): the model draws it on your "
                                        "drawing; point at one to preview it.")
                self._continue_together()
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
            self.canvas.fit_to_drawing()
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
