"""Exports from the real window: PNG decodes at the chosen size with dark strokes, SVG has one <path> per stroke,
the GIF has one frame per replay step, and failed writes name the file."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtGui import QImage, QImageReader

from desktop.export_targets import ExportFormat, ExportTarget, TargetKind
from desktop._testsupport import dark_pixels, draw_stroke, make_window, sketchgen_home, zigzag  # noqa: F401
from desktop.document import MODEL, Stroke
from desktop.exporting import Picture, export_gif, export_png, export_svg, gif_frame_points
from desktop.painting import MODEL_INK, USER_INK, InkLine, inked
from sketchgen.errors import SketchGenError

SVG = "{http://www.w3.org/2000/svg}"


def _draw_three_strokes(window) -> None:
    for y in (60, 120, 180):
        draw_stroke(window.draw_view.canvas, zigzag(8, 60, y))


def test_png_export_has_the_chosen_size_and_dark_strokes(make_window, tmp_path):
    window = make_window()
    _draw_three_strokes(window)
    path = tmp_path / "drawing.png"
    assert window.exports.export(ExportFormat.PNG, path, ExportTarget(TargetKind.DRAWING), cell=300)
    image = QImage(str(path))
    assert not image.isNull()
    assert (image.width(), image.height()) == (300, 300)
    assert dark_pixels(image) > 300
    corner = image.pixelColor(0, 0)
    assert (corner.red(), corner.green(), corner.blue(), corner.alpha()) == (255, 255, 255, 255)


def test_png_transparent_background(make_window, tmp_path):
    window = make_window()
    _draw_three_strokes(window)
    path = tmp_path / "clear.png"
    assert window.exports.export(ExportFormat.PNG, path, ExportTarget(TargetKind.DRAWING), cell=128, transparent=True)
    image = QImage(str(path))
    assert image.hasAlphaChannel() and image.pixelColor(0, 0).alpha() == 0
    assert dark_pixels(image) > 50


def test_svg_export_has_one_path_per_stroke(make_window, tmp_path):
    window = make_window()
    _draw_three_strokes(window)
    path = tmp_path / "drawing.svg"
    assert window.exports.export(ExportFormat.SVG, path, ExportTarget(TargetKind.DRAWING), cell=400)
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg" and root.get("viewBox") == "0 0 400 400"
    paths = list(root.iter(f"{SVG}path"))
    assert len(paths) == 3
    for element, stroke in zip(paths, window.document.strokes):
        commands = element.get("d").split()
        assert commands[0].startswith("M") and len([c for c in commands if c[0] in "ML"]) == len(stroke.points)


def test_grid_and_strip_pictures_lay_out_cells(tmp_path):
    line = np.array([[0.0, 0.0], [10.0, 5.0], [20.0, 0.0]])
    cells = [[InkLine(line, USER_INK), InkLine(line + 3, MODEL_INK)] for _ in range(6)]
    png, svg = tmp_path / "grid.png", tmp_path / "grid.svg"
    export_png(png, Picture(cells, 3), cell=100)
    assert (QImage(str(png)).width(), QImage(str(png)).height()) == (300, 200)
    export_svg(svg, Picture(cells, 3), cell=100)
    assert len(list(ET.parse(svg).getroot().iter(f"{SVG}path"))) == 12
    # Continuation colour is kept in the vector file.
    text = svg.read_text()
    assert MODEL_INK.name().lower() in text.lower() and "#000000" in text


def _gif_frames(data: bytes) -> list[tuple[int, int, int, int]]:
    """A tiny GIF block walker (independent of the writer): the (left, top, width, height) of every image."""
    assert data[:6] == b"GIF89a"
    flags = data[10]
    pos = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    frames = []
    while data[pos] != 0x3B:
        if data[pos] == 0x21:  # extension: label, then sub-blocks
            pos += 2
            while data[pos]:
                pos += data[pos] + 1
            pos += 1
        elif data[pos] == 0x2C:
            left, top, width, height, local = struct.unpack("<HHHHB", data[pos + 1 : pos + 10])
            frames.append((left, top, width, height))
            pos += 10 + (3 * (2 << (local & 7)) if local & 0x80 else 0) + 1  # + LZW min code size
            while data[pos]:
                pos += data[pos] + 1
            pos += 1
        else:
            raise AssertionError(f"unexpected GIF block 0x{data[pos]:02x} at {pos}")
    return frames


def test_gif_of_a_replay_has_one_frame_per_point_and_decodes(make_window, tmp_path):
    window = make_window()
    _draw_three_strokes(window)
    points = window.document.point_count()
    window.replay_drawing_action.trigger()
    path = tmp_path / "replay.gif"
    assert window.exports.export(ExportFormat.GIF, path, ExportTarget(TargetKind.REPLAY, 0), cell=96)
    data = path.read_bytes()
    frames = _gif_frames(data)
    assert len(frames) == points == 24
    assert frames[0][2:] == (96, 96)  # the first frame is whole, later ones only what changed
    reader = QImageReader(str(path))
    assert reader.imageCount() == points
    images = []
    while reader.canRead():
        images.append(reader.read())
    assert len(images) == points
    darkness = [dark_pixels(image, 160) for image in images]
    assert darkness[0] < darkness[len(darkness) // 2] < darkness[-1]  # the sketch grows frame by frame
    assert reader.loopCount() == -1  # loops forever


def test_long_gif_is_capped_and_transparent_gif_keeps_colours(tmp_path):
    line = np.c_[np.arange(300.0), np.sin(np.arange(300.0) / 9) * 40]
    lines = [InkLine(line, USER_INK), InkLine(line + [0, 80], MODEL_INK)]
    assert gif_frame_points(600, 50)[-1] == 600 and len(gif_frame_points(600, 50)) == 50
    path = tmp_path / "long.gif"
    assert export_gif(path, lines, 64, transparent=True, max_frames=50) == 50
    assert len(_gif_frames(path.read_bytes())) == 50
    reader = QImageReader(str(path))
    image = None
    while reader.canRead():
        image = reader.read()
    last = image.convertToFormat(QImage.Format.Format_ARGB32)
    assert last.pixelColor(0, 0).alpha() == 0
    colours = {last.pixelColor(x, y).name() for x in range(64) for y in range(64) if last.pixelColor(x, y).alpha()}
    assert USER_INK.name() in colours and MODEL_INK.name() in colours


def test_export_errors_name_the_file(make_window, tmp_path):
    window = make_window()
    nothing_drawn = ExportTarget(TargetKind.DRAWING)
    assert not window.exports.export(ExportFormat.PNG, tmp_path / "empty.png", nothing_drawn)
    assert window.errors and "empty.png" in window.errors[-1][1]
    _draw_three_strokes(window)
    target = tmp_path / "missing-folder" / "out.svg"
    assert not window.exports.export(ExportFormat.SVG, target, ExportTarget(TargetKind.DRAWING))
    title, message = window.errors[-1]
    assert "SVG" in title and str(target) in message and "cannot write" in message
    assert not target.exists()


def test_export_targets_follow_what_exists(make_window):
    window = make_window()
    assert window.exports.targets() == []
    _draw_three_strokes(window)
    window.replay_drawing_action.trigger()
    assert window.exports.targets() == [ExportTarget(TargetKind.DRAWING), ExportTarget(TargetKind.REPLAY, 0)]
    assert [t.file_stem for t in window.exports.targets()] == ["drawing", "replay0"]
    window.morph_state.set_strip([window.document.to_stroke3()] * 3)
    assert ExportTarget(TargetKind.MORPH_STRIP) in window.exports.targets()
    picture = window.exports.picture(ExportTarget(TargetKind.MORPH_STRIP))
    assert picture.columns == 5 and picture.rows == 1  # the ends (slots A and B, empty here) and three steps
    with pytest.raises(SketchGenError, match="nothing to export"):
        window.exports.picture(ExportTarget(TargetKind.REPLAY, 5))


def test_export_dialog_names_the_format_and_offers_only_what_a_gif_can_replay(make_window, qtbot):
    from PySide6.QtCore import QTimer

    from desktop.dialogs import ExportDialog

    window = make_window()
    _draw_three_strokes(window)
    window.morph_state.set_strip([window.document.to_stroke3()] * 3)
    seen = {}

    def inspect():
        dialog = next(d for d in window.findChildren(ExportDialog) if d.isVisible())
        seen["title"] = dialog.windowTitle()
        seen["format"] = dialog.format_label.text()
        seen["targets"] = [dialog.target.itemText(i) for i in range(dialog.target.count())]
        dialog.reject()

    QTimer.singleShot(200, inspect)
    window.export_gif_action.trigger()
    assert seen["title"] == "Export GIF" and "GIF" in seen["format"] and "animated" in seen["format"]
    assert seen["targets"] == ["The drawing"]  # the strip is several sketches: not a replay


def test_picture_rejects_nothing():
    with pytest.raises(SketchGenError, match="nothing to export"):
        Picture([[]])
    assert Picture([inked([Stroke(np.zeros((1, 2)), MODEL)])]).stroke_count() == 1
