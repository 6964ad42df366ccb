"""Replay state (no Qt): one or more sketches drawn point by point, with play/pause, speed and seeking.

Several sketches (an original beside its reconstruction) share one clock: at position p each shows its first p points.
The view drives :meth:`ReplayState.advance` from a QTimer with the real elapsed time, so the speed is the same
whatever the timer's jitter and no busy loop is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from desktop.document import Signal, Stroke

__all__ = ["BASE_POINTS_PER_SECOND", "SPEEDS", "ReplayItem", "ReplayState"]

BASE_POINTS_PER_SECOND = 40.0  # at 1x; sketch-rnn data has 20-250 points a sketch, so 0.5 to 6 seconds
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


@dataclass
class ReplayItem:
    label: str
    strokes: list[Stroke]

    @property
    def points(self) -> int:
        return sum(len(s.points) for s in self.strokes)


class ReplayState:
    """``position`` is the number of points shown (a float while playing); ``changed`` fires on every change."""

    def __init__(self) -> None:
        self.items: list[ReplayItem] = []
        self.position = 0.0
        self.speed = 1.0
        self.playing = False
        self.changed = Signal()

    @property
    def total(self) -> int:
        return max((item.points for item in self.items), default=0)

    @property
    def shown(self) -> int:
        """Whole points shown now."""
        return min(self.total, int(self.position))

    def at_end(self) -> bool:
        return self.shown >= self.total

    def load(self, items: Sequence[ReplayItem], play: bool = True) -> None:
        """Replace what is replayed and start from the first point."""
        self.items = [item for item in items if item.strokes]
        self.position = 0.0
        self.playing = bool(play and self.items)
        self.changed.emit()

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.speed = float(speed)
        self.changed.emit()

    def play(self) -> None:
        if not self.items:
            return
        if self.at_end():
            self.position = 0.0
        self.playing = True
        self.changed.emit()

    def pause(self) -> None:
        self.playing = False
        self.changed.emit()

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def seek(self, points: float) -> None:
        self.position = float(min(max(points, 0.0), self.total))
        self.changed.emit()

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` of real time; stops at the end."""
        if not self.playing:
            return
        self.position = min(float(self.total), self.position + seconds * BASE_POINTS_PER_SECOND * self.speed)
        if self.position >= self.total:
            self.playing = False
        self.changed.emit()
