"""The model picker (a dock): known model folders, the chosen model's card facts and execution provider, and the
temperature control (slider + spin box) that every model request uses."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from desktop.model_catalog import ModelEntry, card_facts, read_card
from sketchgen.errors import ModelError

__all__ = ["TemperatureControl", "ModelPanel", "MIN_TEMPERATURE", "MAX_TEMPERATURE"]

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 1.5
_STEPS_PER_UNIT = 100


class TemperatureControl(QWidget):
    """A slider and a spin box showing one value; ``valueChanged(float)`` fires once per change."""

    valueChanged = Signal(float)

    def __init__(self, value: float = 0.5, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(round(MIN_TEMPERATURE * _STEPS_PER_UNIT), round(MAX_TEMPERATURE * _STEPS_PER_UNIT))
        self.slider.setAccessibleName("Temperature")
        self.slider.setToolTip("Temperature: low = careful and typical, high = wild and varied")
        self.slider.setMinimumWidth(120)
        self.spin = QDoubleSpinBox(self)
        self.spin.setRange(MIN_TEMPERATURE, MAX_TEMPERATURE)
        self.spin.setSingleStep(0.05)
        self.spin.setDecimals(2)
        self.spin.setAccessibleName("Temperature value")
        label = QLabel("&Temperature:", self)
        label.setBuddy(self.spin)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(label)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self._value = -1.0
        self.slider.valueChanged.connect(lambda v: self.set_value(v / _STEPS_PER_UNIT))
        self.spin.valueChanged.connect(self.set_value)
        self.set_value(value)

    def value(self) -> float:
        return self._value

    def set_value(self, value: float) -> None:
        value = round(min(MAX_TEMPERATURE, max(MIN_TEMPERATURE, float(value))), 2)
        if abs(value - self._value) < 1e-9:
            return
        self._value = value
        for widget, shown in ((self.slider, round(value * _STEPS_PER_UNIT)), (self.spin, value)):
            widget.blockSignals(True)
            widget.setValue(shown)
            widget.blockSignals(False)
        self.valueChanged.emit(value)


class ModelPanel(QWidget):
    """Lists models; choosing one emits ``modelChosen(path)``; the window reports loading results back."""

    modelChosen = Signal(str)
    addFolderRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget(self)
        self.list.setAccessibleName("Models")
        self.list.itemActivated.connect(self._chosen)
        self.list.itemClicked.connect(self._chosen)
        list_label = QLabel("Models:", self)
        list_label.setBuddy(self.list)
        self.add_button = QPushButton("Add model f&older...", self)
        self.add_button.clicked.connect(self.addFolderRequested)
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.info.setMinimumWidth(160)
        layout = QVBoxLayout(self)
        layout.addWidget(list_label)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.add_button)
        layout.addWidget(self.info, 2)
        self._entries: list[ModelEntry] = []
        self._active: str | None = None

    def set_entries(self, entries: list[ModelEntry], active: str | None) -> None:
        self._entries = list(entries)
        self.list.blockSignals(True)
        self.list.clear()
        for entry in entries:
            item = QListWidgetItem(entry.name if entry.shipped else f"{entry.name} (added)")
            item.setData(Qt.ItemDataRole.UserRole, str(entry.path))
            item.setToolTip(str(entry.path))
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.set_active(active)
        if not entries:
            self.info.setText(
                "No model found under assets/models/. Drawing, replay and export work without one; "
                "use 'Add model folder...' to pick an exported model folder."
            )

    def set_active(self, path: str | None) -> None:
        self._active = path
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == path:
                self.list.setCurrentItem(item)

    def _chosen(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        if path != self._active:
            self.modelChosen.emit(path)

    def show_card(self, folder: str, status: str, provider: str | None = None, card: dict | None = None) -> None:
        """The facts of ``folder``'s card (read from disk unless given) with a status line ("loading", ...)."""
        if card is None:
            try:
                card = read_card(folder)
            except ModelError as exc:
                self.info.setText(f"<b>{html.escape(Path(folder).name)}</b><br>{html.escape(str(exc))}")
                return
        rows = [f"<b>{html.escape(Path(folder).name)}</b>", html.escape(status)]
        if provider:
            rows.append(f"Runs on: <b>{html.escape(provider)}</b>")
        for label, text in card_facts(card):
            rows.append(f"{html.escape(label)}: {html.escape(text).replace(chr(10), '<br>')}")
        self.info.setText("<br>".join(rows))

    def show_text(self, text: str) -> None:
        self.info.setText(html.escape(text))
