"""Export pictures of sketches: PNG (QImage), SVG (QSvgGenerator: one ``<path>`` per stroke) and animated GIF
(QPainter frames encoded by :func:`sketchgen.render.encode_gif`).

A :class:`Picture` is one or more sketches laid out in a grid of square cells (a single sketch is a 1x1 grid), so the
drawing, the continuation grid, the morph strip and the morph grid all export the same way. ``cell`` is the side of
one cell in pixels: a single sketch exported at 512 is 512x512; a 2x2 continuation grid at 256 is 512x512.
Every file is written atomically (rendered in memory, then :func:`sketchgen.fileio.atomic_write`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRect, QRectF, QSize
from PySide6.QtGui import QColor, QImage, QPainter

from desktop.geometry import truncate_lines
from desktop.painting import InkLine, paint_cells, paint_fitted
from sketchgen.errors import DataFileError, SketchGenError
from sketchgen.fileio import atomic_write
from sketchgen.render import encode_gif

__all__ = [
    "Picture",
    "line_width_for",
    "render_image",
    "export_png",
    "export_svg",
    "gif_frame_points",
    "export_gif",
    "GIF_LEVELS",
]

GIF_LEVELS = 63  # shades per ink colour in a GIF (4 inks x 63 + background fit in 256 colours)
MAX_GIF_INKS = 4


@dataclass
class Picture:
    """Sketches (as coloured ink lines) in a grid, ``columns`` wide, row by row."""

    cells: list[list[InkLine]]
    columns: int = 1

    def __post_init__(self) -> None:
        if not self.cells or not any(self.cells):
            raise SketchGenError("nothing to export: the picture has no strokes")
        self.columns = max(1, min(self.columns, len(self.cells)))

    @property
    def rows(self) -> int:
        return -(-len(self.cells) // self.columns)

    def size(self, cell: int) -> QSize:
        return QSize(self.columns * cell, self.rows * cell)

    def stroke_count(self) -> int:
        return sum(len(lines) for lines in self.cells)


def line_width_for(cell: int) -> float:
    """Pen width that looks like the screen's 2 px at 256 px and scales with the picture."""
    return max(1.0, cell / 128.0)


def _write(path: str | os.PathLike[str], data: bytes) -> None:
    try:
        with atomic_write(path, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise DataFileError(path, f"cannot write ({exc.strerror or exc})") from None


def _paint(painter: QPainter, picture: Picture, cell: int, background: QColor | None) -> None:
    if background is not None:
        painter.fillRect(QRectF(0, 0, picture.columns * cell, picture.rows * cell), background)
    paint_cells(painter, picture.cells, picture.columns, cell, line_width_for(cell))


def render_image(picture: Picture, cell: int, transparent: bool = False) -> QImage:
    """The picture as an ARGB image, white or transparent behind the strokes."""
    size = picture.size(cell)
    image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor(0, 0, 0, 0) if transparent else QColor(255, 255, 255))
    painter = QPainter(image)
    _paint(painter, picture, cell, None)
    painter.end()
    return image


def export_png(path: str | os.PathLike[str], picture: Picture, cell: int = 512, transparent: bool = False) -> None:
    image = render_image(picture, cell, transparent)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise DataFileError(path, "cannot encode the PNG image")
    buffer.close()
    _write(path, bytes(data))


def export_svg(
    path: str | os.PathLike[str], picture: Picture, cell: int = 512, transparent: bool = False, title: str = "sketch"
) -> None:
    """Vector SVG: every stroke one ``<path>``; a white ``<rect>`` behind them unless ``transparent``."""
    from PySide6.QtSvg import QSvgGenerator  # only needed here; keeps start-up lean

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    size = picture.size(cell)
    generator = QSvgGenerator()
    generator.setOutputDevice(buffer)
    generator.setSize(size)
    generator.setViewBox(QRect(0, 0, size.width(), size.height()))
    generator.setResolution(96)
    generator.setTitle(title)
    generator.setDescription("Drawn with SketchGen (sketch-rnn)")
    painter = QPainter(generator)
    _paint(painter, picture, cell, None if transparent else QColor(255, 255, 255))
    painter.end()
    buffer.close()
    _write(path, bytes(data))


def gif_frame_points(total_points: int, max_frames: int) -> list[int]:
    """How many points each GIF frame shows: every point when there are few, else ``max_frames`` even steps."""
    if total_points <= 0:
        return []
    if total_points <= max_frames:
        return list(range(1, total_points + 1))
    return [int(v) for v in np.unique(np.linspace(1, total_points, max_frames).round().astype(int))]


def _ink_palette(inks: list[QColor], transparent: bool) -> np.ndarray:
    palette = [(255, 255, 255)]
    for ink in inks:
        rgb = np.array([ink.red(), ink.green(), ink.blue()], dtype=np.float64)
        for level in range(1, GIF_LEVELS + 1):
            a = 1.0 if transparent else level / GIF_LEVELS
            palette.append(tuple(np.round(255.0 * (1 - a) + rgb * a).astype(int)))
    return np.array(palette, dtype=np.uint8)


def _quantise(image: QImage, inks: list[QColor], transparent: bool) -> np.ndarray:
    """ARGB image painted on transparency -> palette indices: 0 background, then GIF_LEVELS shades per ink."""
    image = image.convertToFormat(QImage.Format.Format_ARGB32)
    h, w = image.height(), image.width()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(h, image.bytesPerLine())[:, : w * 4]
    bgra = raw.reshape(h, w, 4).astype(np.int32)
    alpha = bgra[..., 3]
    level = np.rint(alpha * GIF_LEVELS / 255.0).astype(np.int32)
    if transparent:
        level = np.where(alpha >= 128, GIF_LEVELS, 0)
    ink_rgb = np.array([[c.blue(), c.green(), c.red()] for c in inks], dtype=np.int32)
    if len(inks) == 1:
        which = np.zeros((h, w), dtype=np.int32)
    else:
        distance = ((bgra[..., None, :3] - ink_rgb[None, None, :, :]) ** 2).sum(axis=-1)
        which = distance.argmin(axis=-1)
    return np.where(level > 0, 1 + which * GIF_LEVELS + (level - 1), 0).astype(np.uint8)


def export_gif(
    path: str | os.PathLike[str],
    lines: Sequence[InkLine],
    size: int = 256,
    transparent: bool = False,
    max_frames: int = 120,
    frame_ms: int = 40,
    hold_ms: int = 1500,
) -> int:
    """An animated GIF of the sketch being drawn point by point; returns the number of frames.

    Frame k shows the first ``gif_frame_points(...)[k]`` points, fitted like the finished sketch; the last frame is
    held for ``hold_ms`` before the animation loops.
    """
    lines = [line for line in lines if len(line.points)]
    total = sum(len(line.points) for line in lines)
    if total == 0:
        raise DataFileError(path, "cannot export an empty sketch")
    inks: list[QColor] = []
    for line in lines:
        if all(line.color.rgb() != ink.rgb() for ink in inks):
            inks.append(QColor(line.color))
    inks = inks[:MAX_GIF_INKS]
    frames = []
    full = [line.points for line in lines]
    for shown in gif_frame_points(total, max_frames):
        visible = truncate_lines(full, shown)
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(QColor(0, 0, 0, 0))
        painter = QPainter(image)
        paint_fitted(
            painter, QRectF(0, 0, size, size),
            [InkLine(points, line.color) for points, line in zip(visible, lines)],
            line_width_for(size), fit_to=full,
        )
        painter.end()
        frames.append(_quantise(image, inks, transparent))
    delays = [frame_ms] * len(frames)
    delays[-1] = max(frame_ms, hold_ms)
    data = encode_gif(frames, _ink_palette(inks, transparent), delays, loop=0,
                      transparent_index=0 if transparent else None)
    _write(path, data)
    return len(frames)
