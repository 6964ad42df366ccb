"""The current drawing, written atomically on every change and restored at the next start (after a crash or kill).

The file is an ordinary sketch JSON (:func:`sketchgen.datafiles.save_sketch_json`) in the app's data folder whose
metadata also records who drew each stroke and which file the drawing belongs to. An empty drawing removes it. A
damaged autosave is kept aside (renamed ``*.damaged-<time>.json``), never silently deleted.

The writing (an atomic write with fsync: milliseconds normally, far more while another program fills the disk)
happens on a background thread, so the window never waits for the disk. Only the newest drawing is written: changes
that come faster than the disk are coalesced. :meth:`Autosave.flush` waits for the write (on close, in tests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop.document import MODEL, USER, Stroke, strokes_from_stroke3, strokes_to_stroke3
from desktop.settings import app_home
from sketchgen.datafiles import Sketch, load_sketch_json, save_sketch_json
from sketchgen.errors import DataFileError

__all__ = ["AUTOSAVE_NAME", "Restored", "Autosave"]

AUTOSAVE_NAME = "autosave.json"


class _Nothing:
    """Marks "no write pending" (None means "remove the autosave")."""


_NOTHING = _Nothing()


@dataclass
class Restored:
    strokes: list[Stroke]
    file: str | None


class Autosave:
    """``save`` hands the drawing to the writer thread and returns at once; a failed write is reported through
    ``on_error(message)``, called on the writer thread (the window forwards it to the GUI thread).
    ``background=False`` writes on the caller's thread and raises instead."""

    def __init__(self, folder: Path | None = None, background: bool = True) -> None:
        self.path = (folder or app_home()) / AUTOSAVE_NAME
        self.background = background
        self.on_error: Callable[[str], None] | None = None
        self._cond = threading.Condition()
        self._pending: Sketch | None | _Nothing = _NOTHING  # None: remove the autosave
        self._writing = False
        self._thread: threading.Thread | None = None

    def save(self, strokes: list[Stroke] | tuple[Stroke, ...], file: str | None = None) -> None:
        """Autosave the drawing (atomically); an empty drawing removes the autosave."""
        job: Sketch | None = None
        if strokes:
            metadata = {"autosave": True, "authors": [s.author for s in strokes], "file": file}
            job = Sketch(strokes_to_stroke3(strokes), metadata)
        if not self.background:
            self._write(job)
            return
        with self._cond:
            self._pending = job  # replaces any drawing not written yet: only the newest matters
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sketchgen-autosave", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every drawing handed to :meth:`save` is on disk; False on a timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is _NOTHING and not self._writing, timeout)

    def _write(self, job: Sketch | None) -> None:
        if job is None:
            self.path.unlink(missing_ok=True)
        else:
            save_sketch_json(self.path, job)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not _NOTHING)
                job, self._pending = self._pending, _NOTHING
                self._writing = True
            try:
                self._write(job)  # type: ignore[arg-type]
            except (DataFileError, OSError) as exc:
                message = str(exc) if isinstance(exc, DataFileError) else f"{self.path}: cannot write ({exc})"
                if self.on_error is not None:
                    self.on_error(message)
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()

    def load(self) -> Restored | None:
        """The autosaved drawing, or None when there is none. A damaged file is moved aside and raises."""
        self.flush()
        if not self.path.exists():
            return None
        try:
            sketch = load_sketch_json(self.path)
            strokes = strokes_from_stroke3(sketch.strokes)
        except DataFileError as exc:
            kept = self.path.with_name(f"{self.path.stem}.damaged-{time.strftime('%Y%m%d-%H%M%S')}.json")
            self.path.replace(kept)
            raise DataFileError(self.path, f"{exc.problem}; kept it as {kept.name}") from None
        authors = sketch.metadata.get("authors")
        if isinstance(authors, list) and len(authors) == len(strokes):
            strokes = [Stroke(s.points, a if a in (USER, MODEL) else USER) for s, a in zip(strokes, authors)]
        file = sketch.metadata.get("file")
        return Restored(strokes, file if isinstance(file, str) else None)
