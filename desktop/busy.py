"""The status bar's progress indicator: a moving bar and a few words while the model works on the worker thread.

Most model calls finish in tens of milliseconds, and a spinner that flashes for one frame is noise, so the indicator
appears only when work has run for :data:`SHOW_AFTER_MS` (loading a model shows at once: it always takes a while).
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QWidget

__all__ = ["BusyIndicator", "SHOW_AFTER_MS", "describe_channel"]

SHOW_AFTER_MS = 150

_WORDS = {
    "load": "Loading the model",
    "continue": "Suggesting continuations",
    "sample": "Sampling",
    "reconstruct": "Reconstructing",
    "morph-between": "Morphing",
    "morph-strip": "Morphing",
    "morph-grid": "Building the grid",
}
_AT_ONCE = {"load"}


def describe_channel(channel: str) -> str:
    """What the person is told a runner channel is doing."""
    if channel.startswith("morph-sample"):
        return "Sampling"
    return _WORDS.get(channel, "Working")


class BusyIndicator(QWidget):
    """Follows ``ModelRunner.busyChanged``: shows while any channel is busy, names the most recent one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 0)  # indeterminate: the model's work has no known length
        self.bar.setTextVisible(False)
        self.bar.setFixedSize(90, 12)
        self.bar.setAccessibleName("Model busy")
        self.label = QLabel(self)
        self.label.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(6)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        self._busy: list[str] = []  # channels in the order they became busy
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._reveal)
        self.hide()

    def busy_channels(self) -> list[str]:
        return list(self._busy)

    def set_busy(self, channel: str, busy: bool) -> None:
        if channel in self._busy:
            self._busy.remove(channel)
        if busy:
            self._busy.append(channel)
        if not self._busy:
            self._timer.stop()
            self.hide()
            return
        self.label.setText(describe_channel(self._busy[-1]) + "...")
        if self.isVisible():
            return
        if any(c in _AT_ONCE for c in self._busy):
            self._reveal()
        elif not self._timer.isActive():
            self._timer.start(SHOW_AFTER_MS)

    def _reveal(self) -> None:
        if self._busy:
            self.show()
