"""Undoable edits of the drawing (QUndoCommand), so every change, including clearing, opening a file and accepting
a continuation, is one step on the Edit menu's undo stack and nothing the person drew is lost."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QKeySequence, QUndoCommand

from desktop.document import SketchDocument, Stroke

__all__ = ["AddStrokes", "ReplaceDrawing", "redo_keys"]


class AddStrokes(QUndoCommand):
    """Append strokes (one drawn stroke, or all strokes of an accepted continuation)."""

    def __init__(self, document: SketchDocument, strokes: Sequence[Stroke], text: str) -> None:
        super().__init__(text)
        self._document = document
        self._strokes = list(strokes)

    def redo(self) -> None:
        self._document.append(self._strokes)

    def undo(self) -> None:
        self._document.remove_last(len(self._strokes))


class ReplaceDrawing(QUndoCommand):
    """Put other strokes in place of the whole drawing (clear, new, open, random sample)."""

    def __init__(self, document: SketchDocument, strokes: Sequence[Stroke], text: str) -> None:
        super().__init__(text)
        self._document = document
        self._new = list(strokes)
        self._old: list[Stroke] = []

    def redo(self) -> None:
        self._old = self._document.replace(self._new)

    def undo(self) -> None:
        self._document.replace(self._old)


def redo_keys() -> list[QKeySequence]:
    """The platform's redo keys (all of them: QKeySequence(StandardKey) keeps only the first), plus the two that
    people try everywhere, Ctrl+Shift+Z and Ctrl+Y, where the platform lacks one."""
    keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)
    for extra in ("Ctrl+Shift+Z", "Ctrl+Y"):
        if QKeySequence(extra) not in keys:
            keys.append(QKeySequence(extra))
    return keys
