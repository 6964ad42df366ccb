"""The main window: menus, toolbar, status bar, the Draw / Replay / Morph tabs and the model dock.

It owns the pure-Python state (drawing, replay, morph), the undo stack and the model runner, and wires them to the
views. Every error a person can cause goes through :meth:`MainWindow.show_error`, which emits ``errorShown`` (tests
listen there) and opens a non-blocking message box naming the file and the problem.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from shiboken6 import isValid
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStyle,
    QTabWidget,
    QToolBar,
    QToolButton,
)

from desktop import inference
from desktop.autosave import Autosave
from desktop.busy import BusyIndicator
from desktop.canvas import sketch_from_mime
from desktop.commands import ReplaceDrawing
from desktop.dialogs import ExportDialog, SketchPickerDialog, model_info_html
from desktop.document import MODEL, USER, SketchDocument, Stroke, strokes_from_stroke3
from desktop.draw_view import DrawView
from desktop.exporting import Picture, export_gif, export_png, export_svg
from desktop.icons import export_icon, reconstruct_icon, sample_icon, suggest_icon
from desktop.model_catalog import ModelEntry, default_model, discover_models, is_model_folder, resolve_model
from desktop.model_panel import ModelPanel, TemperatureControl
from desktop.morph import GRID_SIZE, MorphState
from desktop.morph_view import MorphView
from desktop.painting import InkLine, inked, user_and_model
from desktop.replay import ReplayItem, ReplayState
from desktop.replay_view import ReplayView
from desktop.settings import AppSettings
from desktop.sketch_io import (
    OPEN_FILTER,
    SAVE_FILTERS,
    SKETCH_SUFFIXES,
    SketchChoice,
    read_sketch_file,
    write_sketch_file,
)
from desktop.workers import ModelRunner
from sketchgen.errors import ModelError, SketchGenError

__all__ = ["MainWindow", "APP_TITLE"]

APP_TITLE = "SketchGen"
DRAW_TAB, REPLAY_TAB, MORPH_TAB = 0, 1, 2
STATUS_MS = 6000


def _model_ink(s3: np.ndarray) -> list[InkLine]:
    """A decoded sketch in the model's colour (nothing for an empty one)."""
    return inked(strokes_from_stroke3(s3, MODEL)) if len(s3) else []


class MainWindow(QMainWindow):
    errorShown = Signal(str, str)  # title, message: the seam tests observe (the dialog itself never blocks)
    _autosaveFailed = Signal(str)  # from the autosave's writer thread (queued to the GUI thread)
    modelLoaded = Signal(str)  # folder
    modelFailed = Signal(str)  # message

    def __init__(self, settings: AppSettings | None = None, autosave: Autosave | None = None,
                 seed: int | None = None) -> None:
        """``seed`` makes every model call of this window reproducible (tests, screenshots); None: fresh noise."""
        super().__init__()
        self.seed = seed
        self.settings = settings or AppSettings()
        self.autosave = autosave or Autosave()
        self._autosaveFailed.connect(self._autosave_failed_message, Qt.ConnectionType.QueuedConnection)
        self.autosave.on_error = self._autosaveFailed.emit
        self.document = SketchDocument()
        self.undo_stack = QUndoStack(self)
        self.runner = ModelRunner(self)
        self.replay_state = ReplayState()
        self.morph_state = MorphState()
        self.model: inference.LoadedModel | None = None
        self.model_entries: list[ModelEntry] = []
        self.current_file: Path | None = None
        self.loading_model: str | None = None
        self.last_error_box: QMessageBox | None = None
        self._autosave_failed = False

        self.setAcceptDrops(True)
        self._build_views()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self.busy = BusyIndicator(self)
        self.runner.busyChanged.connect(self.busy.set_busy)
        self.statusBar().addPermanentWidget(self.busy)
        self.model_label = QLabel(self)
        self.model_label.setContentsMargins(6, 0, 6, 0)
        self.statusBar().addPermanentWidget(self.model_label)

        self.document.changed.connect(self._document_changed)
        # These two can fire while Qt tears the window down (children go first), hence the liveness guard.
        self.undo_stack.cleanChanged.connect(lambda clean: isValid(self) and self._update_title())
        self.tabs.currentChanged.connect(lambda index: isValid(self) and self._tab_changed(index))

        self.temperature.set_value(self.settings.temperature())
        self.draw_view.set_count(self.settings.continuation_count())
        self._restore_geometry()
        self._set_model(None)
        self._update_title()

    # construction -----------------------------------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.draw_view = DrawView(self.document, self.undo_stack, self.runner, self, seed=self.seed)
        self.replay_view = ReplayView(self.replay_state, self)
        self.morph_view = MorphView(self.morph_state, self.runner, self, seed=None if self.seed is None else self.seed + 1)
        self.morph_view.current_drawing = self.document.to_stroke3
        self.morph_view.open_sketch = self.read_one_sketch
        self.morph_view.choose_file = self._choose_open_path
        for view in (self.draw_view, self.morph_view):
            view.message.connect(self.show_status)
            view.error.connect(self.show_error)
        self.draw_view.reconstructed.connect(self._show_reconstruction)
        self.draw_view.count.valueChanged.connect(self.settings.set_continuation_count)

        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.draw_view, "&Draw")
        self.tabs.addTab(self.replay_view, "&Replay")
        self.tabs.addTab(self.morph_view, "Mor&ph")
        self.setCentralWidget(self.tabs)

        self.model_panel = ModelPanel(self)
        self.model_panel.modelChosen.connect(self.load_model)
        self.model_panel.addFolderRequested.connect(self.add_model_folder_dialog)
        self.model_dock = QDockWidget("Model", self)
        self.model_dock.setObjectName("model-dock")
        self.model_dock.setWidget(self.model_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.model_dock)

        self.temperature = TemperatureControl(0.5, self)
        self.temperature.valueChanged.connect(self._temperature_changed)

    def _action(self, text: str, slot, shortcut=None, icon: QStyle.StandardPixmap | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        sp, key = QStyle.StandardPixmap, QKeySequence.StandardKey
        self.new_action = self._action("&New", self.new_drawing, key.New, sp.SP_FileIcon, "Start a new drawing")
        self.open_action = self._action("&Open...", self.open_dialog, key.Open, sp.SP_DialogOpenButton, "Open a sketch file")
        self.save_action = self._action("&Save", self.save, key.Save, sp.SP_DialogSaveButton, "Save the drawing")
        self.save_as_action = self._action("Save &As...", self.save_as, key.SaveAs, None, "Save the drawing under a new name")
        self.export_png_action = self._action("Export &PNG...", lambda: self.export_dialog("PNG"), "Ctrl+E", None,
                                              "Export the drawing, continuations or morphs as a PNG image")
        self.export_svg_action = self._action("Export S&VG...", lambda: self.export_dialog("SVG"), "Ctrl+Shift+E", None,
                                              "Export as SVG vector paths")
        self.export_gif_action = self._action("Export animated &GIF...", lambda: self.export_dialog("GIF"), "Ctrl+Alt+E",
                                              None, "Export a replay as an animated GIF")
        self.quit_action = self._action("&Quit", self.close, key.Quit, None, "Quit SketchGen")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence(key.Undo))
        self.undo_action.setIcon(self.style().standardIcon(sp.SP_ArrowBack))
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence(key.Redo))
        self.redo_action.setIcon(self.style().standardIcon(sp.SP_ArrowForward))
        self.clear_action = self._action("&Clear", self.clear_drawing, "Ctrl+Delete", sp.SP_DialogResetButton,
                                         "Clear the drawing (undoable)")

        self.sample_action = self._action("Random &sample", self.draw_view.random_sample, "Ctrl+R", None,
                                          "Replace the drawing with a sample from the model (Ctrl+R)")
        self.sample_action.setIcon(sample_icon())
        self.reconstruct_action = self._action("Re&construct", self.draw_view.reconstruct, "Ctrl+Shift+R", None,
                                               "Encode and decode the drawing; replay both side by side (Ctrl+Shift+R)")
        self.reconstruct_action.setIcon(reconstruct_icon())
        self.suggest_action = self._action("&New suggestions", self.draw_view.request_continuations, key.Refresh, None,
                                           "Ask the model for new continuations (F5)")
        self.suggest_action.setIcon(suggest_icon())
        self.export_png_action.setIcon(export_icon())
        self.add_model_action = self._action("&Add model folder...", self.add_model_folder_dialog, None, None,
                                             "Add an exported model folder to the list")
        self.model_info_action = self._action("Model &information...", self.show_model_info, "Ctrl+I", None,
                                              "The model's card: data set, license, losses, steps")
        self.model_actions = QActionGroup(self)
        self.model_actions.setExclusive(True)

        self.replay_drawing_action = self._action("Replay the &drawing", self.replay_drawing, "Ctrl+Shift+P", None,
                                                  "Replay the drawing point by point")
        self.tab_actions = []
        for index, name in enumerate(("&Draw", "&Replay", "&Morph")):
            self.tab_actions.append(self._action(name, lambda i=index: self.tabs.setCurrentIndex(i), f"Ctrl+{index + 1}"))
        self.full_screen_action = self._action("&Full screen", self._toggle_full_screen, key.FullScreen)
        self.about_action = self._action("&About SketchGen", self.show_about, key.HelpContents)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        file_menu.addActions([self.save_action, self.save_as_action])
        file_menu.addSeparator()
        file_menu.addActions([self.export_png_action, self.export_svg_action, self.export_gif_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.undo_action, self.redo_action])
        edit_menu.addSeparator()
        edit_menu.addAction(self.clear_action)

        self.model_menu = bar.addMenu("&Model")
        self._fill_model_menu()

        view_menu = bar.addMenu("&View")
        view_menu.addActions(self.tab_actions)
        view_menu.addSeparator()
        view_menu.addAction(self.replay_drawing_action)
        toggle = self.model_dock.toggleViewAction()
        toggle.setText("&Model panel")
        toggle.setShortcut(QKeySequence("Ctrl+M"))
        view_menu.addAction(toggle)
        view_menu.addAction(self.full_screen_action)

        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.model_info_action, self.about_action])

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main", self)
        bar.setObjectName("main-toolbar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.addActions([self.new_action, self.open_action, self.save_action])
        bar.addSeparator()
        # The menu's Undo/Redo name the step ("Undo Draw stroke"); the toolbar keeps short, steady labels.
        bar.addAction(self._steady_action(bar, "Undo", self.undo_action, self.undo_stack.canUndoChanged))
        bar.addAction(self._steady_action(bar, "Redo", self.redo_action, self.undo_stack.canRedoChanged))
        bar.addAction(self.clear_action)
        bar.addSeparator()
        bar.addActions([self.sample_action, self.reconstruct_action])
        bar.addSeparator()
        bar.addAction(self.export_png_action)
        bar.addSeparator()
        bar.addWidget(self.temperature)
        self.export_png_action.setIconText("Export")
        # File and edit buttons show only their (standard, familiar) icons, so the model's actions and the
        # temperature keep their words and fit beside them in an 800-pixel-wide window.
        for action in bar.actions()[:7]:
            button = bar.widgetForAction(action)
            if isinstance(button, QToolButton):
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.addToolBar(bar)
        self.toolbar = bar

    def _steady_action(self, parent: QToolBar, text: str, menu_action: QAction, enabled_changed) -> QAction:
        """A toolbar twin of ``menu_action`` with a fixed label, enabled whenever the menu action is."""
        action = QAction(menu_action.icon(), text, parent)
        action.setToolTip(f"{text} ({menu_action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
        action.triggered.connect(menu_action.trigger)
        action.setEnabled(menu_action.isEnabled())
        enabled_changed.connect(action.setEnabled)
        return action

    def _fill_model_menu(self) -> None:
        menu = self.model_menu
        menu.clear()
        for action in self.model_actions.actions():
            self.model_actions.removeAction(action)
        if not self.model_entries:
            none = menu.addAction("(no models found)")
            none.setEnabled(False)
        for entry in self.model_entries:
            action = QAction(entry.name if entry.shipped else f"{entry.name} (added)", self)
            action.setCheckable(True)
            action.setData(str(entry.path))
            action.setToolTip(str(entry.path))
            action.setChecked(self.model is not None and Path(self.model.path) == entry.path)
            action.triggered.connect(lambda checked=False, p=str(entry.path): self.load_model(p))
            self.model_actions.addAction(action)
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.add_model_action)
        menu.addSeparator()
        menu.addActions([self.sample_action, self.reconstruct_action, self.suggest_action])
        menu.addSeparator()
        menu.addAction(self.model_info_action)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.settings.recent_files()
        for i, path in enumerate(files):
            action = self.recent_menu.addAction(f"&{i + 1} {Path(path).name}" if i < 9 else Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda checked=False, p=path: self.open_file(p))
        if not files:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("&Clear list", self._clear_recent)

    def _clear_recent(self) -> None:
        self.settings.clear_recent_files()
        self._fill_recent_menu()

    # start-up -----------------------------------------------------------------------------------------------------------
    def start_up(self, model_spec: str | None = None, file: str | None = None) -> None:
        """Everything after the first paint: restore the autosave, open ``file``, find and load the model."""
        self.restore_autosave()
        if file:
            self.open_file(file)
        self.refresh_models()
        target: str | None = None
        if model_spec:
            try:
                target = str(resolve_model(model_spec, self.model_entries))
            except ModelError as exc:
                self.show_error("Cannot load model", str(exc))
                self._set_model(None)
                return
        else:
            last = self.settings.last_model()
            if last and is_model_folder(Path(last)):
                target = last
            else:
                entry = default_model(self.model_entries)
                target = str(entry.path) if entry else None
        if target is None:
            self.model_label.setText("No model (none found under assets/models)")
            self.model_label.setToolTip("Drawing, replay and export work; model features are off until a model is added.")
            if not self.statusBar().currentMessage():
                self.show_status("No model found under assets/models: drawing, replay and export work; "
                                 "model features are off.", 0)
            return
        self.load_model(target)

    def restore_autosave(self) -> bool:
        try:
            restored = self.autosave.load()
        except SketchGenError as exc:
            self.show_error("Cannot restore the last drawing", str(exc))
            return False
        if restored is None or not restored.strokes:
            return False
        self.document.replace(restored.strokes)
        self.undo_stack.clear()
        if restored.file and Path(restored.file).exists():
            self.current_file = Path(restored.file)
        self._update_title()
        self.show_status(f"Restored the drawing from the last session ({len(restored.strokes)} strokes).")
        return True

    def _restore_geometry(self) -> None:
        geometry = self.settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1200, 800)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)

    # model ------------------------------------------------------------------------------------------------------------
    def refresh_models(self) -> None:
        self.model_entries = discover_models(self.settings.model_folders())
        active = str(self.model.path) if self.model else None
        self.model_panel.set_entries(self.model_entries, active)
        self._fill_model_menu()

    def load_model(self, folder: str) -> None:
        """Load ``folder`` on the worker; the current model stays in use until the new one is ready."""
        self.loading_model = folder
        self.model_panel.show_card(folder, "Loading...")
        if self.model is None:
            self.draw_view.panel.show_message(f"Loading the model {Path(folder).name}...")
        self.runner.submit(
            "load",
            lambda: inference.load(folder),
            self._model_ready,
            lambda message: self._model_failed(folder, message),
        )

    def _model_ready(self, model: inference.LoadedModel) -> None:
        self.loading_model = None
        self._set_model(model)
        self.settings.set_last_model(str(model.path))
        if not self.statusBar().currentMessage():  # keep e.g. "Restored the drawing..." readable at start-up
            self.show_status(f"Model {model.name} loaded, running on {model.provider_label}.")
        self.modelLoaded.emit(str(model.path))

    def _model_failed(self, folder: str, message: str) -> None:
        self.loading_model = None
        self.show_error("Cannot load model", message)
        self.model_panel.show_failure(folder, message, self.model.name if self.model else None)
        self.model_panel.set_active(str(self.model.path) if self.model else None)
        self._set_model_label()
        self._fill_model_menu()
        if self.model is None:
            self.show_status("No model loaded: drawing, replay and export still work.", 0)
        self.modelFailed.emit(message)

    def _set_model(self, model: inference.LoadedModel | None) -> None:
        self.model = model
        self.draw_view.set_model(model)
        self.morph_view.set_model(model)
        has = model is not None
        for action in (self.sample_action, self.suggest_action, self.model_info_action):
            action.setEnabled(has)
        self.reconstruct_action.setEnabled(has and model.conditional)
        if has:
            self.model_panel.set_active(str(model.path))
            self.model_panel.show_card(str(model.path), "Loaded", model.provider_label, model.card)
        self._set_model_label()
        self._fill_model_menu()

    def _set_model_label(self) -> None:
        model = self.model
        if model is not None:
            self.model_label.setText(f"Model: {model.name} ({model.provider_label})")
            self.model_label.setToolTip(f"{model.path}\nRuns with ONNX Runtime on {model.provider}")
        else:
            self.model_label.setText("No model")
            self.model_label.setToolTip("Drawing, replay and export work; model features are off until a model loads.")

    def add_model_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a model folder", self.settings.last_folder())
        if folder:
            self.add_model_folder(folder)

    def add_model_folder(self, folder: str) -> bool:
        """Remember ``folder`` (a model folder, or a folder of them) and load the first model in it."""
        found = discover_models([folder], shipped_dir=Path(folder) / "__none__")
        if not found:
            self.show_error("Not a model folder", str(ModelError(folder, "has no model.json (nor sub-folders with one)")))
            return False
        folders = self.settings.model_folders()
        if folder not in folders:
            self.settings.set_model_folders(folders + [folder])
        self.refresh_models()
        self.load_model(str(found[0].path))
        return True

    def show_model_info(self) -> None:
        model = self.model
        if model is None:
            self.show_status("No model loaded.")
            return
        box = QMessageBox(QMessageBox.Icon.Information, f"Model {model.name}", "", QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(model_info_html(model.name, str(model.path), model.provider_label, model.facts(), model.license()))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _temperature_changed(self, value: float) -> None:
        self.settings.set_temperature(value)
        self.draw_view.set_temperature(value)
        self.morph_view.set_temperature(value)

    # messages ---------------------------------------------------------------------------------------------------------
    def show_status(self, text: str, msecs: int = STATUS_MS) -> None:
        self.statusBar().showMessage(text, msecs)

    def show_error(self, title: str, message: str) -> None:
        """The one place errors reach the person: a status line and a non-blocking message box."""
        self.errorShown.emit(title, message)
        self.show_status(f"{title}: {message}", 0)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.last_error_box = box

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About SketchGen",
            "<h3>SketchGen</h3><p>Draw together with a sketch-rnn model (Ha &amp; Eck 2017): the model continues "
            "your strokes, samples, reconstructs and morphs sketches. Models run with ONNX Runtime.</p>"
            "<p>Each model's data set license is under Help &gt; Model information.</p>",
        )

    # drawing ----------------------------------------------------------------------------------------------------------
    def _document_changed(self) -> None:
        self._update_title()
        try:
            self.autosave.save(self.document.strokes, str(self.current_file) if self.current_file else None)
        except (SketchGenError, OSError) as exc:
            self._autosave_failed_message(str(exc))

    def _autosave_failed_message(self, message: str) -> None:
        """Told once (not after every stroke) until the app is restarted."""
        if isValid(self) and not self._autosave_failed:
            self._autosave_failed = True
            self.show_error("Autosave failed", message)

    def _update_title(self) -> None:
        name = self.current_file.name if self.current_file else "Untitled"
        self.setWindowTitle(f"{name}[*] - {APP_TITLE}")
        self.setWindowModified(not self.undo_stack.isClean() and not self.document.is_empty())

    def new_drawing(self) -> None:
        """An empty drawing; the old one stays on the undo stack (and the autosave follows the new one)."""
        if not self.document.is_empty():
            self.undo_stack.push(ReplaceDrawing(self.document, [], "New drawing"))
        self.current_file = None
        self.undo_stack.setClean()
        self._update_title()
        self.tabs.setCurrentIndex(DRAW_TAB)

    def clear_drawing(self) -> None:
        if not self.document.is_empty():
            self.undo_stack.push(ReplaceDrawing(self.document, [], "Clear"))

    def set_drawing(self, strokes: list[Stroke], text: str) -> None:
        self.undo_stack.push(ReplaceDrawing(self.document, strokes, text))

    def replay_drawing(self) -> None:
        if self.document.is_empty():
            self.show_status("The drawing is empty: nothing to replay.")
            return
        self.replay_state.load([ReplayItem("Drawing", list(self.document.strokes))])
        self.tabs.setCurrentIndex(REPLAY_TAB)

    def _show_reconstruction(self, original: list[Stroke], reconstruction: list[Stroke]) -> None:
        self.replay_state.load([ReplayItem("Original", original), ReplayItem("Reconstruction", reconstruction)])
        self.tabs.setCurrentIndex(REPLAY_TAB)

    def _tab_changed(self, index: int) -> None:
        if index == REPLAY_TAB and not self.replay_state.items and not self.document.is_empty():
            self.replay_state.load([ReplayItem("Drawing", list(self.document.strokes))])

    def _toggle_full_screen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    # files ------------------------------------------------------------------------------------------------------------
    def _choose_open_path(self) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a sketch", self.settings.last_folder(), OPEN_FILTER)
        if path:
            self.settings.set_last_folder(str(Path(path).parent))
        return Path(path) if path else None

    def open_dialog(self) -> None:
        path = self._choose_open_path()
        if path is not None:
            self.open_file(path)

    def _pick(self, path: str | Path, choice: int | None) -> tuple[SketchChoice, bool] | None:
        """The sketch the person wants from ``path`` and whether it is the file's only one (asks which when the
        file holds several, unless ``choice`` says); None after an error (already shown) or a cancel."""
        try:
            opened = read_sketch_file(path)
        except SketchGenError as exc:
            self.show_error("Cannot open file", str(exc))
            return None
        if choice is None and len(opened.choices) > 1:
            dialog = SketchPickerDialog(opened, self)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            choice = dialog.chosen()
        choice = 0 if choice is None else choice
        if not 0 <= choice < len(opened.choices):
            self.show_error("Cannot open file", f"{path}: has sketches 0 to {len(opened.choices) - 1}, not {choice}")
            return None
        if opened.skipped:
            self.show_status(f"{len(opened.skipped)} lines of {Path(path).name} could not be read and were skipped.")
        return opened.choices[choice], len(opened.choices) == 1

    def read_one_sketch(self, path: str | Path, choice: int | None = None) -> np.ndarray | None:
        """The stroke-3 sketch the person picks from ``path`` (morph slots use this), or None."""
        picked = self._pick(path, choice)
        return None if picked is None else picked[0].strokes

    def open_file(self, path: str | Path, choice: int | None = None) -> bool:
        """Open a sketch file into the drawing (undoable). ``choice`` picks a sketch of a data set without asking."""
        path = Path(path)
        picked = self._pick(path, choice)
        if picked is None:
            return False
        sketch, only_one = picked
        strokes = strokes_from_stroke3(sketch.strokes, USER)
        authors = sketch.metadata.get("authors")
        if isinstance(authors, list) and len(authors) == len(strokes):
            strokes = [Stroke(s.points, a if a in (USER, MODEL) else USER) for s, a in zip(strokes, authors)]
        self.set_drawing(strokes, f"Open {path.name}")
        # A data set is never overwritten by Save: only single-sketch files become the current file.
        self.current_file = path if only_one else None
        self.undo_stack.setClean()
        self._update_title()
        self.settings.add_recent_file(str(path))
        self._fill_recent_menu()
        self.tabs.setCurrentIndex(DRAW_TAB)
        self.show_status(f"Opened {path.name} ({len(sketch.strokes)} points).")
        return True

    def save(self) -> bool:
        if self.current_file is None:
            return self.save_as()
        return self.save_to(self.current_file)

    def save_as(self) -> bool:
        if self.document.is_empty():
            self.show_status("The drawing is empty: nothing to save.")
            return False
        start = str(self.current_file) if self.current_file else self.settings.last_folder()
        path, chosen = QFileDialog.getSaveFileName(self, "Save the drawing", start, ";;".join(SAVE_FILTERS))
        if not path:
            return False
        file = Path(path)
        if file.suffix.lower() not in SKETCH_SUFFIXES:
            file = file.with_suffix(SAVE_FILTERS.get(chosen, ".json"))
        self.settings.set_last_folder(str(file.parent))
        return self.save_to(file)

    def save_to(self, path: str | Path) -> bool:
        """Write the drawing to ``path`` in the format its extension names; errors are shown, never raised."""
        path = Path(path)
        s3 = self.document.to_stroke3()
        if s3 is None:
            self.show_status("The drawing is empty: nothing to save.")
            return False
        metadata = {"authors": self.document.authors(), "app": "sketchgen"}
        try:
            write_sketch_file(path, s3, metadata)
        except SketchGenError as exc:
            self.show_error("Cannot save", str(exc))
            return False
        self.current_file = path
        self.undo_stack.setClean()
        self._update_title()
        self.settings.add_recent_file(str(path))
        self._fill_recent_menu()
        self._document_changed()  # the autosave now names the file
        self.show_status(f"Saved {path.name}.")
        return True

    # drag and drop ----------------------------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        mime = event.mimeData()
        if sketch_from_mime(mime) is not None or any(u.isLocalFile() for u in mime.urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        mime = event.mimeData()
        sketch = sketch_from_mime(mime)
        if sketch is not None:
            self.set_drawing(strokes_from_stroke3(sketch, USER), "Drop sketch")
            self.tabs.setCurrentIndex(DRAW_TAB)
            event.acceptProposedAction()
            return
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            # Open after the drop finishes, so a picker dialog never runs inside the drag-and-drop loop.
            QTimer.singleShot(0, lambda: self.open_file(files[0]))

    # export -----------------------------------------------------------------------------------------------------------
    def export_targets(self) -> dict[str, str]:
        """What can be exported now (key -> label), only things that have strokes."""
        targets: dict[str, str] = {}
        if not self.document.is_empty():
            targets["drawing"] = "The drawing"
        if any(self.draw_view.continuations):
            targets["continuations"] = "The continuation grid"
        for i, item in enumerate(self.replay_state.items):
            targets[f"replay{i}"] = f"Replay: {item.label}"
        if self.morph_state.between is not None and len(self.morph_state.between):
            targets["morph-between"] = "Morph: the in-between sketch"
        if any(len(s) for s in self.morph_state.strip):
            targets["morph-strip"] = "Morph: the strip from A to B"
        if any(len(s) for s in self.morph_state.grid):
            targets["morph-grid"] = "Morph: the 2x2 grid"
        return targets

    def picture(self, target: str) -> Picture:
        """The :class:`Picture` for an export target; SketchGenError when there is nothing to export."""
        if target == "drawing" and not self.document.is_empty():
            return Picture([inked(self.document.strokes)])
        if target == "continuations" and any(self.draw_view.continuations):
            prefix = list(self.document.strokes)
            cells = [user_and_model(prefix, c) for c in self.draw_view.continuations]
            return Picture(cells, 2 if len(cells) <= 4 else 3)
        if target.startswith("replay") and target[6:].isdigit() and int(target[6:]) < len(self.replay_state.items):
            return Picture([inked(self.replay_state.items[int(target[6:])].strokes)])
        if target == "morph-between" and self.morph_state.between is not None:
            return Picture([_model_ink(self.morph_state.between)])
        if target == "morph-strip" and self.morph_state.strip:
            return Picture([_model_ink(s) for s in self.morph_state.strip], len(self.morph_state.strip))
        if target == "morph-grid" and self.morph_state.grid:
            return Picture([_model_ink(s) for s in self.morph_state.grid], GRID_SIZE)
        raise SketchGenError(f"nothing to export for {target!r}: it is empty")

    def export_dialog(self, kind: str) -> None:
        targets = self.export_targets()
        if kind == "GIF":
            targets = {k: v for k, v in targets.items() if k == "drawing" or k.startswith("replay") or k == "morph-between"}
        if not targets:
            self.show_status("Nothing to export yet: draw, open or sample a sketch first.")
            return
        default = {DRAW_TAB: "drawing", REPLAY_TAB: "replay0", MORPH_TAB: "morph-strip"}[self.tabs.currentIndex()]
        dialog = ExportDialog(kind, targets, default, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        options = dialog.options()
        suffix = kind.lower()
        start = str(Path(self.settings.last_folder() or ".") / f"{options.target}.{suffix}")
        path, _ = QFileDialog.getSaveFileName(self, f"Export {kind}", start, f"{kind} image (*.{suffix})")
        if not path:
            return
        file = Path(path) if path.lower().endswith(f".{suffix}") else Path(f"{path}.{suffix}")
        self.settings.set_last_folder(str(file.parent))
        self.export(kind, file, options.target, options.cell, options.transparent)

    def export(self, kind: str, path: str | Path, target: str = "drawing", cell: int = 512, transparent: bool = False) -> bool:
        """Export ``target`` as ``kind`` ("PNG", "SVG" or "GIF") to ``path``; errors are shown, never raised."""
        path = Path(path)
        try:
            picture = self.picture(target)
            if kind == "PNG":
                export_png(path, picture, cell, transparent)
            elif kind == "SVG":
                export_svg(path, picture, cell, transparent, title=target)
            elif kind == "GIF":
                frames = export_gif(path, picture.cells[0], cell, transparent)
                self.show_status(f"Exported {path.name} ({frames} frames).")
                return True
            else:
                raise SketchGenError(f"unknown export format {kind!r}")
        except SketchGenError as exc:
            self.show_error(f"Cannot export {kind}", str(exc) if str(path) in str(exc) else f"{path}: {exc}")
            return False
        self.show_status(f"Exported {path.name}.")
        return True

    # shutdown ---------------------------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.settings.set_geometry(self.saveGeometry())
        self.settings.set_window_state(self.saveState())
        self.settings.sync()
        self.runner.cancel_all()
        self.runner.wait(5000)
        self.autosave.flush()
        event.accept()

