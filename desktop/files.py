"""The window's files: open (asking which sketch of a data set), save, recent files, autosave, dropped files.

Everything a person can get wrong with a file ends in :meth:`MainWindow.show_error` naming the file and the problem;
nothing here raises into Qt. The drawing's current file lives here (``current_file``), the window's title reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QMimeData, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QDialog, QFileDialog, QMenu
from shiboken6 import isValid

from desktop.canvas_views import sketch_from_mime
from desktop.dialogs import SketchPickerDialog
from desktop.document import MODEL, USER, Stroke, strokes_from_stroke3
from desktop.sketch_io import (
    OPEN_FILTER,
    SAVE_FILTERS,
    SKETCH_SUFFIXES,
    SketchChoice,
    read_sketch_file,
    write_sketch_file,
)
from sketchgen.errors import SketchGenError

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

__all__ = ["FilesController"]


class FilesController(QObject):
    """Open, save, recent files and the autosave of one window."""

    opened = Signal(str)  # path: a file's sketch became the drawing
    _autosaveFailed = Signal(str)  # from the autosave's writer thread (queued to the GUI thread)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.current_file: Path | None = None
        self._autosave_failed = False
        self._autosaveFailed.connect(self._autosave_failed_message, Qt.ConnectionType.QueuedConnection)
        window.autosave.on_error = self._autosaveFailed.emit
        self.recent_menu: QMenu | None = None

    # recent files -----------------------------------------------------------------------------------------------------
    def attach_recent_menu(self, menu: QMenu) -> None:
        self.recent_menu = menu
        menu.aboutToShow.connect(self.fill_recent_menu)
        self.fill_recent_menu()

    def fill_recent_menu(self) -> None:
        menu = self.recent_menu
        if menu is None:
            return
        menu.clear()
        files = self.window.settings.recent_files()
        for i, path in enumerate(files):
            action = menu.addAction(f"&{i + 1} {Path(path).name}" if i < 9 else Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda checked=False, p=path: self.open_file(p))
        if not files:
            menu.addAction("(none)").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("&Clear list", self._clear_recent)

    def _clear_recent(self) -> None:
        self.window.settings.clear_recent_files()
        self.fill_recent_menu()

    def _remember(self, path: Path) -> None:
        self.window.settings.add_recent_file(str(path))
        self.fill_recent_menu()

    # autosave ---------------------------------------------------------------------------------------------------------
    def autosave_now(self) -> None:
        w = self.window
        try:
            w.autosave.save(w.document.strokes, str(self.current_file) if self.current_file else None)
        except (SketchGenError, OSError) as exc:
            self._autosave_failed_message(str(exc))

    def _autosave_failed_message(self, message: str) -> None:
        """Told once (not after every stroke) until the app is restarted."""
        if isValid(self.window) and not self._autosave_failed:
            self._autosave_failed = True
            self.window.show_error("Autosave failed", message)

    def restore_autosave(self) -> bool:
        w = self.window
        try:
            restored = w.autosave.load()
        except SketchGenError as exc:
            w.show_error("Cannot restore the last drawing", str(exc))
            return False
        if restored is None or not restored.strokes:
            return False
        w.document.replace(restored.strokes)
        w.undo_stack.clear()
        if restored.file and Path(restored.file).exists():
            self.current_file = Path(restored.file)
        w.update_title()
        w.draw_view.canvas.fit_to_drawing()
        w.show_status(f"Restored the drawing from the last session ({len(restored.strokes)} strokes).")
        return True

    # open -------------------------------------------------------------------------------------------------------------
    def choose_open_path(self) -> Path | None:
        settings = self.window.settings
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a sketch", settings.last_folder(), OPEN_FILTER)
        if path:
            settings.set_last_folder(str(Path(path).parent))
        return Path(path) if path else None

    def open_dialog(self) -> None:
        path = self.choose_open_path()
        if path is not None:
            self.open_file(path)

    def _pick(self, path: str | Path, choice: int | None) -> tuple[SketchChoice, bool] | None:
        """The sketch the person wants from ``path`` and whether it is the file's only one (asks which when the
        file holds several, unless ``choice`` says); None after an error (already shown) or a cancel."""
        w = self.window
        try:
            opened = read_sketch_file(path)
        except SketchGenError as exc:
            w.show_error("Cannot open file", str(exc))
            return None
        if choice is None and len(opened.choices) > 1:
            dialog = SketchPickerDialog(opened, w)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            choice = dialog.chosen()
        choice = 0 if choice is None else choice
        if not 0 <= choice < len(opened.choices):
            w.show_error("Cannot open file", f"{path}: has sketches 0 to {len(opened.choices) - 1}, not {choice}")
            return None
        if opened.skipped:
            w.show_status(f"{len(opened.skipped)} lines of {Path(path).name} could not be read and were skipped.")
        return opened.choices[choice], len(opened.choices) == 1

    def read_one_sketch(self, path: str | Path, choice: int | None = None) -> np.ndarray | None:
        """The stroke-3 sketch the person picks from ``path`` (morph slots use this), or None."""
        picked = self._pick(path, choice)
        return None if picked is None else picked[0].strokes

    def open_file(self, path: str | Path, choice: int | None = None) -> bool:
        """Open a sketch file into the drawing (undoable). ``choice`` picks a sketch of a data set without asking."""
        w, path = self.window, Path(path)
        picked = self._pick(path, choice)
        if picked is None:
            return False
        sketch, only_one = picked
        strokes = strokes_from_stroke3(sketch.strokes, USER)
        authors = sketch.metadata.get("authors")
        if isinstance(authors, list) and len(authors) == len(strokes):
            strokes = [Stroke(s.points, a if a in (USER, MODEL) else USER) for s, a in zip(strokes, authors)]
        w.set_drawing(strokes, f"Open {path.name}")
        # A data set is never overwritten by Save: only single-sketch files become the current file.
        self.current_file = path if only_one else None
        w.undo_stack.setClean()
        w.update_title()
        self._remember(path)
        w.show_draw_tab()
        note = w.draw_view.canvas.fit_to_drawing()
        w.show_status(f"Opened {path.name} ({len(sketch.strokes)} points){note}.", 0 if note else None)
        self.opened.emit(str(path))
        return True

    def open_dropped(self, mime: QMimeData) -> bool:
        """A dropped sketch (from a thumbnail) or file; False when the drop carries neither."""
        w = self.window
        sketch = sketch_from_mime(mime)
        if sketch is not None:
            w.set_drawing(strokes_from_stroke3(sketch, USER), "Drop sketch")
            w.show_draw_tab()
            w.draw_view.canvas.fit_to_drawing()
            return True
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        if not files:
            return False
        # Open after the drop finishes, so a picker dialog never runs inside the drag-and-drop loop.
        QTimer.singleShot(0, lambda: self.open_file(files[0]))
        return True

    # save -------------------------------------------------------------------------------------------------------------
    def save(self) -> bool:
        if self.current_file is None:
            return self.save_as()
        return self.save_to(self.current_file)

    def save_as(self) -> bool:
        w = self.window
        if w.document.is_empty():
            w.show_status("The drawing is empty: nothing to save.")
            return False
        start = str(self.current_file) if self.current_file else w.settings.last_folder()
        path, chosen = QFileDialog.getSaveFileName(w, "Save the drawing", start, ";;".join(SAVE_FILTERS))
        if not path:
            return False
        file = Path(path)
        if file.suffix.lower() not in SKETCH_SUFFIXES:
            file = file.with_suffix(SAVE_FILTERS.get(chosen, ".json"))
        w.settings.set_last_folder(str(file.parent))
        return self.save_to(file)

    def save_to(self, path: str | Path) -> bool:
        """Write the drawing to ``path`` in the format its extension names; errors are shown, never raised."""
        w, path = self.window, Path(path)
        s3 = w.document.to_stroke3()
        if s3 is None:
            w.show_status("The drawing is empty: nothing to save.")
            return False
        metadata = {"authors": w.document.authors(), "app": "sketchgen"}
        try:
            write_sketch_file(path, s3, metadata)
        except SketchGenError as exc:
            w.show_error("Cannot save", str(exc))
            return False
        self.current_file = path
        w.undo_stack.setClean()
        w.update_title()
        self._remember(path)
        self.autosave_now()  # the autosave now names the file
        w.show_status(f"Saved {path.name}.")
        return True
