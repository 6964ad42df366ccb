"""Model > Get official models... and Model > Import sketch-rnn-js file...: the official sketch-rnn models in the app.

The dialog lists the whole official catalogue (every category as a decoder-only ``gen`` model and, but one, as a
``vae``), filtered as one types. Getting one downloads it with the core's downloader (progress, resume, verified
by parsing) and converts it with :func:`sketchgen.official.convert.import_js_model`, both on the model worker,
never on the GUI thread; the model folder lands in the user's data folder (``<app home>/official/models``, never the
repository) and joins the model list. Without a network the dialog says so; models already got stay usable.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QProgressBar, QVBoxLayout, QWidget)

from desktop.settings import app_home
from sketchgen.official.catalogue import OfficialModel, catalogue, resolve_base_url

CHANNEL = "official"


def official_home() -> Path:
    return app_home() / "official"


def models_root() -> Path:
    """Where converted official models live: one model folder each (the model list remembers this folder)."""
    return official_home() / "models"


def downloads_dir() -> Path:
    return official_home() / "downloads"


def installed(model: OfficialModel) -> Path | None:
    folder = models_root() / model.name
    return folder if (folder / "model.json").is_file() else None


class _Progress(QObject):
    """Carries the worker's progress to the GUI thread (queued signals)."""

    received = Signal(int, int)   # bytes so far, total (-1: unknown)
    stage = Signal(str)


def _offline_message(message: str, url: str) -> str:
    if "cannot reach the server" in message:
        return (f"Cannot reach the official model storage ({url}): this computer seems to be offline. "
                "Models you already got stay in the model list.")
    return message


def import_job(window, *, model: OfficialModel | None = None, file: str | None = None, base_url: str | None = None,
               progress: _Progress | None = None, on_done=None, on_error=None) -> None:
    """Download (an official name) or read (a local file), convert, and join the model list, on the model worker."""
    from sketchgen.official.convert import import_js_model
    from sketchgen.official.fetch import fetch_model
    from sketchgen.official.jsformat import read_js_model

    def work() -> str:
        if model is not None:
            url = model.url(base_url)
            if progress is not None:
                progress.stage.emit(f"Downloading {model.file_name}...")
            _, parsed = fetch_model(url, model.file_name, downloads_dir(), progress=False,
                                    on_progress=(lambda done, total: progress.received.emit(done, total or -1))
                                    if progress is not None else None)
            out, origin = models_root() / model.name, url
        else:
            parsed = read_js_model(file)
            kind = "vae" if parsed.conditional else "gen"
            out, origin = models_root() / f"{Path(file).name.split('.')[0]}.{kind}", str(Path(file).resolve())
        say = (lambda text: progress.stage.emit(text[:1].upper() + text[1:] + "...")) if progress is not None \
            else None
        return str(import_js_model(parsed, out, force=True, origin=origin, progress=say))

    def done(folder: str) -> None:
        join_model_list(window, folder)
        if on_done is not None:
            on_done(folder)

    def failed(message: str) -> None:
        text = _offline_message(message, resolve_base_url(base_url))
        if on_error is not None:
            on_error(text)
        else:
            window.show_error("Import failed", text)

    window.runner.submit(CHANNEL, work, done, failed)


def join_model_list(window, folder: str) -> None:
    """Remember the official models' folder (once) and load the new model."""
    root = str(models_root())
    folders = window.settings.model_folders()
    if root not in folders:
        window.settings.set_model_folders(folders + [root])
    window.models.refresh()
    window.models.load(folder)
    window.show_status(f"Imported {Path(folder).name}: it joins the model list.")


class OfficialModelsDialog(QDialog):
    """The official catalogue, searchable; Get downloads, converts and loads the chosen model."""

    def __init__(self, window, base_url: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.window_ = window
        self.base_url = base_url
        self.setWindowTitle("Get official sketch-rnn models")
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search the official models (cat, face, the_mona_lisa...)")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        for model in catalogue():
            item = QListWidgetItem(self._label(model))
            item.setData(Qt.ItemDataRole.UserRole, model.name)
            item.setToolTip(model.url(base_url))
            self.list.addItem(item)
        self.note = QLabel("Official models by the sketch-rnn authors, trained on QuickDraw (CC BY 4.0). Their "
                           "weights come without a license file: they are downloaded from the official storage and "
                           "kept in your data folder only.", self)
        self.note.setWordWrap(True)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.bar = QProgressBar(self)
        self.bar.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.get_button = self.buttons.addButton("&Get", QDialogButtonBox.ButtonRole.AcceptRole)
        self.get_button.setDefault(True)
        layout = QVBoxLayout(self)
        for widget in (self.search, self.list, self.note, self.status, self.bar, self.buttons):
            layout.addWidget(widget)
        self.search.textChanged.connect(self.filter)
        self.list.itemDoubleClicked.connect(lambda _item: self.get())
        self.list.currentItemChanged.connect(lambda *_: self.get_button.setEnabled(self._chosen() is not None))
        self.buttons.accepted.connect(self.get)
        self.buttons.rejected.connect(self.reject)
        self.progress = _Progress(self)
        self.progress.received.connect(self._bytes)
        self.progress.stage.connect(self.status.setText)
        self.list.setCurrentRow(0)
        self.resize(520, 560)

    @staticmethod
    def _label(model: OfficialModel) -> str:
        return model.title + ("   [got it]" if installed(model) else "")

    def visible_names(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
                if not self.list.item(i).isHidden()]

    def filter(self, text: str) -> None:
        words = text.lower().replace(" ", "_").split()
        first = None
        for i in range(self.list.count()):
            item = self.list.item(i)
            hidden = not all(w in item.data(Qt.ItemDataRole.UserRole) or w in item.text().lower() for w in words)
            item.setHidden(hidden)
            if not hidden and first is None:
                first = item
        if first is not None:
            self.list.setCurrentItem(first)

    def select(self, name: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == name:
                self.list.setCurrentRow(i)
                return

    def _chosen(self) -> OfficialModel | None:
        item = self.list.currentItem()
        if item is None or item.isHidden():
            return None
        category, kind = item.data(Qt.ItemDataRole.UserRole).split(".")
        return OfficialModel(category, kind)

    def get(self) -> None:
        model = self._chosen()
        if model is None:
            return
        folder = installed(model)
        if folder is not None:  # already converted: just use it
            join_model_list(self.window_, str(folder))
            self.accept()
            return
        self.get_button.setEnabled(False)
        self.bar.setVisible(True)
        self.bar.setRange(0, 0)
        self.status.setText(f"Getting {model.name}...")
        import_job(self.window_, model=model, base_url=self.base_url, progress=self.progress,
                   on_done=lambda _folder: self.accept(), on_error=self._failed)

    def _bytes(self, done: int, total: int) -> None:
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        self.status.setText(f"Downloading: {done / 2**20:.1f} MiB" + (f" of {total / 2**20:.1f}" if total > 0 else ""))

    def _failed(self, message: str) -> None:
        self.bar.setVisible(False)
        self.get_button.setEnabled(True)
        self.status.setText(message)


def open_dialog(window, base_url: str | None = None) -> OfficialModelsDialog:
    dialog = OfficialModelsDialog(window, base_url)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def import_file_dialog(window) -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Import a sketch-rnn-js model", window.settings.last_folder(),
                                          "sketch-rnn-js models (*.gen.json *.vae.json *.json)")
    if path:
        window.show_status(f"Importing {Path(path).name}...", 0)
        import_job(window, file=path)


def menu_actions(window) -> list[QAction]:
    """The Model menu's two entries (made once per window)."""
    actions = getattr(window, "_official_actions", None)
    if actions is None:
        get = QAction("Get &official models...", window)
        get.setStatusTip("Download an official sketch-rnn model (about 100 QuickDraw categories)")
        get.triggered.connect(lambda: open_dialog(window))
        imp = QAction("&Import sketch-rnn-js file...", window)
        imp.setStatusTip("Convert a .gen.json / .vae.json model file into a model folder")
        imp.triggered.connect(lambda: import_file_dialog(window))
        actions = window._official_actions = [get, imp]
    return actions
