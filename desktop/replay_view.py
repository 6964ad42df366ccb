"""The Replay tab: sketches redrawn point by point (QTimer-driven), with play/pause, speed and a scrub bar."""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from desktop.canvas_views import SketchView
from desktop.geometry import truncate_lines
from desktop.painting import InkLine, ink_for
from desktop.replay import SPEEDS, ReplayState

__all__ = ["ReplayView", "TICK_MS"]

TICK_MS = 16  # one frame at 60 Hz


class ReplayView(QWidget):
    def __init__(self, state: ReplayState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._views: list[SketchView] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

        self._row = QHBoxLayout()
        self._empty = SketchView(self,
                                 placeholder="Nothing to replay yet.\nDraw, sample, open or reconstruct a sketch.")
        self._row.addWidget(self._empty)

        icon = self.style().standardIcon
        self._play_icon = icon(QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = icon(QStyle.StandardPixmap.SP_MediaPause)
        self.play_button = QPushButton(self._play_icon, "P&lay", self)
        self.play_button.setToolTip("Play or pause (Space)")
        self.play_button.clicked.connect(self.state.toggle)
        self.restart_button = QPushButton(icon(QStyle.StandardPixmap.SP_MediaSkipBackward), "Rest&art", self)
        self.restart_button.setToolTip("Replay from the first point")
        self.restart_button.clicked.connect(self._restart)
        self.scrub = QSlider(Qt.Orientation.Horizontal, self)
        self.scrub.setAccessibleName("Replay position")
        self.scrub.valueChanged.connect(self._scrubbed)
        self.speed = QComboBox(self)
        self.speed.setAccessibleName("Replay speed")
        for value in SPEEDS:
            self.speed.addItem(f"{value:g}x", value)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.currentIndexChanged.connect(lambda i: self.state.set_speed(self.speed.itemData(i)))
        speed_label = QLabel("&Speed:", self)
        speed_label.setBuddy(self.speed)
        self.position_label = QLabel(self)
        self.position_label.setMinimumWidth(110)

        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(self.restart_button)
        controls.addWidget(self.scrub, 1)
        controls.addWidget(self.position_label)
        controls.addWidget(speed_label)
        controls.addWidget(self.speed)

        layout = QVBoxLayout(self)
        layout.addLayout(self._row, 1)
        layout.addLayout(controls)
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, self.state.toggle,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)

        self._loaded_items: list = []
        state.changed.connect(self._sync)
        self._sync()

    # state -> widgets -------------------------------------------------------------------------------------------------
    def _rebuild_views(self) -> None:
        for view in self._views:
            self._row.removeWidget(view)
            view.deleteLater()
        self._views = []
        self._empty.setVisible(not self.state.items)
        for item in self.state.items:
            view = SketchView(self, caption=item.label)
            self._row.addWidget(view)
            self._views.append(view)
        self._loaded_items = list(self.state.items)

    def _sync(self) -> None:
        state = self.state
        if self._loaded_items != state.items:
            self._rebuild_views()
        shown = state.shown
        for view, item in zip(self._views, state.items):
            lines = [InkLine(s.points, ink_for(s.author)) for s in item.strokes]
            visible = truncate_lines([line.points for line in lines], shown)
            view.set_lines(
                [InkLine(points, line.color) for points, line in zip(visible, lines)],
                fit_to=[line.points for line in lines],
            )
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, state.total)
        self.scrub.setValue(shown)
        self.scrub.blockSignals(False)
        self.scrub.setEnabled(bool(state.items))
        self.play_button.setEnabled(bool(state.items))
        self.restart_button.setEnabled(bool(state.items))
        self.play_button.setText("Pa&use" if state.playing else "P&lay")
        self.play_button.setIcon(self._pause_icon if state.playing else self._play_icon)
        self.position_label.setText(f"point {shown} of {state.total}")
        if state.playing and not self._timer.isActive():
            self._clock.start()
            self._timer.start()
        elif not state.playing and self._timer.isActive():
            self._timer.stop()

    # widgets -> state -------------------------------------------------------------------------------------------------
    def _tick(self) -> None:
        seconds = self._clock.restart() / 1000.0
        self.state.advance(seconds)

    def _scrubbed(self, value: int) -> None:
        self.state.pause()
        self.state.seek(value)

    def _restart(self) -> None:
        self.state.seek(0)
        self.state.play()

    def is_timer_running(self) -> bool:
        return self._timer.isActive()
