"""The current drawing, written atomically on every change and restored at the next start (after a crash or kill).

The file is an ordinary sketch JSON (:func:`sketchgen.datafiles.save_sketch_json`) in the app's data folder whose
metadata also records who drew each stroke and which file the drawing belongs to. An empty drawing removes it. A
damaged autosave is kept aside (renamed ``*.damaged-<time>.json``), never silently deleted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from desktop.document import MODEL, USER, Stroke, strokes_from_stroke3, strokes_to_stroke3
from desktop.settings import app_home
from sketchgen.datafiles import Sketch, load_sketch_json, save_sketch_json
from sketchgen.errors import DataFileError

__all__ = ["AUTOSAVE_NAME", "Restored", "Autosave"]

AUTOSAVE_NAME = "autosave.json"


@dataclass
class Restored:
    strokes: list[Stroke]
    file: str | None


class Autosave:
    def __init__(self, folder: Path | None = None) -> None:
        self.path = (folder or app_home()) / AUTOSAVE_NAME

    def save(self, strokes: list[Stroke] | tuple[Stroke, ...], file: str | None = None) -> None:
        """Write the drawing (atomically); an empty drawing removes the autosave. Raises DataFileError."""
        if not strokes:
            self.path.unlink(missing_ok=True)
            return
        metadata = {"autosave": True, "authors": [s.author for s in strokes], "file": file}
        save_sketch_json(self.path, Sketch(strokes_to_stroke3(strokes), metadata))

    def load(self) -> Restored | None:
        """The autosaved drawing, or None when there is none. A damaged file is moved aside and raises."""
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
