"""Small dialogs: pick one sketch from a data set, export options, model information."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.canvas_views import SketchView
from desktop.document import strokes_from_stroke3
from desktop.sketch_io import OpenedFile

if TYPE_CHECKING:
    from desktop.export_targets import ExportFormat, ExportTarget

__all__ = ["SketchPickerDialog", "ExportOptions", "ExportDialog", "model_info_html"]


class SketchPickerDialog(QDialog):
    """Choose one sketch of a file that holds many (an .npz data set, an ndjson file), with a preview."""

    def __init__(self, opened: OpenedFile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.opened = opened
        self.setWindowTitle(f"Open a sketch from {opened.path.name}")
        self.index = QSpinBox(self)
        self.index.setRange(0, len(opened.choices) - 1)
        self.index.setAccessibleName("Sketch number")
        self.label = QLabel(self)
        self.preview = SketchView(self)
        self.preview.setMinimumSize(240, 240)
        form = QFormLayout()
        form.addRow(f"&Sketch (0 to {len(opened.choices) - 1}):", self.index)
        form.addRow("Which:", self.label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        note = f"{len(opened.choices)} sketches in this file."
        if opened.skipped:
            line, problem = opened.skipped[0]
            note += f" {len(opened.skipped)} lines could not be read (first: line {line}: {problem})."
        layout.addWidget(QLabel(note, self))
        layout.addLayout(form)
        layout.addWidget(self.preview, 1)
        layout.addWidget(buttons)
        self.index.valueChanged.connect(self._show)
        self._show(0)

    def _show(self, index: int) -> None:
        choice = self.opened.choices[index]
        self.label.setText(f"{choice.label} ({len(choice.strokes)} points)")
        self.preview.set_strokes(strokes_from_stroke3(choice.strokes))

    def chosen(self) -> int:
        return self.index.value()


@dataclass(frozen=True)
class ExportOptions:
    """What the export dialog chose: the target, ``cell`` size in pixels, transparent background or white."""

    target: ExportTarget
    cell: int
    transparent: bool


class ExportDialog(QDialog):
    """Pick what to export (only targets that have something to show), the size and the background; the title and
    the first line say which format the file will be."""

    def __init__(self, fmt: ExportFormat, targets: list[ExportTarget], default_target: ExportTarget | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Export {fmt.value}")
        self.format_label = QLabel(f"Format: <b>{fmt.value}</b> ({html.escape(fmt.description)}, {fmt.suffix})", self)
        self.target = QComboBox(self)
        self._targets = list(targets)
        for target in targets:
            self.target.addItem(target.label)
        if default_target in targets:
            self.target.setCurrentIndex(targets.index(default_target))
        self.cell = QSpinBox(self)
        self.cell.setRange(32, 4096)
        self.cell.setSingleStep(64)
        self.cell.setValue(512 if fmt.value != "GIF" else 256)
        self.cell.setSuffix(" px")
        self.background = QComboBox(self)
        self.background.addItem("White", False)
        self.background.addItem("Transparent", True)
        form = QFormLayout()
        form.addRow("&What:", self.target)
        form.addRow("&Size (each sketch):", self.cell)
        form.addRow("&Background:", self.background)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.format_label)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def options(self) -> ExportOptions:
        return ExportOptions(self._targets[self.target.currentIndex()], self.cell.value(),
                             bool(self.background.currentData()))


def model_info_html(name: str, path: str, provider: str | None, facts: list[tuple[str, str]], license_text: str) -> str:
    rows = [f"<h3>{html.escape(name)}</h3>", f"<p>Folder: {html.escape(path)}</p>", "<table>"]
    if provider:
        rows.append(f"<tr><td><b>Runs on</b>&nbsp;</td><td>{html.escape(provider)} (ONNX Runtime)</td></tr>")
    for label, text in facts:
        value = html.escape(text).replace(chr(10), "<br>")
        rows.append(f"<tr><td><b>{html.escape(label)}</b>&nbsp;</td><td>{value}</td></tr>")
    rows.append("</table>")
    rows.append(
        "<p><b>Data license.</b> The model learned from the data set(s) below; what you make with it is bound by "
        f"their terms:<br>{html.escape(license_text).replace(chr(10), '<br>')}</p>"
    )
    return "".join(rows)
