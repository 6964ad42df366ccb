"""The drawing as plain Python data: strokes in model units, who drew each one, and change notification.

Kept free of Qt so the same object serves the canvas, the undo commands, autosave and the exporters, and can be
tested without widgets. Points are absolute positions in *model units* (the data set's pixels), see
:mod:`desktop.geometry` for how the canvas maps them to the screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from sketchgen.errors import SketchError
from sketchgen.strokes import polylines_to_stroke3, stroke3_to_polylines, validate_stroke3

__all__ = ["USER", "MODEL", "Signal", "Stroke", "SketchDocument", "strokes_from_stroke3", "strokes_to_stroke3"]

USER = "user"  # drawn by the person: black ink
MODEL = "model"  # drawn by the model: the second colour


class Signal:
    """A minimal observer list (no Qt): ``connect(callback)``, ``emit(*args)``."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., None]] = []

    def connect(self, callback: Callable[..., None]) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., None]) -> None:
        self._callbacks.remove(callback)

    def emit(self, *args: object) -> None:
        for callback in list(self._callbacks):
            callback(*args)


@dataclass(frozen=True, eq=False)
class Stroke:
    """One pen-down stroke: absolute ``[k, 2]`` float64 points (read-only) and who drew it."""

    points: np.ndarray
    author: str = USER

    def __post_init__(self) -> None:
        points = np.array(self.points, dtype=np.float64).reshape(-1, 2)
        if len(points) == 0:
            raise SketchError("stroke: has no points")
        if not np.isfinite(points).all():
            raise SketchError("stroke: contains NaN or infinite coordinates")
        if self.author not in (USER, MODEL):
            raise SketchError(f"stroke: author must be {USER!r} or {MODEL!r}, not {self.author!r}")
        points.setflags(write=False)
        object.__setattr__(self, "points", points)

    def translated(self, dx: float, dy: float) -> Stroke:
        return Stroke(self.points + np.array([dx, dy]), self.author)


def strokes_from_stroke3(s3: object, author: str = USER, name: str = "sketch") -> list[Stroke]:
    """A stroke-3 sketch (first row measured from (0, 0)) -> strokes with absolute points."""
    sketch = validate_stroke3(s3, name=name)
    return [Stroke(line, author) for line in stroke3_to_polylines(sketch)]


def strokes_to_stroke3(strokes: Sequence[Stroke]) -> np.ndarray:
    """Strokes -> stroke-3 whose first row is the first point measured from (0, 0); raises SketchError when empty."""
    return polylines_to_stroke3([s.points for s in strokes])


class SketchDocument:
    """An ordered list of strokes with a revision number that grows on every change.

    ``changed`` is emitted after every change; the revision doubles as the generation stamp of model requests made
    from this drawing, so a continuation computed for an older drawing is recognised as stale.
    """

    def __init__(self, strokes: Iterable[Stroke] = ()) -> None:
        self._strokes: list[Stroke] = list(strokes)
        self.revision = 0
        self.changed = Signal()

    @property
    def strokes(self) -> tuple[Stroke, ...]:
        return tuple(self._strokes)

    def __len__(self) -> int:
        return len(self._strokes)

    def is_empty(self) -> bool:
        return not self._strokes

    def point_count(self) -> int:
        return sum(len(s.points) for s in self._strokes)

    def authors(self) -> list[str]:
        return [s.author for s in self._strokes]

    def _touch(self) -> None:
        self.revision += 1
        self.changed.emit()

    def append(self, strokes: Sequence[Stroke]) -> None:
        if strokes:
            self._strokes.extend(strokes)
            self._touch()

    def remove_last(self, count: int) -> list[Stroke]:
        """Remove and return the last ``count`` strokes (the inverse of :meth:`append`)."""
        if count < 0 or count > len(self._strokes):
            raise IndexError(f"cannot remove {count} strokes from a drawing of {len(self._strokes)}")
        if count == 0:
            return []
        removed = self._strokes[-count:]
        del self._strokes[-count:]
        self._touch()
        return removed

    def replace(self, strokes: Sequence[Stroke]) -> list[Stroke]:
        """Put ``strokes`` in place of the whole drawing; returns the old strokes (for undo)."""
        old = self._strokes
        self._strokes = list(strokes)
        self._touch()
        return old

    def to_stroke3(self) -> np.ndarray | None:
        """The drawing as stroke-3 in model units (first row from (0, 0)), or None when it is empty."""
        return strokes_to_stroke3(self._strokes) if self._strokes else None
