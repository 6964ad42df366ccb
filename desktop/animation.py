"""The model drawing on the canvas stroke by stroke, at a pen's pace, as the official sketch-rnn demos show it.

:class:`PenPath` is the timing (pure numpy): the pen moves along each stroke at ``speed`` model units per second and
lifts between strokes for :data:`PEN_UP_PAUSE_S`, so a long stroke takes longer than a short one, as it does for a
person. :class:`CanvasAnimator` plays one on the canvas from a GUI-thread timer: every frame only slices the
precomputed path (microseconds) and repaints, so the window never stalls. It draws in two ways:

- *draw*: full-strength model ink; when it ends (or the person puts the pen down: the animation yields) the strokes
  drawn so far are handed to ``committed`` and become part of the drawing (one undoable step).
- *preview*: the faded preview of a suggestion under the pointer; nothing is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Signal

from desktop.canvas import DrawingCanvas
from desktop.document import MODEL, Stroke
from desktop.painting import inked

__all__ = ["PenPath", "CanvasAnimator", "PEN_UP_PAUSE_S", "DEFAULT_SPEED", "MIN_SPEED", "MAX_SPEED", "FRAME_MS"]

PEN_UP_PAUSE_S = 0.12  # the pen lifts and moves to the next stroke's start
DEFAULT_SPEED = 450.0  # model units per second: a person's unhurried pen (a 250-unit sheep outline in about 2 s)
MIN_SPEED, MAX_SPEED = 50.0, 5000.0
FRAME_MS = 16  # one frame at 60 Hz


class PenPath:
    """Where the pen is ``t`` seconds after it starts drawing ``strokes`` (each an ``[k, 2]`` polyline)."""

    def __init__(self, strokes: Sequence[Stroke], speed: float = DEFAULT_SPEED, pause: float = PEN_UP_PAUSE_S) -> None:
        self.strokes = list(strokes)
        self.speed = float(min(MAX_SPEED, max(MIN_SPEED, speed)))
        self._cumulative: list[np.ndarray] = []
        self._starts: list[float] = []
        t = 0.0
        for i, stroke in enumerate(self.strokes):
            if i:
                t += pause
            steps = np.linalg.norm(np.diff(stroke.points, axis=0), axis=1) if len(stroke.points) > 1 else np.zeros(0)
            cumulative = np.concatenate([[0.0], np.cumsum(steps)])
            self._cumulative.append(cumulative)
            self._starts.append(t)
            t += cumulative[-1] / self.speed
        self.duration = t

    def at(self, t: float) -> list[Stroke]:
        """The strokes as far as the pen has drawn them at ``t`` seconds (the last one cut mid-segment)."""
        shown: list[Stroke] = []
        for stroke, start, cumulative in zip(self.strokes, self._starts, self._cumulative):
            if t < start:
                break
            distance = (t - start) * self.speed
            if distance >= cumulative[-1]:
                shown.append(stroke)
                continue
            k = int(np.searchsorted(cumulative, distance, side="right"))  # points fully reached: 1..len-1
            a, b = stroke.points[k - 1], stroke.points[k]
            span = cumulative[k] - cumulative[k - 1]
            tip = a + (b - a) * ((distance - cumulative[k - 1]) / span if span > 0 else 1.0)
            shown.append(Stroke(np.vstack([stroke.points[:k], tip[None, :]]), stroke.author))
            break
        return shown


class CanvasAnimator(QObject):
    """Plays a :class:`PenPath` on a :class:`DrawingCanvas`; one animation at a time (a new one replaces it)."""

    committed = Signal(object, bool)  # list[Stroke] a *draw* animation drew (to add to the drawing); all of it?
    runningChanged = Signal(bool)

    def __init__(self, canvas: DrawingCanvas, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.speed = DEFAULT_SPEED
        self.path: PenPath | None = None
        self.mode = ""
        self.frames = 0
        self._clock = QElapsedTimer()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._frame)

    def is_drawing(self) -> bool:
        return self.path is not None and self.mode == "draw"

    def is_previewing(self) -> bool:
        return self.path is not None and self.mode == "preview"

    def draw(self, strokes: Sequence[Stroke]) -> None:
        """Draw ``strokes`` in model ink; ``committed`` gets them when done (or the part drawn when yielding)."""
        self._start(strokes, "draw")

    def preview(self, strokes: Sequence[Stroke]) -> None:
        """Draw ``strokes`` as the faded preview (never while a *draw* animation runs: that one has the canvas)."""
        if not self.is_drawing():
            self._start(strokes, "preview")

    def stop_preview(self) -> None:
        if self.mode == "preview":
            self._end()
        if not self.is_drawing():
            self.canvas.set_preview([])

    def yield_to_pen(self) -> list[Stroke]:
        """The person puts the pen down: stop drawing at once and commit what has been drawn so far."""
        if not self.is_drawing():
            self.stop_preview()
            return []
        drawn = self.path.at(self._clock.elapsed() / 1000.0)
        self._end()
        if drawn:
            self.committed.emit(drawn, False)
        return drawn

    def cancel(self) -> None:
        """Forget the animation without keeping anything (the drawing changed under it)."""
        self._end()
        self.canvas.set_preview([])

    def hold_at(self, seconds: float) -> None:
        """Stop the clock and show the moment ``seconds`` into the animation (screenshots; :meth:`finish_now` goes
        on to the end)."""
        if self.path is not None:
            self._timer.stop()
            self._show(min(seconds, self.path.duration - 1e-6))

    def finish_now(self) -> None:
        """Jump to the end (a draw animation commits everything)."""
        if self.path is not None:
            self._show(self.path.duration)

    def _start(self, strokes: Sequence[Stroke], mode: str) -> None:
        was_running = self.path is not None
        self._end(emit=False)
        strokes = [Stroke(s.points, MODEL) for s in strokes if len(s.points)]
        if not strokes:
            if was_running:
                self.runningChanged.emit(False)
            return
        if mode == "draw":
            self.canvas.set_preview([])  # the real strokes replace the faded proposal
        self.path, self.mode, self.frames = PenPath(strokes, self.speed), mode, 0
        self._clock.start()
        self._timer.start()
        if not was_running:
            self.runningChanged.emit(True)
        self._frame()

    def _frame(self) -> None:
        if self.path is not None:
            self._show(self._clock.elapsed() / 1000.0)

    def _show(self, t: float) -> None:
        path, mode = self.path, self.mode
        assert path is not None
        done = t >= path.duration
        shown = path.strokes if done else path.at(t)
        self.frames += 1
        if mode == "preview":
            self.canvas.set_preview(shown)
            if done:
                self._end()
            return
        if done:
            self._end()
            self.committed.emit(list(path.strokes), True)
        else:
            self.canvas.set_overlay(inked(shown))

    def _end(self, emit: bool = True) -> None:
        running = self.path is not None
        self._timer.stop()
        if self.mode == "draw":
            self.canvas.set_overlay([])
        self.path, self.mode = None, ""
        if running and emit:
            self.runningChanged.emit(False)
