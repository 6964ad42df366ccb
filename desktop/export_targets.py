"""What the person can export, as typed targets, and the export flow: dialog, file name, format, errors.

A target names one thing with strokes (the drawing, the continuation grid, replay item ``index``, a morph result);
:meth:`Exporter.targets` lists only those that have something to show now, and :meth:`Exporter.picture` turns one
into a :class:`desktop.exporting.Picture`. The window keeps the menu actions; everything after them lives here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog, QFileDialog

from desktop.dialogs import ExportDialog
from desktop.document import MODEL, USER, strokes_from_stroke3
from desktop.morph import GRID_SIZE
from desktop.painting import InkLine, inked, user_and_model
from sketchgen.errors import SketchGenError

if TYPE_CHECKING:
    from desktop.exporting import Picture
    from desktop.main_window import MainWindow

__all__ = ["TargetKind", "ExportTarget", "ExportFormat", "Exporter"]


class ExportFormat(enum.Enum):
    PNG = "PNG"
    SVG = "SVG"
    GIF = "GIF"

    @property
    def suffix(self) -> str:
        return f".{self.value.lower()}"

    @property
    def description(self) -> str:
        return {"PNG": "PNG image", "SVG": "SVG vector paths", "GIF": "animated GIF"}[self.value]


class TargetKind(enum.Enum):
    DRAWING = "drawing"
    CONTINUATIONS = "continuations"
    REPLAY = "replay"
    MORPH_BETWEEN = "morph-between"
    MORPH_STRIP = "morph-strip"
    MORPH_GRID = "morph-grid"


ANIMATABLE = {TargetKind.DRAWING, TargetKind.REPLAY, TargetKind.MORPH_BETWEEN}
"""Targets that are one sketch, so a GIF can replay them."""


@dataclass(frozen=True)
class ExportTarget:
    """One exportable thing; ``index`` picks the replay item. The label is what the dialog shows."""

    kind: TargetKind
    index: int = 0
    label: str = field(default="", compare=False)

    @property
    def file_stem(self) -> str:
        """The default file name: ``drawing``, ``replay1``, ``morph-strip``..."""
        return f"replay{self.index}" if self.kind is TargetKind.REPLAY else self.kind.value

    @property
    def animatable(self) -> bool:
        return self.kind in ANIMATABLE


def _model_ink(s3: np.ndarray | None) -> list[InkLine]:
    """A decoded sketch in the model's colour (nothing for an empty one)."""
    return inked(strokes_from_stroke3(s3, MODEL)) if s3 is not None and len(s3) else []


class Exporter(QObject):
    """The window's export: which targets exist, their pictures, and writing them (errors shown, never raised)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    def targets(self) -> list[ExportTarget]:
        """What can be exported now, only things that have strokes."""
        w = self.window
        out: list[ExportTarget] = []
        if not w.document.is_empty():
            out.append(ExportTarget(TargetKind.DRAWING, label="The drawing"))
        if any(w.draw_view.continuations):
            out.append(ExportTarget(TargetKind.CONTINUATIONS, label="The suggestion grid"))
        for i, item in enumerate(w.replay_state.items):
            out.append(ExportTarget(TargetKind.REPLAY, i, f"Replay: {item.label}"))
        morph = w.morph_state
        if morph.between is not None and len(morph.between):
            out.append(ExportTarget(TargetKind.MORPH_BETWEEN, label="Morph: the in-between sketch"))
        if any(len(s) for s in morph.strip):
            out.append(ExportTarget(TargetKind.MORPH_STRIP, label="Morph: the strip from A to B"))
        if any(len(s) for s in morph.grid):
            out.append(ExportTarget(TargetKind.MORPH_GRID,
                                    label=f"Morph: the {GRID_SIZE} x {GRID_SIZE} grid between four corners"))
        return out

    def picture(self, target: ExportTarget) -> Picture:
        """The :class:`Picture` for ``target``; SketchGenError when there is nothing to export."""
        from desktop.exporting import Picture  # (with Pillow) on first use: start-up does not wait for it

        w, kind = self.window, target.kind
        if kind is TargetKind.DRAWING and not w.document.is_empty():
            return Picture([inked(w.document.strokes)])
        if kind is TargetKind.CONTINUATIONS and any(w.draw_view.continuations):
            prefix = list(w.document.strokes)
            cells = [user_and_model(prefix, c) for c in w.draw_view.continuations]
            rows, columns = w.draw_view.panel.grid.shape()
            return Picture(cells, columns or (2 if len(cells) <= 4 else 3))
        if kind is TargetKind.REPLAY and 0 <= target.index < len(w.replay_state.items):
            return Picture([inked(w.replay_state.items[target.index].strokes)])
        morph = w.morph_state
        if kind is TargetKind.MORPH_BETWEEN and morph.between is not None:
            return Picture([_model_ink(morph.between)])
        if kind is TargetKind.MORPH_STRIP and morph.strip:
            ends = [inked(strokes_from_stroke3(morph.slots[n], USER)) if morph.filled(n) else [] for n in "AB"]
            cells = [ends[0], *(_model_ink(s) for s in morph.strip), ends[1]]  # as the tab shows it: A ... B
            return Picture(cells, len(cells))
        if kind is TargetKind.MORPH_GRID and morph.grid:
            return Picture([_model_ink(s) for s in morph.grid], GRID_SIZE)
        raise SketchGenError(f"nothing to export for {target.file_stem!r}: it is empty")

    def default_target(self, targets: list[ExportTarget]) -> ExportTarget | None:
        """What the current tab shows: the drawing, the first replay or the morph strip."""
        w = self.window
        shown = w.tabs.currentWidget()
        wanted = {id(w.replay_view): TargetKind.REPLAY, id(w.morph_view): TargetKind.MORPH_STRIP}.get(
            id(shown), TargetKind.DRAWING)
        return next((t for t in targets if t.kind is wanted), targets[0] if targets else None)

    def export_dialog(self, fmt: ExportFormat) -> None:
        w = self.window
        targets = [t for t in self.targets() if fmt is not ExportFormat.GIF or t.animatable]
        if not targets:
            w.show_status("Nothing to export yet: draw, open or sample a sketch first.")
            return
        dialog = ExportDialog(fmt, targets, self.default_target(targets), w)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        options = dialog.options()
        start = str(Path(w.settings.last_folder() or ".") / f"{options.target.file_stem}{fmt.suffix}")
        path, _ = QFileDialog.getSaveFileName(w, f"Export {fmt.value}", start, f"{fmt.description} (*{fmt.suffix})")
        if not path:
            return
        file = Path(path) if path.lower().endswith(fmt.suffix) else Path(f"{path}{fmt.suffix}")
        w.settings.set_last_folder(str(file.parent))
        self.export(fmt, file, options.target, options.cell, options.transparent)

    def export(self, fmt: ExportFormat, path: str | Path, target: ExportTarget, cell: int = 512,
               transparent: bool = False) -> bool:
        """Export ``target`` as ``fmt`` to ``path``; errors are shown, never raised."""
        from desktop.exporting import export_gif, export_png, export_svg

        w, path = self.window, Path(path)
        try:
            picture = self.picture(target)
            if fmt is ExportFormat.PNG:
                export_png(path, picture, cell, transparent)
            elif fmt is ExportFormat.SVG:
                export_svg(path, picture, cell, transparent, title=target.label or target.file_stem)
            else:
                frames = export_gif(path, picture.cells[0], cell, transparent)
                w.show_status(f"Exported {path.name} ({frames} frames).")
                return True
        except SketchGenError as exc:
            w.show_error(f"Cannot export {fmt.value}", str(exc) if str(path) in str(exc) else f"{path}: {exc}")
            return False
        w.show_status(f"Exported {path.name}.")
        return True
