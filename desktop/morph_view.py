"""The Morph tab: slots A and B (and C, D for the grid), a handle between them and a live in-between sketch.

Slots are filled from the drawing, a file, a model sample or by dropping a sketch (a continuation thumbnail, a strip
cell or a file). Each slot is encoded once; moving the handle decodes the slerp of the two latents on the worker,
and a newer handle position drops older requests, so dragging stays smooth.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.canvas_views import SketchThumbnail
from desktop.document import MODEL, USER, strokes_from_stroke3
from desktop.inference import LoadedModel
from desktop.morph import GRID_SIZE, HANDLE_STEPS, SLOTS, STRIP_LENGTH, MorphState
from desktop.morph_slots import SlotWidget, show_sketch
from desktop.painting import inked
from desktop.render_jobs import Shown, submit_rendered
from desktop.square_grid import SquareGrid, SquareRow
from desktop.workers import ModelRunner

__all__ = ["MorphView", "SlotWidget"]

BETWEEN, STRIP, GRID = "morph-between", "morph-strip", "morph-grid"


def _lines(s3: np.ndarray | None, author: str = MODEL):
    """Ink for a slot (the person's sketch: black) or a decoded sketch (the model's colour)."""
    return [] if s3 is None or len(s3) == 0 else inked(strokes_from_stroke3(s3, author))


def _shown(sketches: list[np.ndarray]) -> list[Shown]:
    """What the views show of decoded sketches (built on the worker, with their pictures)."""
    return [Shown(_lines(s), s) for s in sketches]


def _show(view: SketchThumbnail, sketch: np.ndarray | None, author: str = MODEL) -> None:
    show_sketch(view, sketch, author)


class MorphView(QWidget):
    """Binds :class:`MorphState` to widgets and asks the model (through the runner) for in-between sketches.

    The window supplies ``current_drawing()`` and ``open_sketch(path)`` (which may ask the person which sketch of a
    data set they want); ``message`` goes to the status bar, ``error`` to the window's error dialog.
    """

    message = Signal(str)
    error = Signal(str, str)

    def __init__(self, state: MorphState, runner: ModelRunner, parent: QWidget | None = None,
                 seed: int | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.runner = runner
        self.seeds = np.random.default_rng(seed)  # for slot samples; decoding a latent uses a fixed seed
        self.model: LoadedModel | None = None
        self.temperature = 0.5
        self.current_drawing: Callable[[], np.ndarray | None] = lambda: None
        self.open_sketch: Callable[[Path], np.ndarray | None] = lambda path: None
        self.choose_file: Callable[[], Path | None] = lambda: None

        self.slot_widgets: dict[str, list[SlotWidget]] = {name: [] for name in SLOTS}
        tabs = QTabWidget(self)
        tabs.addTab(self._build_pair_page(), "Bet&ween A and B")
        tabs.addTab(self._build_grid_page(), f"&Grid: 4 corners, {GRID_SIZE} x {GRID_SIZE}")
        self.tabs = tabs
        self.notice = QLabel(self)
        self.notice.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(tabs, 1)

        state.changed.connect(self._sync)
        self._sync("slot")

    # layout -----------------------------------------------------------------------------------------------------------
    def _slot(self, name: str) -> SlotWidget:
        widget = SlotWidget(name, self)
        widget.fromDrawing.connect(self._fill_from_drawing)
        widget.fromFile.connect(self._fill_from_file_dialog)
        widget.fromSample.connect(self._fill_from_sample)
        widget.dropped.connect(lambda slot, s3: self.set_slot(slot, s3))
        widget.droppedFile.connect(lambda slot, path: self.fill_from_file(slot, Path(path)))
        self.slot_widgets[name].append(widget)
        return widget

    def _build_pair_page(self) -> QWidget:
        page = QWidget(self)
        middle = QWidget(page)
        self.between_view = SketchThumbnail(middle, caption="In between", placeholder="Fill slots A and B")
        self.between_view.setAccessibleName("In-between sketch")
        self.between_view.setToolTip("The sketch decoded at the handle's position; drag it into a slot")
        self.handle = QSlider(Qt.Orientation.Horizontal, middle)
        self.handle.setRange(0, HANDLE_STEPS)
        self.handle.setValue(self.state.handle)
        self.handle.setPageStep(HANDLE_STEPS // 10)
        self.handle.setAccessibleName("Morph handle from A to B")
        self.handle.setToolTip("Drag from A to B; the in-between sketch follows")
        self.handle.valueChanged.connect(self.move_handle)
        handle_label = QLabel("Hand&le:", middle)
        handle_label.setBuddy(self.handle)
        handle_row = QHBoxLayout()
        handle_row.addWidget(handle_label)
        handle_row.addWidget(QLabel("A", middle))
        handle_row.addWidget(self.handle, 1)
        handle_row.addWidget(QLabel("B", middle))
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.addWidget(self.between_view, 1)
        middle_layout.addLayout(handle_row)

        # A and B themselves at the ends, then the decodes: 0 % and 100 % are A and B as the model redraws them
        # (decoded from their latents), which can look unlike A and B, so they are labelled as such.
        self.strip_views: list[SketchThumbnail] = []
        self.strip_ends: dict[str, SketchThumbnail] = {}
        strip = SquareGrid(page, columns=STRIP_LENGTH + 2, spacing=6, centre_vertically=True)
        strip.setMinimumHeight(72)
        self.strip_ends["A"] = self._strip_end(strip, "A")
        for i in range(STRIP_LENGTH):
            percent = round(100 * i / (STRIP_LENGTH - 1))
            caption = {0: "A redrawn", 100: "B redrawn"}.get(percent, f"{percent} %")
            view = SketchThumbnail(strip, caption=caption)
            what = {0: "A as the model redraws it", 100: "B as the model redraws it"}.get(
                percent, f"{percent} % of the way from A to B")
            view.setAccessibleName(f"Morph strip: {what}")
            view.setToolTip(f"{what} (decoded from the latent): click to move the handle here, drag to a slot")
            view.activated.connect(lambda i=i: self.handle.setValue(round(HANDLE_STEPS * i / (STRIP_LENGTH - 1))))
            strip.add(view)
            self.strip_views.append(view)
        self.strip_ends["B"] = self._strip_end(strip, "B")

        slot_a, slot_b = self._slot("A"), self._slot("B")
        button_height = slot_a.fill_button.sizeHint().height() + 4
        top = SquareRow(page, spacing=12)
        top.add(slot_a, 1.0, button_height)
        top.add(middle, 1.6, self.handle.sizeHint().height() + 6)
        top.add(slot_b, 1.0, button_height)
        layout = QVBoxLayout(page)
        layout.addWidget(top, 3)
        explain = QLabel(f"A, then {STRIP_LENGTH} steps the model decodes from A's latent to B's, then B (click a "
                         "step to move the handle there, drag one into a slot):", page)
        explain.setWordWrap(True)
        layout.addWidget(explain)
        layout.addWidget(strip, 1)
        return page

    def _strip_end(self, strip: SquareGrid, name: str) -> SketchThumbnail:
        view = SketchThumbnail(strip, caption=name)
        view.setAccessibleName(f"Morph strip: slot {name} as drawn")
        view.setToolTip(f"Slot {name} itself, as drawn (not decoded)")
        strip.add(view)
        return view

    def _build_grid_page(self) -> QWidget:
        page = QWidget(self)
        corners = QGridLayout()
        for i, name in enumerate(SLOTS):
            corners.addWidget(self._slot(name), i // 2, i % 2)
        self.grid_button = QPushButton("B&uild grid", page)
        self.grid_button.setToolTip("Decode a grid of sketches between the four corners (bilinear in latent space)")
        self.grid_button.clicked.connect(self.request_grid)
        self.grid_views: list[SketchThumbnail] = []
        grid = SquareGrid(page, columns=GRID_SIZE, spacing=3, centre_vertically=True)
        corner_index = {0: "A redrawn", GRID_SIZE - 1: "B redrawn", GRID_SIZE * (GRID_SIZE - 1): "C redrawn",
                        GRID_SIZE * GRID_SIZE - 1: "D redrawn"}
        for i in range(GRID_SIZE * GRID_SIZE):
            view = SketchThumbnail(grid, caption=corner_index.get(i, ""))
            view.setAccessibleName(f"Grid row {i // GRID_SIZE + 1}, column {i % GRID_SIZE + 1}")
            view.setToolTip("Drag this sketch into a slot, onto the Draw tab or out of the grid")
            grid.add(view)
            self.grid_views.append(view)
        self.grid_placeholder = QLabel(page)
        self.grid_placeholder.setWordWrap(True)
        left = QVBoxLayout()
        left.addLayout(corners, 1)
        left.addWidget(self.grid_button)
        right = QVBoxLayout()
        right.addWidget(self.grid_placeholder)
        right.addWidget(grid, 1)
        layout = QHBoxLayout(page)
        layout.addLayout(left, 2)
        layout.addLayout(right, 3)
        return page

    # inputs -----------------------------------------------------------------------------------------------------------
    def set_model(self, model: LoadedModel | None) -> None:
        for channel in (BETWEEN, STRIP, GRID):
            self.runner.cancel(channel)
        self.model = model
        self.state.forget_latents()
        self.refresh()

    def set_temperature(self, value: float) -> None:
        if abs(value - self.temperature) < 1e-9:
            return
        self.temperature = value
        self.refresh()

    def set_slot(self, name: str, s3: np.ndarray | None) -> None:
        self.state.set_slot(name, s3)
        if name in ("A", "B"):
            self.refresh()

    def _fill_from_drawing(self, name: str) -> None:
        drawing = self.current_drawing()
        if drawing is None:
            self.message.emit("The drawing is empty: draw something first.")
            return
        self.set_slot(name, drawing)

    def _fill_from_file_dialog(self, name: str) -> None:
        path = self.choose_file()
        if path is not None:
            self.fill_from_file(name, path)

    def fill_from_file(self, name: str, path: Path) -> None:
        sketch = self.open_sketch(path)
        if sketch is not None:
            self.set_slot(name, sketch)

    def _fill_from_sample(self, name: str) -> None:
        model = self.model
        if model is None:
            self.message.emit("No model loaded: cannot sample.")
            return
        temperature = self.temperature
        seed = int(self.seeds.integers(2**31 - 1))
        self.runner.submit(
            f"morph-sample-{name}",
            lambda: model.sample(temperature, seed),
            lambda s3: self.set_slot(name, s3),
            lambda message: self.error.emit("Sampling failed", message),
        )

    def move_handle(self, value: int) -> None:
        self.state.set_handle(value)
        self.request_between()

    # model requests -------------------------------------------------------------------------------------------------
    def _can_morph(self, *names: str) -> bool:
        return self.model is not None and self.model.conditional and self.state.filled(*names)

    def _encode_job(self, names: tuple[str, ...]):
        """What a job needs to encode the slots whose latents are not cached yet (copied now, on the GUI thread)."""
        model = self.model
        todo = {n: (self.state.revisions[n], self.state.slots[n]) for n in self.state.missing_latents(*names)}
        known = {n: self.state.latents[n] for n in names if n in self.state.latents}

        def latents() -> tuple[dict[str, np.ndarray], dict[str, tuple[int, np.ndarray]]]:
            fresh = {n: (rev, model.encode(s3)) for n, (rev, s3) in todo.items()}
            return {**known, **{n: z for n, (_, z) in fresh.items()}}, fresh

        return latents

    def _keep_latents(self, fresh: dict[str, tuple[int, np.ndarray]]) -> bool:
        """Cache fresh latents; False if any slot changed meanwhile (the result is then stale)."""
        ok = True
        for name, (revision, z) in fresh.items():
            ok &= self.state.store_latent(name, revision, z)
        return ok

    def _submit(self, channel: str, names: tuple[str, ...], views: list[SketchThumbnail], decode, accept,
                failed: str) -> None:
        """Encode what is missing and ``decode(latents) -> sketches`` on the worker (with the views' pictures);
        ``accept(sketches)`` runs on the GUI thread unless a slot changed meanwhile."""
        latents = self._encode_job(names)
        revisions = tuple(self.state.revisions[n] for n in names)

        def work():
            z, fresh = latents()
            sketches = decode(z)
            return (fresh, sketches), _shown(sketches)

        def wanted(result) -> bool:
            fresh, _ = result
            return self._keep_latents(fresh) and revisions == tuple(self.state.revisions[n] for n in names)

        submit_rendered(self.runner, channel, views, work, wanted, lambda result: accept(result[1]),
                        lambda m: self.error.emit(failed, m))

    def request_between(self) -> None:
        if not self._can_morph("A", "B"):
            return
        model, temperature, handle = self.model, self.temperature, self.state.handle
        self._submit(BETWEEN, ("A", "B"), [self.between_view],
                     lambda z: [model.decode(model.interpolate_z(z["A"], z["B"], HANDLE_STEPS + 1)[handle],
                                             temperature)],
                     lambda sketches: self.state.set_between(handle, sketches[0]), "Morph failed")

    def request_strip(self) -> None:
        if not self._can_morph("A", "B"):
            return
        model, temperature = self.model, self.temperature
        self._submit(STRIP, ("A", "B"), self.strip_views,
                     lambda z: model.decode_many(model.interpolate_z(z["A"], z["B"], STRIP_LENGTH), temperature),
                     self.state.set_strip, "Morph strip failed")

    def request_grid(self) -> None:
        if not self._can_morph(*SLOTS):
            self.message.emit("Fill all four slots (A, B, C, D) and load a model with an encoder to build the grid.")
            return
        model, temperature = self.model, self.temperature

        def decode(z):
            grid = model.grid_z([z[n] for n in SLOTS], GRID_SIZE)
            return model.decode_many(grid.reshape(-1, grid.shape[-1]), temperature)

        def accept(sketches):
            self.state.set_grid(sketches)
            self.message.emit(f"Grid ready: {len(sketches)} sketches between A, B, C and D "
                              f"(temperature {temperature:.2f}).")

        self.message.emit("Building the grid...")
        self._submit(GRID, SLOTS, self.grid_views, decode, accept, "Morph grid failed")

    def refresh(self) -> None:
        """Ask for the in-between and the strip again (slots, model or temperature changed)."""
        self._sync("slot")
        self.request_between()
        self.request_strip()

    # state -> widgets -------------------------------------------------------------------------------------------------
    def _sync(self, what: str) -> None:
        state = self.state
        if what == "slot":
            for name, widgets in self.slot_widgets.items():
                for widget in widgets:
                    widget.show_sketch(state.slots[name])
        _show(self.between_view, state.between)
        shown_at = state.between_handle if state.between is not None else None
        self.between_view.caption = ("In between" if shown_at is None
                                     else f"In between: {round(100 * shown_at / HANDLE_STEPS)} % of the way to B")
        if state.between is not None and len(state.between) == 0:
            self.between_view.set_placeholder("(the model ends this sketch at once)")
        elif not state.filled("A", "B"):
            self.between_view.set_placeholder("Fill slots A and B")
        else:
            self.between_view.set_placeholder("")
        for name, view in self.strip_ends.items():
            _show(view, state.slots[name], USER)
        for i, view in enumerate(self.strip_views):
            _show(view, state.strip[i] if i < len(state.strip) else None)
        for i, view in enumerate(self.grid_views):
            _show(view, state.grid[i] if i < len(state.grid) else None)
        has_model = self.model is not None
        for widgets in self.slot_widgets.values():
            for widget in widgets:
                widget.sample_action.setEnabled(has_model)
        can = has_model and self.model.conditional
        self.handle.setEnabled(can)
        self.grid_button.setEnabled(can)
        if state.grid:
            self.grid_placeholder.setText("A (top left), B (top right), C and D (bottom) as the model redraws them, "
                                          "and the sketches decoded between them.")
        elif not state.filled(*SLOTS):
            missing = ", ".join(n for n in SLOTS if not state.filled(n))
            self.grid_placeholder.setText(f"Fill the four corner slots (missing: {missing}), then press Build grid.")
        else:
            self.grid_placeholder.setText(f"Press Build grid to decode {GRID_SIZE} x {GRID_SIZE} sketches between the "
                                          "corners A, B, C and D.")
        if not has_model:
            self.notice.setText("No model loaded: you can fill the slots, morphing needs a model.")
        elif not self.model.conditional:
            self.notice.setText(f"{self.model.name} is decoder-only: morphing needs a model with an encoder "
                                "(an official model: its .vae version).")
        elif not state.filled("A", "B"):
            self.notice.setText("Fill slots A and B (draw, open, sample or drop a sketch), then drag the handle.")
        else:
            self.notice.setText("Drag the handle: the in-between sketch is decoded from the slerp of A's and B's "
                                "latents.")
