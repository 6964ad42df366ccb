"""The main window's shell: menus, toolbar, status bar, the Draw / Replay / Morph tabs and the model dock.

It owns the pure-Python state (drawing, replay, morph), the undo stack and the model runner, and wires them to the
views; three controllers do the rest: ``files`` (:mod:`desktop.files`), ``models`` (:mod:`desktop.model_controller`)
and ``exports`` (:mod:`desktop.export_targets`). Every error a person can cause goes through
:meth:`MainWindow.show_error`, which emits ``errorShown`` (tests listen there) and opens a non-blocking message box
naming the file and the problem.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox, QStyle, QTabWidget, QToolBar, QToolButton
from shiboken6 import isValid

from desktop import inference, official_models
from desktop.animation import DEFAULT_SPEED
from desktop.autosave import Autosave
from desktop.busy import BusyIndicator
from desktop.canvas_views import sketch_from_mime
from desktop.app import app_version
from desktop.commands import ReplaceDrawing, redo_keys
from desktop.document import SketchDocument, Stroke
from desktop.draw_view import DrawView
from desktop.export_targets import Exporter, ExportFormat
from desktop.files import FilesController
from desktop.icons import export_icon, reconstruct_icon, redo_icon, sample_icon, suggest_icon, undo_icon
from desktop.model_controller import ModelController
from desktop.model_panel import ModelPanel, TemperatureControl
from desktop.morph import MorphState
from desktop.morph_view import MorphView
from desktop.replay import ReplayItem, ReplayState
from desktop.replay_view import ReplayView
from desktop.settings import AppSettings
from desktop.workers import ModelRunner

__all__ = ["MainWindow", "APP_TITLE"]

APP_TITLE = "SketchGen"
DRAW_TAB, REPLAY_TAB, MORPH_TAB = 0, 1, 2
STATUS_MS = 6000


class MainWindow(QMainWindow):
    errorShown = Signal(str, str)  # title, message: the seam tests observe (the dialog itself never blocks)
    modelLoaded = Signal(str)  # folder
    modelFailed = Signal(str)  # message

    def __init__(self, settings: AppSettings | None = None, autosave: Autosave | None = None,
                 seed: int | None = None) -> None:
        """``seed`` makes every model call of this window reproducible (tests, screenshots); None: fresh noise."""
        super().__init__()
        self.seed = seed
        self.settings = settings or AppSettings()
        self.autosave = autosave or Autosave()
        self.document = SketchDocument()
        self.undo_stack = QUndoStack(self)
        self.runner = ModelRunner(self)
        self.replay_state = ReplayState()
        self.morph_state = MorphState()
        self.last_error_box: QMessageBox | None = None

        self.setAcceptDrops(True)
        self.files = FilesController(self)
        self.exports = Exporter(self)
        self._build_views()
        self.models = ModelController(self)
        self.models.loaded.connect(self.modelLoaded)
        self.models.failed.connect(self.modelFailed)
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
        self.undo_stack.cleanChanged.connect(lambda clean: isValid(self) and self.update_title())
        self.tabs.currentChanged.connect(lambda index: isValid(self) and self._tab_changed(index))

        self.temperature.set_value(self.settings.temperature())
        self.temperature.set_rule(self.settings.temperature_rule())
        self.draw_view.set_count(self.settings.continuation_count())
        self.draw_view.set_pen_speed(self.settings.pen_speed(DEFAULT_SPEED))
        self.draw_view.set_together(self.settings.draw_together())
        self._restore_geometry()
        self.models.fill_menu()
        self.model_actions_enabled(None)
        self.update_title()

    @property
    def model(self) -> inference.LoadedModel | None:
        return self.models.model

    # construction -----------------------------------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.draw_view = DrawView(self.document, self.undo_stack, self.runner, self, seed=self.seed)
        self.replay_view = ReplayView(self.replay_state, self)
        self.morph_view = MorphView(self.morph_state, self.runner, self,
                                    seed=None if self.seed is None else self.seed + 1)
        self.morph_view.current_drawing = self.document.to_stroke3
        self.morph_view.open_sketch = self.files.read_one_sketch
        self.morph_view.choose_file = self.files.choose_open_path
        for view in (self.draw_view, self.morph_view):
            view.message.connect(self.show_status)
            view.error.connect(self.show_error)
        self.draw_view.reconstructed.connect(self._show_reconstruction)
        self.draw_view.count.valueChanged.connect(self.settings.set_continuation_count)
        self.draw_view.penSpeedChanged.connect(self.settings.set_pen_speed)
        self.draw_view.togetherChanged.connect(self.settings.set_draw_together)

        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.draw_view, "&Draw")
        self.tabs.addTab(self.replay_view, "&Replay")
        self.tabs.addTab(self.morph_view, "Mor&ph")
        self.setCentralWidget(self.tabs)

        self.model_panel = ModelPanel(self)
        self.model_dock = QDockWidget("Model", self)
        self.model_dock.setObjectName("model-dock")
        self.model_dock.setWidget(self.model_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.model_dock)

        self.temperature = TemperatureControl(0.5, self)
        self.temperature.valueChanged.connect(self._temperature_changed)
        self.temperature.ruleChanged.connect(self._temperature_rule_changed)

    def _action(self, text: str, slot, shortcut=None, icon: QStyle.StandardPixmap | None = None,
                tip: str = "") -> QAction:
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
        self.open_action = self._action("&Open...", self.files.open_dialog, key.Open, sp.SP_DialogOpenButton,
                                        "Open a sketch file")
        self.save_action = self._action("&Save", self.files.save, key.Save, sp.SP_DialogSaveButton, "Save the drawing")
        self.save_as_action = self._action("Save &As...", self.files.save_as, key.SaveAs, None,
                                           "Save the drawing under a new name")
        self.export_png_action = self._action("Export &PNG...", lambda: self.exports.export_dialog(ExportFormat.PNG),
                                              "Ctrl+E", None,
                                              "Export the drawing, continuations or morphs as a PNG image")
        self.export_svg_action = self._action("Export S&VG...", lambda: self.exports.export_dialog(ExportFormat.SVG),
                                              "Ctrl+Shift+E", None, "Export as SVG vector paths")
        self.export_gif_action = self._action("Export animated &GIF...",
                                              lambda: self.exports.export_dialog(ExportFormat.GIF), "Ctrl+Alt+E",
                                              None, "Export a replay as an animated GIF")
        self.quit_action = self._action("&Quit", self.close, key.Quit, None, "Quit SketchGen")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(key.Undo)
        self.undo_action.setIcon(undo_icon())
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts(redo_keys())
        self.redo_action.setIcon(redo_icon())
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
        self.add_model_action = self._action("&Add model folder...", lambda: self.models.add_folder_dialog(), None,
                                             None, "Add an exported model folder to the list")
        self.model_info_action = self._action("Model &information...", lambda: self.models.show_info(), "Ctrl+I", None,
                                              "The model's card: data set, license, losses, steps")

        self.replay_drawing_action = self._action("Replay the &drawing", self.replay_drawing, "Ctrl+Shift+P", None,
                                                  "Replay the drawing point by point")
        self.tab_actions = []
        for index, name in enumerate(("&Draw", "&Replay", "&Morph")):
            self.tab_actions.append(self._action(name, lambda i=index: self.tabs.setCurrentIndex(i),
                                                 f"Ctrl+{index + 1}"))
        self.full_screen_action = self._action("&Full screen", self._toggle_full_screen, key.FullScreen)
        self.fit_action = self._action("F&it the drawing", lambda: self.draw_view.canvas.fit_to_drawing(), "Ctrl+0",
                                       None, "Show the whole drawing on the canvas (the wheel zooms)")
        self.about_action = self._action("&About SketchGen", self.show_about, key.HelpContents)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.files.attach_recent_menu(self.recent_menu)
        file_menu.addActions([self.save_action, self.save_as_action])
        file_menu.addSeparator()
        file_menu.addActions([self.export_png_action, self.export_svg_action, self.export_gif_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.undo_action, self.redo_action])
        edit_menu.addSeparator()
        edit_menu.addAction(self.clear_action)

        self.model_menu = bar.addMenu("&Model")  # filled by the model controller (its list, then model_menu_actions)

        view_menu = bar.addMenu("&View")
        view_menu.addActions(self.tab_actions)
        view_menu.addSeparator()
        view_menu.addActions([self.replay_drawing_action, self.fit_action])
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
        self.sample_action.setIconText("Sample")  # short words: the temperature fits beside them at 800 px
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

    def model_menu_actions(self) -> list[QAction]:
        """What the Model menu shows below the model list (the model controller fills the menu)."""
        separator = QAction(self)
        separator.setSeparator(True)
        return [self.add_model_action, *official_models.menu_actions(self), separator, self.sample_action,
                self.reconstruct_action, self.suggest_action, separator, self.model_info_action]

    def model_actions_enabled(self, model: inference.LoadedModel | None) -> None:
        for action in (self.sample_action, self.suggest_action, self.model_info_action):
            action.setEnabled(model is not None)
        self.reconstruct_action.setEnabled(model is not None and model.conditional)

    # start-up ---------------------------------------------------------------------------------------------------------
    def start_up(self, model_spec: str | None = None, file: str | None = None) -> None:
        """Everything after the first paint: restore the autosave, open ``file``, find and load the model."""
        self.files.restore_autosave()
        if file:
            self.files.open_file(file)
        self.models.start(model_spec)

    def _restore_geometry(self) -> None:
        geometry = self.settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1200, 800)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)

    def _temperature_changed(self, value: float) -> None:
        self.settings.set_temperature(value)
        self.draw_view.set_temperature(value)
        self.morph_view.set_temperature(value)

    def _temperature_rule_changed(self, rule: str) -> None:
        self.settings.set_temperature_rule(rule)
        if self.model is not None:
            self.model.temperature_rule = rule
            self.draw_view.request_continuations()  # what is shown follows the rule, as it follows the temperature
            self.morph_view.refresh()

    # messages ---------------------------------------------------------------------------------------------------------
    def show_status(self, text: str, msecs: int | None = STATUS_MS) -> None:
        self.statusBar().showMessage(text, STATUS_MS if msecs is None else msecs)

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
            f"<h3>SketchGen {app_version()}</h3><p>Draw together with a sketch-rnn model (Ha &amp; Eck 2017): "
            "the model continues your strokes, samples, reconstructs and morphs sketches. Models run with ONNX "
            "Runtime.</p>"
            "<p>Each model's data set license is under Help &gt; Model information.</p>",
        )

    # drawing ----------------------------------------------------------------------------------------------------------
    def _document_changed(self) -> None:
        self.update_title()
        self.files.autosave_now()

    def update_title(self) -> None:
        file = self.files.current_file
        self.setWindowTitle(f"{file.name if file else 'Untitled'}[*] - {APP_TITLE}")
        self.setWindowModified(not self.undo_stack.isClean() and not self.document.is_empty())

    def show_draw_tab(self) -> None:
        self.tabs.setCurrentIndex(DRAW_TAB)

    def new_drawing(self) -> None:
        """An empty drawing; the old one stays on the undo stack (and the autosave follows the new one)."""
        if not self.document.is_empty():
            self.undo_stack.push(ReplaceDrawing(self.document, [], "New drawing"))
        self.files.current_file = None
        self.undo_stack.setClean()
        self.update_title()
        self.draw_view.canvas.reset_view()
        self.show_draw_tab()

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

    # drag and drop ----------------------------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if sketch_from_mime(mime) is not None or any(u.isLocalFile() for u in mime.urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if self.files.open_dropped(event.mimeData()):
            event.acceptProposedAction()

    # shutdown ---------------------------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.set_geometry(self.saveGeometry())
        self.settings.set_window_state(self.saveState())
        self.settings.sync()
        self.runner.cancel_all()
        self.runner.wait(5000)
        self.autosave.flush()
        event.accept()

