"""The window's model: which folders are known, which one is loaded, and what happens when one fails.

Loading runs on the worker thread; the model in use stays in use until the new one is ready. A model that cannot be
loaded never leaves the app without one when another would do: a bad ``--model`` or a broken remembered model falls
back to the default shipped model and the status bar says so. Added folders that hold no model any more are
forgotten (with a note), so a broken entry is not listed, and remembered, forever.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop import inference
from desktop.dialogs import model_info_html
from desktop.model_catalog import (
    ModelEntry,
    default_model,
    discover_models,
    is_model_folder,
    resolve_model,
)
from sketchgen.errors import ModelError

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

__all__ = ["ModelController"]


class ModelController(QObject):
    """Owns ``model`` (the loaded one, or None) and ``entries`` (the model list), for one window."""

    loaded = Signal(str)  # folder
    failed = Signal(str)  # message

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.model: inference.LoadedModel | None = None
        self.entries: list[ModelEntry] = []
        self.loading: str | None = None
        self._fallback_from: str | None = None  # the folder that failed, while the default loads instead
        self.menu_actions = QActionGroup(self)
        self.menu_actions.setExclusive(True)
        panel = window.model_panel
        panel.modelChosen.connect(self.load)
        panel.addFolderRequested.connect(self.add_folder_dialog)
        panel.removeRequested.connect(self.remove_entry)
        panel.revealRequested.connect(self.reveal)

    # start-up ---------------------------------------------------------------------------------------------------------
    def start(self, spec: str | None = None) -> None:
        """Find the models and load ``spec`` (a folder or a name), else the last one used, else the default."""
        w = self.window
        self.refresh()
        if spec:
            try:
                target = str(resolve_model(spec, self.entries))
            except ModelError as exc:
                w.show_error("Cannot load model", str(exc))
                self._fall_back(spec)
                return
            self.load(target)
            return
        last = w.settings.last_model()
        if last and is_model_folder(Path(last)):
            self.load(last)
        else:
            self._load_default()

    def _load_default(self) -> bool:
        entry = default_model(self.entries)
        if entry is None:
            w = self.window
            w.model_label.setText("No model (none found under assets/models)")
            w.model_label.setToolTip("Drawing, replay and export work; model features are off until a model is added.")
            w.draw_view.panel.show_message("No model found: suggestions need a model (Model > Add model folder).")
            if not w.statusBar().currentMessage():
                w.show_status("No model found under assets/models: drawing, replay and export work; "
                              "model features are off.", 0)
            return False
        self.load(str(entry.path))
        return True

    def _fall_back(self, failed: str) -> None:
        """``failed`` could not be used: load the default model instead (unless it is the one that failed)."""
        entry = default_model(self.entries)
        if self.model is not None:
            self.fill_menu()  # the model in use stays; the panel keeps saying what failed
            return
        if entry is None or Path(failed).resolve() == entry.path.resolve():
            self._set_model(None)
            self.window.show_status("No model loaded: drawing, replay and export still work.", 0)
            return
        self._fallback_from = failed
        self.load(str(entry.path))

    # the list ---------------------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Discover the models again; remembered folders that hold none any more are forgotten, with a note."""
        settings = self.window.settings
        folders = settings.model_folders()
        kept = [f for f in folders if discover_models([f], shipped_dir=Path(f) / "__none__")]
        if kept != folders:
            settings.set_model_folders(kept)
            gone = ", ".join(Path(f).name for f in folders if f not in kept)
            self.window.show_status(f"Forgot model folder(s) that hold no model any more: {gone}.", 0)
        self.entries = discover_models(kept)
        self.window.model_panel.set_entries(self.entries, str(self.model.path) if self.model else None)
        self.fill_menu()

    def fill_menu(self) -> None:
        """The Model menu: one checkable entry per model, then the window's model actions."""
        w = self.window
        menu = w.model_menu
        menu.clear()
        for action in self.menu_actions.actions():
            self.menu_actions.removeAction(action)
        if not self.entries:
            menu.addAction("(no models found)").setEnabled(False)
        for entry in self.entries:
            action = QAction(entry.name if entry.shipped else f"{entry.name} (added)", self)
            action.setCheckable(True)
            action.setData(str(entry.path))
            action.setToolTip(str(entry.path))
            action.setChecked(self.model is not None and Path(self.model.path) == entry.path)
            action.triggered.connect(lambda checked=False, p=str(entry.path): self.load(p))
            self.menu_actions.addAction(action)
            menu.addAction(action)
        menu.addSeparator()
        menu.addActions(w.model_menu_actions())

    def add_folder_dialog(self) -> None:
        w = self.window
        folder = QFileDialog.getExistingDirectory(w, "Add a model folder", w.settings.last_folder())
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str) -> bool:
        """Remember ``folder`` (a model folder, or a folder of them) and load the first model in it."""
        w = self.window
        found = discover_models([folder], shipped_dir=Path(folder) / "__none__")
        if not found:
            w.show_error("Not a model folder", str(ModelError(folder, "has no model.json (nor sub-folders with one)")))
            return False
        folders = w.settings.model_folders()
        if folder not in folders:
            w.settings.set_model_folders(folders + [folder])
        self.refresh()
        self.load(str(found[0].path))
        return True

    def _remembering(self, path: Path) -> str | None:
        """The remembered folder that brings ``path`` into the list (itself, or the folder it sits in)."""
        for folder in self.window.settings.model_folders():
            if Path(folder).resolve() in (path.resolve(), path.resolve().parent):
                return folder
        return None

    def remove_entry(self, path: str) -> bool:
        """Forget an added model (shipped ones stay); the model in use stays loaded until another is chosen."""
        w = self.window
        folder = self._remembering(Path(path))
        if folder is None:
            w.show_status(f"{Path(path).name} ships with SketchGen and stays in the list.")
            return False
        w.settings.set_model_folders([f for f in w.settings.model_folders() if f != folder])
        self.refresh()
        w.show_status(f"Removed {Path(folder).name} from the model list (the folder itself is untouched).")
        return True

    def _forget_failed(self, path: Path) -> bool:
        """An added model folder that failed to load leaves the list and the settings (a folder of several models
        stays: its other models may be fine). True when it was forgotten."""
        settings = self.window.settings
        remembered = [f for f in settings.model_folders() if Path(f).resolve() == path.resolve()]
        if not remembered:
            return False
        settings.set_model_folders([f for f in settings.model_folders() if f not in remembered])
        self.refresh()
        return True

    def reveal(self, path: str) -> None:
        """Show the model's folder in the system's file manager."""
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    # loading ----------------------------------------------------------------------------------------------------------
    def load(self, folder: str) -> None:
        """Load ``folder`` on the worker; the current model stays in use until the new one is ready."""
        w = self.window
        self.loading = folder
        w.model_panel.show_card(folder, "Loading...")
        if self.model is None:
            w.draw_view.panel.show_message(f"Loading the model {Path(folder).name}...")
        w.runner.submit("load", lambda: inference.load(folder), self._ready,
                        lambda message: self._failed(folder, message))

    def _ready(self, model: inference.LoadedModel) -> None:
        w = self.window
        self.loading = None
        self._set_model(model)
        w.settings.set_last_model(str(model.path))
        if self._fallback_from is not None:
            w.show_status(f"{Path(self._fallback_from).name} could not be loaded: using the default model "
                          f"{model.name} instead.", 0)
            self._fallback_from = None
        elif not w.statusBar().currentMessage():  # keep e.g. "Restored the drawing..." readable at start-up
            w.show_status(f"Model {model.name} loaded, running on {model.provider_label}.")
        self.loaded.emit(str(model.path))

    def _failed(self, folder: str, message: str) -> None:
        w = self.window
        self.loading = None
        self._fallback_from = None
        w.show_error("Cannot load model", message)
        forgotten = self._forget_failed(Path(folder))
        w.model_panel.show_failure(folder, message, self.model.name if self.model else None, forgotten)
        w.model_panel.set_active(str(self.model.path) if self.model else None)
        self.failed.emit(message)
        self._fall_back(folder)

    def _set_model(self, model: inference.LoadedModel | None) -> None:
        w = self.window
        self.model = model
        w.draw_view.set_model(model)
        w.morph_view.set_model(model)
        w.model_actions_enabled(model)
        if model is not None:
            model.temperature_rule = w.temperature.rule_value()
            w.model_panel.set_active(str(model.path))
            w.model_panel.show_card(str(model.path), "Loaded", model.provider_label, model.card)
            w.model_label.setText(f"Model: {model.name} ({model.provider_label})")
            w.model_label.setToolTip(f"{model.path}\nRuns with ONNX Runtime on {model.provider}")
        else:
            w.model_label.setText("No model")
            w.model_label.setToolTip("Drawing, replay and export work; model features are off until a model loads.")
        self.fill_menu()

    def show_info(self) -> None:
        w, model = self.window, self.model
        if model is None:
            w.show_status("No model loaded.")
            return
        box = QMessageBox(QMessageBox.Icon.Information, f"Model {model.name}", "", QMessageBox.StandardButton.Ok, w)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(model_info_html(model.name, str(model.path), model.provider_label, model.facts(), model.license()))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
