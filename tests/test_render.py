"""Rendering: PNGs decoded back and checked pixel by pixel against the stroke geometry; SVG parsed as XML."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np
import pytest

from sketchgen.errors import SketchError
from sketchgen.render import encode_png, grid_png, rasterize, sketch_png, sketch_svg
from sketchgen.strokes import bounds, polylines_to_stroke3, stroke3_to_polylines

SVG = "{http://www.w3.org/2000/svg}"
PLUS = polylines_to_stroke3([[[-50, 0], [50, 0]], [[0, -50], [0, 50]]])


def decode_png(data: bytes) -> np.ndarray:
    """A small independent PNG reader (8-bit RGBA, all five row filters) that checks every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, color_type, _, _, interlace = header
    assert (depth, color_type, interlace) == (8, 6, 0), "8-bit RGBA, not interlaced"
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * 4)
    out = np.zeros((height, width * 4), dtype=np.int32)
    for y in range(height):
        kind, row = raw[y, 0], raw[y, 1:].astype(np.int32)
        up = out[y - 1] if y else np.zeros(width * 4, np.int32)
        if kind == 0:
            out[y] = row
        elif kind == 2:
            out[y] = (row + up) % 256
        else:  # 1, 3, 4 depend on the left neighbour: byte by byte
            for x in range(width * 4):
                left = out[y, x - 4] if x >= 4 else 0
                up_left = up[x - 4] if x >= 4 else 0
                if kind == 1:
                    pred = left
                elif kind == 3:
                    pred = (left + up[x]) // 2
                else:
                    p = left + up[x] - up_left
                    pa, pb, pc = abs(p - left), abs(p - up[x]), abs(p - up_left)
                    pred = left if pa <= pb and pa <= pc else (up[x] if pb <= pc else up_left)
                out[y, x] = (row[x] + pred) % 256
    return out.reshape(height, width, 4).astype(np.uint8)


def fitted(lines: list[np.ndarray], size: int, stroke_width: float, margin: float) -> list[np.ndarray]:
    """The documented placement: centred, aspect kept, longest side = size*(1-2*margin) - stroke_width."""
    pts = np.concatenate(lines)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    longest = (hi - lo).max()
    scale = (size * (1 - 2 * margin) - stroke_width) / longest if longest > 0 else 1.0
    return [(line - (lo + hi) / 2) * scale + size / 2 for line in lines]


def distance_to_strokes(lines: list[np.ndarray], size: int) -> np.ndarray:
    """Distance from every pixel centre to the nearest stroke segment (brute force)."""
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    best = np.full((size, size), np.inf)
    for line in lines:
        pairs = zip(line[:-1], line[1:]) if len(line) > 1 else [(line[0], line[0])]
        for a, b in pairs:
            ab = b - a
            denom = ab @ ab
            t = np.zeros_like(xs) if denom == 0 else np.clip(((xs - a[0]) * ab[0] + (ys - a[1]) * ab[1]) / denom, 0, 1)
            best = np.minimum(best, np.hypot(xs - a[0] - t * ab[0], ys - a[1] - t * ab[1]))
    return best


# ---------------------------------------------------------------- PNG


def test_png_is_valid_rgba_and_ink_lies_exactly_on_the_strokes(make_sketch):
    size, width, margin = 96, 3.0, 0.05
    for seed in range(4):
        s = make_sketch(seed, n_points=30, n_strokes=1 + seed)
        image = decode_png(sketch_png(s, size=size, stroke_width=width, margin=margin))
        assert image.shape == (size, size, 4)
        assert np.all(image[..., 3] == 255), "opaque on a white background"
        darkness = 255 - image[..., 0].astype(int)
        assert np.all(image[..., 0] == image[..., 1]) and np.all(image[..., 1] == image[..., 2]), "grey levels"
        dist = distance_to_strokes(fitted(stroke3_to_polylines(s), size, width, margin), size)
        # a pixel's box filter reaches 0.53 px, the supersampled grid rounds by 0.18 px more
        assert np.all(darkness[dist > width / 2 + 0.9] == 0), "no ink away from the strokes"
        assert np.all(darkness[dist <= width / 2 - 1.0] == 255), "solid ink on the strokes"
        assert 0 < np.count_nonzero((darkness > 0) & (darkness < 255)), "edges are antialiased"


def test_png_of_a_plus_sign_draws_the_two_bars_through_the_centre():
    image = decode_png(sketch_png(PLUS, size=128, stroke_width=2.0))
    dark = image[..., 0] < 128
    assert dark[63:65, 10:118].any(axis=0).all(), "horizontal bar across the middle"
    assert dark[10:118, 63:65].any(axis=1).all(), "vertical bar down the middle"
    assert not dark[:40, :40].any() and not dark[-40:, -40:].any(), "quadrants stay white"
    assert not dark[:, :4].any() and not dark[:4, :].any(), "margin stays white"


def test_png_transparent_background_and_colour():
    image = decode_png(sketch_png(PLUS, size=64, background=None, color=(200, 30, 10)))
    ink = image[..., 3] == 255
    assert ink.any() and np.all(image[..., 3][:20, :20] == 0), "transparent off the strokes"
    assert np.all(image[ink][:, :3] == [200, 30, 10])
    on_black = decode_png(sketch_png(PLUS, size=64, background=(0, 0, 0, 255), color=(255, 255, 255)))
    assert on_black[0, 0].tolist() == [0, 0, 0, 255] and on_black[32, 10].tolist() == [255, 255, 255, 255]


def test_png_decodes_in_qt_too():
    qtgui = pytest.importorskip("PySide6.QtGui")
    data = sketch_png(PLUS, size=80)
    image = qtgui.QImage.fromData(data)
    assert not image.isNull() and (image.width(), image.height()) == (80, 80)
    mine = decode_png(data)
    for x, y in [(0, 0), (40, 40), (40, 10), (10, 40), (70, 70)]:
        rgba = image.pixelColor(x, y)
        assert [rgba.red(), rgba.green(), rgba.blue(), rgba.alpha()] == mine[y, x].tolist()


def test_thicker_lines_use_more_ink():
    ink = [float(rasterize(PLUS, 128, stroke_width=w).sum()) for w in (1.0, 2.0, 4.0, 8.0)]
    assert ink == sorted(ink)
    assert ink[3] / ink[1] == pytest.approx(4.0, rel=0.15), "ink grows with the width"


def test_dot_empty_and_long_sketches():
    dot = rasterize(np.array([[5, 5, 1]]), 32, stroke_width=4.0)
    ys, xs = np.nonzero(dot)
    assert dot[16, 16] == 1 and abs(xs.mean() - 15.5) < 0.5 and abs(ys.mean() - 15.5) < 0.5 and len(xs) < 30
    blank = decode_png(sketch_png(np.zeros((0, 3)), size=16))
    assert np.all(blank == 255)
    with pytest.raises(SketchError, match="pen values"):
        sketch_png(np.array([[1, 1, 3]]))
    with pytest.raises(SketchError, match="size"):
        sketch_png(PLUS, size=0)
    far = np.array([[0, 0, 0], [1e6, 1e6, 0], [-1e6, 0, 1]] * 50, dtype=np.float32)  # long segments: still bounded work
    assert rasterize(far, 64).max() == 1


def test_png_speed_250_points_at_256px(make_sketch):
    s = make_sketch(3, n_points=250, n_strokes=12)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        sketch_png(s, size=256)
        times.append(time.perf_counter() - start)
    assert min(times) < 0.05, f"{min(times) * 1000:.1f} ms"


def test_grid_png_places_each_sketch_in_its_cell(make_sketch):
    sketches = [make_sketch(seed, n_points=20) for seed in range(5)]
    image = decode_png(grid_png(sketches, cols=3, cell=48))
    assert image.shape == (96, 144, 4)
    cells = [image[r * 48 : (r + 1) * 48, c * 48 : (c + 1) * 48, 0] for r in range(2) for c in range(3)]
    for i, cell in enumerate(cells[:5]):
        assert (cell < 128).any(), f"cell {i} has its sketch"
        expected = decode_png(sketch_png(sketches[i], size=48, stroke_width=1.5, margin=0.08))[..., 0]
        np.testing.assert_array_equal(cell, expected)
    assert np.all(cells[5] == 255), "the unused cell stays blank"
    with pytest.raises(SketchError, match="no sketches"):
        grid_png([], cols=2)
    with pytest.raises(SketchError, match="cols"):
        grid_png(sketches, cols=0)
    with pytest.raises(SketchError, match="sketch 1: .*NaN"):
        grid_png([sketches[0], np.array([[np.nan, 0, 1]])], cols=2)


def test_encode_png_round_trips_any_image():
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(7, 13, 4), dtype=np.uint8)
    np.testing.assert_array_equal(decode_png(encode_png(rgba)), rgba)


def test_real_sheep_fill_the_square_keeping_their_aspect(shared_data: Path):
    from sketchgen.datafiles import load_npz

    sheep = load_npz(shared_data / "sketch-rnn-datasets" / "aaron_sheep.npz")["test"][:10]
    for s in sheep:
        cover = rasterize(s, 128, stroke_width=2.0, margin=0.05)
        ys, xs = np.nonzero(cover)
        ink_w, ink_h = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
        min_x, max_x, min_y, max_y = bounds(s)
        assert max(ink_w, ink_h) == pytest.approx(128 * 0.9, abs=2.5), "longest side fills the square"
        assert ink_w / ink_h == pytest.approx((max_x - min_x + 3) / (max_y - min_y + 3), rel=0.1)
        assert xs.min() >= 5 and ys.min() >= 5 and xs.max() <= 122 and ys.max() <= 122, "margin kept"


# ---------------------------------------------------------------- SVG


def parse_path(d: str) -> np.ndarray:
    commands = re.findall(r"([ML])\s*(-?[\d.]+)[ ,](-?[\d.]+)", d)
    assert commands and commands[0][0] == "M" and all(c == "L" for c, _, _ in commands[1:])
    assert len(commands) == len(re.findall(r"[A-Za-z]", d)), "only M and L commands"
    return np.array([[float(x), float(y)] for _, x, y in commands])


def test_svg_has_one_path_per_stroke_with_the_stroke_points(make_sketch):
    s = make_sketch(5, n_points=40, n_strokes=4)
    root = ET.fromstring(sketch_svg(s))
    assert root.tag == f"{SVG}svg"
    paths = root.findall(f".//{SVG}path")
    lines = stroke3_to_polylines(s)
    assert len(paths) == len(lines) == 4
    for path, line in zip(paths, lines):
        np.testing.assert_allclose(parse_path(path.get("d")), line, atol=1e-3)
    vx, vy, vw, vh = map(float, root.get("viewBox").split())
    min_x, max_x, min_y, max_y = bounds(s)
    assert vx < min_x and vy < min_y and vx + vw > max_x and vy + vh > max_y, "viewBox holds the sketch"
    assert (min_x - vx) <= 0.1 * max(vw, vh), "with a small margin, not a huge one"
    assert root.find(f"{SVG}rect") is None


def test_svg_size_background_dot_and_escaping():
    root = ET.fromstring(sketch_svg(PLUS, size=200, background='#fff" onload="x', color="<red>&"))
    assert max(float(root.get("width")), float(root.get("height"))) == pytest.approx(200)
    rect = root.find(f"{SVG}rect")
    assert rect.get("fill") == '#fff" onload="x' and rect.get("onload") is None
    assert root.find(f"{SVG}g").get("stroke") == "<red>&"
    dot = ET.fromstring(sketch_svg(np.array([[3, 4, 1]])))
    (path,) = dot.findall(f".//{SVG}path")
    np.testing.assert_allclose(parse_path(path.get("d")), [[3, 4], [3, 4]])
    assert ET.fromstring(sketch_svg(np.zeros((0, 3)))).findall(f".//{SVG}path") == []
    with pytest.raises(SketchError, match="NaN"):
        sketch_svg(np.array([[np.nan, 1, 1]]))


def test_svg_renders_in_qt_where_the_png_has_ink():
    qtsvg = pytest.importorskip("PySide6.QtSvg")
    qtgui = pytest.importorskip("PySide6.QtGui")
    qtcore = pytest.importorskip("PySide6.QtCore")
    renderer = qtsvg.QSvgRenderer(qtcore.QByteArray(sketch_svg(PLUS, size=64, stroke_width=3).encode()))
    assert renderer.isValid()
    image = qtgui.QImage(64, 64, qtgui.QImage.Format.Format_ARGB32)
    image.fill(0xFFFFFFFF)
    painter = qtgui.QPainter(image)
    renderer.render(painter)
    painter.end()
    assert qtgui.QColor(image.pixel(32, 32)).red() < 100, "the centre of the plus is inked"
    assert qtgui.QColor(image.pixel(3, 3)).red() == 255, "the corner is not"


def test_render_module_imports_neither_qt_nor_tensorflow():
    code = (
        "import sys, sketchgen.render\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'tensorflow', 'keras')]\n"
        "print(bad)\n"
        "sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
