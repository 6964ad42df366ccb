"""One way for a view to ask the model for sketches and show them without painting on the GUI thread.

:func:`submit_rendered` takes the views that will show the answer, runs the model work on the worker thread, renders
each view's ink there too (:func:`desktop.painting.render_ink`, at the size each view had when asked), and on the GUI
thread only checks that the answer is still wanted and hands every view its finished picture. The Draw tab's
suggestions and the Morph tab's in-between, strip and grid all go through it, so none of them re-renders on the GUI
thread, and a view whose sketch did not change is never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtGui import QImage

from desktop.canvas_views import SketchView
from desktop.painting import InkGeometry, InkLine, render_ink
from desktop.workers import ModelRunner

__all__ = ["Shown", "submit_rendered"]


@dataclass
class Shown:
    """What one view will show: its ink lines and the payload a drag from it carries (stroke-3, or None)."""

    lines: list[InkLine]
    sketch: Any = None


@dataclass
class _Answer:
    result: Any
    shown: list[Shown | None]
    images: list[QImage | None]


def submit_rendered(
    runner: ModelRunner,
    channel: str,
    views: Sequence[SketchView],
    work: Callable[[], tuple[Any, Sequence[Shown | None]]],
    wanted: Callable[[Any], bool],
    accept: Callable[[Any], None],
    failed: Callable[[str], None],
) -> int:
    """Run ``work()`` on the worker: it returns ``(result, shown)``, one :class:`Shown` (or None: leave the view
    alone) per view. The views' pictures are rendered there as well. On the GUI thread, if ``wanted(result)`` (False:
    the answer is stale, nothing happens), each view gets its picture, then ``accept(result)`` runs (the views
    already show the answer, so state updates it triggers find them current). Returns the generation."""
    views = list(views)
    geometries: list[InkGeometry] = [view.ink_geometry() for view in views]
    widths = [view.line_width for view in views]

    def job() -> _Answer:
        result, shown = work()
        shown = list(shown) + [None] * (len(views) - len(shown))
        images = [render_ink(s.lines, g, w) if s is not None and s.lines else None
                  for s, g, w in zip(shown, geometries, widths)]
        return _Answer(result, shown, images)

    def finish(answer: _Answer) -> None:
        if not wanted(answer.result):
            return
        for view, shown, image, geometry in zip(views, answer.shown, answer.images, geometries):
            if shown is not None:
                view.show_rendered(shown.lines, image, geometry, shown.sketch)
        accept(answer.result)

    return runner.submit(channel, job, finish, failed)
