"""The model picker (a dock): known model folders, the chosen model's card facts and execution provider, and the
temperature control (slider + spin box, and the temperature rule beside them) that every model request uses."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from desktop.model_catalog import ModelEntry, card_facts, read_card
from sketchgen.engine.sampling import DEFAULT_RULE
from sketchgen.errors import ModelError
from sketchgen.model_folder import ModelCard

__all__ = ["TemperatureControl", "ModelPanel", "MIN_TEMPERATURE", "MAX_TEMPERATURE"]

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 1.5
_STEPS_PER_UNIT = 100
# the engine's temperature rules (sketchgen.engine.sampling), as the person picks them: value, label, what it does
RULES = (
    ("js", "demos", "As the official sketch-rnn demos: strokes and pen at 0.5 + 0.5 x temperature, so drawings end "
                    "more often"),
    ("paper", "paper", "As the paper writes it: one temperature for everything (low temperatures rarely end)"),
    ("magenta", "magenta", "As magenta's Python sampler: one temperature, offsets spread by the temperature itself"),
)


class TemperatureControl(QWidget):
    """A slider and a spin box showing one value, and the temperature rule; ``valueChanged(float)`` and
    ``ruleChanged(str)`` fire once per change."""

    valueChanged = Signal(float)
    ruleChanged = Signal(str)

    def __init__(self, value: float = 0.5, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(round(MIN_TEMPERATURE * _STEPS_PER_UNIT), round(MAX_TEMPERATURE * _STEPS_PER_UNIT))
        self.slider.setAccessibleName("Temperature")
        self.slider.setToolTip("Temperature: low = careful and typical, high = wild and varied")
        self.slider.setMinimumWidth(30)
        self.spin = QDoubleSpinBox(self)
        self.spin.setRange(MIN_TEMPERATURE, MAX_TEMPERATURE)
        self.spin.setSingleStep(0.05)
        self.spin.setDecimals(2)
        self.spin.setAccessibleName("Temperature value")
        label = QLabel("&Temperature:", self)
        label.setBuddy(self.spin)
        self.rule = QComboBox(self)
        for i, (rule, text, tip) in enumerate(RULES):
            self.rule.addItem(text, rule)
            self.rule.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self.rule.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.rule.setMinimumContentsLength(3)  # narrow, so the whole control fits an 800-pixel-wide toolbar
        self.rule.setAccessibleName("Temperature rule")
        self.rule.setToolTip("How the temperature acts: " + "; ".join(f"{text}: {tip}" for _, text, tip in RULES))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(4)
        layout.addWidget(label)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        layout.addWidget(self.rule)
        self._value = -1.0
        self.slider.valueChanged.connect(lambda v: self.set_value(v / _STEPS_PER_UNIT))
        self.spin.valueChanged.connect(self.set_value)
        self.rule.currentIndexChanged.connect(lambda _: self.ruleChanged.emit(self.rule_value()))
        self.set_value(value)
        self.set_rule(DEFAULT_RULE)

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

    def rule_value(self) -> str:
        return str(self.rule.currentData())

    def set_rule(self, rule: str) -> None:
        """Show ``rule`` (an unknown name leaves the choice as it is); ``ruleChanged`` fires if it changed."""
        index = self.rule.findData(rule)
        if index >= 0:
            self.rule.setCurrentIndex(index)


class ModelPanel(QWidget):
    """Lists models; choosing one emits ``modelChosen(path)``; the window reports loading results back. The list's
    context menu removes an added model or reveals any model's folder."""

    MAX_ROWS = 10

    modelChosen = Signal(str)
    addFolderRequested = Signal()
    removeRequested = Signal(str)  # path of an added model to forget
    revealRequested = Signal(str)  # path to show in the file manager

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget(self)
        self.list.setAccessibleName("Models")
        self.list.itemActivated.connect(self._chosen)
        self.list.itemClicked.connect(self._chosen)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        list_label = QLabel("&Models:", self)
        list_label.setBuddy(self.list)
        self.list_label = list_label
        self.add_button = QPushButton("Add model f&older...", self)
        self.add_button.setToolTip("Add a folder holding an exported model (model.json and its .onnx files)")
        self.add_button.clicked.connect(self.addFolderRequested)
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.info.setMinimumWidth(170)
        layout = QVBoxLayout(self)
        layout.addWidget(list_label)
        layout.addWidget(self.list)
        layout.addWidget(self.add_button)
        layout.addSpacing(6)
        layout.addWidget(self.info)
        layout.addStretch(1)
        self._entries: list[ModelEntry] = []
        self._active: str | None = None
        self._fit_list()

    def _fit_list(self) -> None:
        """Exactly as tall as its rows (up to MAX_ROWS, then it scrolls): no empty box under one shipped model."""
        rows = min(self.MAX_ROWS, max(1, self.list.count()))
        row_height = self.list.sizeHintForRow(0) if self.list.count() else self.list.fontMetrics().height() + 6
        self.list.setFixedHeight(rows * row_height + 2 * self.list.frameWidth() + 4)

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
        self._fit_list()
        self.list.setVisible(bool(entries))
        self.list_label.setVisible(bool(entries))
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

    def entry_at(self, row: int) -> ModelEntry | None:
        return self._entries[row] if 0 <= row < len(self._entries) else None

    def context_menu_for(self, row: int) -> QMenu | None:
        """The menu for the model in ``row`` (None for no row): Remove (added models only), Show folder."""
        entry = self.entry_at(row)
        if entry is None:
            return None
        menu = QMenu(self.list)
        remove = menu.addAction("&Remove from the list", lambda: self.removeRequested.emit(str(entry.path)))
        remove.setEnabled(not entry.shipped)
        remove.setToolTip("Forget this added model folder (the folder itself is not touched)" if not entry.shipped
                          else "Models that ship with SketchGen stay in the list")
        menu.addAction("Show the &folder", lambda: self.revealRequested.emit(str(entry.path)))
        return menu

    def _context_menu(self, pos) -> None:
        menu = self.context_menu_for(self.list.row(self.list.itemAt(pos)) if self.list.itemAt(pos) else -1)
        if menu is not None:
            menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            menu.popup(self.list.viewport().mapToGlobal(pos))

    def names(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _chosen(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        if path != self._active:
            self.modelChosen.emit(path)

    def show_card(self, folder: str, status: str, provider: str | None = None, card: ModelCard | None = None) -> None:
        """The facts of ``folder``'s card (read from disk unless given) with a status line ("Loading...", ...)."""
        title = f"<b>{html.escape(Path(folder).name)}</b> &nbsp;<span style='color:#666'>{html.escape(status)}</span>"
        if card is None:
            try:
                card = read_card(folder)
            except ModelError as exc:
                self.info.setText(f"{title}<br>{html.escape(str(exc))}")
                return
        rows = []
        if provider:
            rows.append(("Runs on", f"<b>{html.escape(provider)}</b> (ONNX Runtime)"))
        for label, text in card_facts(card):
            rows.append((label, html.escape(text).replace(chr(10), "<br>")))
        table = "".join(
            f"<tr><td style='color:#555; padding-right:8px' valign='top'>{html.escape(label)}</td><td>{value}</td></tr>"
            for label, value in rows
        )
        self.info.setText(f"{title}<table style='margin-top:6px' cellspacing='0' cellpadding='2'>{table}</table>")

    def show_failure(self, folder: str, message: str, still_using: str | None, forgotten: bool = False) -> None:
        """A model that did not load: the message (it names the file), whether it left the list, and what the app
        runs on meanwhile."""
        after = f"Still using <b>{html.escape(still_using)}</b>." if still_using else "No model is loaded."
        if forgotten:
            after = f"It was removed from the model list (add it again once it is fixed). {after}"
        self.info.setText(
            f"<b>{html.escape(Path(folder).name)}</b> &nbsp;<span style='color:#b00'>could not be loaded</span>"
            f"<p>{html.escape(message)}</p><p>{after}</p>"
        )

    def show_text(self, text: str) -> None:
        self.info.setText(html.escape(text))
