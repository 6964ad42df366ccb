"""Render stroke-3 sketches to SVG text and PNG bytes without Qt or PIL.

The PNG path is pure numpy + zlib so the core package (used by command-line tools, tests and servers) can draw
sketches with no GUI toolkit. Lines are antialiased by coverage = clip(half_width + 0.5 - distance, 0, 1), the
distance of each pixel centre to the nearest segment, evaluated only near each (short) piece of every segment.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

import numpy as np

from .errors import SketchError
from .strokes import stroke3_to_polylines, validate_stroke3

__all__ = ["sketch_svg", "sketch_png", "grid_png", "rasterize", "encode_png"]

Color = Sequence[int]
WHITE = (255, 255, 255, 255)
_PIECE = 8.0  # longest piece (pixels) a segment is cut into, which bounds the pixels examined per piece


def _polylines(s3: object) -> list[np.ndarray]:
    """Absolute polylines of a sketch; an empty sketch (a model that drew nothing) gives none."""
    s = validate_stroke3(s3, allow_empty=True)
    return stroke3_to_polylines(s) if len(s) else []


def _extent(lines: list[np.ndarray]) -> tuple[float, float, float, float]:
    if not lines:
        return 0.0, 0.0, 0.0, 0.0
    pts = np.concatenate(lines)
    return float(pts[:, 0].min()), float(pts[:, 0].max()), float(pts[:, 1].min()), float(pts[:, 1].max())


def _num(v: float) -> str:
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def sketch_svg(
    s3: object,
    size: float | None = None,
    stroke_width: float = 2.0,
    color: str = "#000",
    background: str | None = None,
    margin: float = 0.05,
) -> str:
    """An SVG document with one ``<path>`` (M/L commands) per stroke and a viewBox fitted to the sketch.

    ``size`` (pixels) sets the longer side of the whole image; ``None`` keeps the sketch's own units.
    ``stroke_width`` is in output pixels either way. ``margin`` is a fraction of the longer side added around the bounds.
    """
    lines = _polylines(s3)
    min_x, max_x, min_y, max_y = _extent(lines)
    longest = max(max_x - min_x, max_y - min_y, 1.0)
    if size is None:
        units_per_px = 1.0
    else:
        if not size > 2 * stroke_width:
            raise SketchError(f"SVG size must exceed twice the stroke width, got size={size}")
        units_per_px = longest * (1 + 2 * margin) / (float(size) - 2 * stroke_width)
    pad = margin * longest + stroke_width * units_per_px
    vx, vy = min_x - pad, min_y - pad
    vw, vh = max_x - min_x + 2 * pad, max_y - min_y + 2 * pad
    width, height = (vw, vh) if size is None else (vw / units_per_px, vh / units_per_px)
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
        f'width="{_num(width)}" height="{_num(height)}" viewBox="{_num(vx)} {_num(vy)} {_num(vw)} {_num(vh)}">'
    ]
    if background is not None:
        parts.append(
            f'<rect x="{_num(vx)}" y="{_num(vy)}" width="{_num(vw)}" height="{_num(vh)}" fill={quoteattr(background)}/>'
        )
    parts.append(
        f'<g fill="none" stroke={quoteattr(color)} stroke-width="{_num(stroke_width * units_per_px)}" '
        'stroke-linecap="round" stroke-linejoin="round">'
    )
    for line in lines:
        if len(line) == 1:  # a dot: a zero-length segment, drawn by its round caps
            line = np.repeat(line, 2, axis=0)
        d = f"M{_num(line[0, 0])} {_num(line[0, 1])}" + "".join(f" L{_num(x)} {_num(y)}" for x, y in line[1:])
        parts.append(f'<path d="{d}"/>')
    parts.append("</g></svg>")
    return "\n".join(parts) + "\n"


def _segments(lines: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points of every segment, cut into pieces no longer than _PIECE; a dot is a zero-length one."""
    starts, ends = [], []
    for line in lines:
        if len(line) == 1:
            starts.append(line)
            ends.append(line)
        else:
            starts.append(line[:-1])
            ends.append(line[1:])
    if not starts:
        return np.zeros((0, 2)), np.zeros((0, 2))
    a, b = np.concatenate(starts), np.concatenate(ends)
    pieces = np.maximum(np.ceil(np.hypot(*(b - a).T) / _PIECE).astype(np.int64), 1)
    seg = np.repeat(np.arange(len(a)), pieces)
    k = np.arange(len(seg)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    frac0 = (k / pieces[seg])[:, None]
    frac1 = ((k + 1) / pieces[seg])[:, None]
    delta = (b - a)[seg]
    return a[seg] + frac0 * delta, a[seg] + frac1 * delta


def _fit(lines: list[np.ndarray], size: int, stroke_width: float, margin: float) -> list[np.ndarray]:
    """Scale and centre the polylines into a ``size`` square, keeping the aspect ratio and a margin."""
    min_x, max_x, min_y, max_y = _extent(lines)
    room = size * (1.0 - 2.0 * margin) - stroke_width
    longest = max(max_x - min_x, max_y - min_y)
    scale = room / longest if longest > 0 else 1.0
    cx, cy = (min_x + max_x) / 2.0, (min_y + max_y) / 2.0
    return [(line - (cx, cy)) * scale + size / 2.0 for line in lines]


def rasterize(s3: object, size: int = 256, stroke_width: float = 2.0, margin: float = 0.05) -> np.ndarray:
    """Antialiased ink coverage in [0, 1], float32 ``[size, size]``, of a sketch fitted into the square."""
    size = int(size)
    if size < 1:
        raise SketchError(f"image size must be at least 1 pixel, got {size}")
    cover = np.zeros(size * size, dtype=np.float32)
    a, b = _segments(_fit(_polylines(s3), size, stroke_width, margin))
    if len(a) == 0:
        return cover.reshape(size, size)
    reach = stroke_width / 2.0 + 0.5  # beyond this distance a pixel gets no ink
    x0 = np.clip(np.floor(np.minimum(a[:, 0], b[:, 0]) - reach), 0, size).astype(np.int64)
    x1 = np.clip(np.ceil(np.maximum(a[:, 0], b[:, 0]) + reach), 0, size).astype(np.int64)
    y0 = np.clip(np.floor(np.minimum(a[:, 1], b[:, 1]) - reach), 0, size).astype(np.int64)
    y1 = np.clip(np.ceil(np.maximum(a[:, 1], b[:, 1]) + reach), 0, size).astype(np.int64)
    w, h = x1 - x0, y1 - y0
    n = w * h
    piece = np.repeat(np.arange(len(a)), n)
    local = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    py_, px_ = np.divmod(local, w[piece])
    px_ += x0[piece]
    py_ += y0[piece]
    ax, ay = a[piece, 0], a[piece, 1]
    abx, aby = b[piece, 0] - ax, b[piece, 1] - ay
    qx, qy = px_ + 0.5 - ax, py_ + 0.5 - ay  # pixel centres relative to the piece start
    length2 = abx * abx + aby * aby
    t = np.clip(np.divide(qx * abx + qy * aby, length2, out=np.zeros_like(length2), where=length2 > 0), 0.0, 1.0)
    dist = np.hypot(qx - t * abx, qy - t * aby)
    ink = np.clip(reach - dist, 0.0, 1.0).astype(np.float32)
    hit = ink > 0
    np.maximum.at(cover, (py_ * size + px_)[hit], ink[hit])
    return cover.reshape(size, size)


def _rgba(cover: np.ndarray, color: Color, background: Color | None) -> np.ndarray:
    """Composite ink of ``color`` over ``background`` (None = transparent) into uint8 RGBA."""
    ink = np.asarray(tuple(color)[:3], dtype=np.float32) / 255.0
    ink_alpha = (tuple(color)[3] / 255.0 if len(tuple(color)) > 3 else 1.0) * cover[..., None]
    if background is None:
        bg, bg_alpha = np.zeros(3, np.float32), 0.0
    else:
        bg = np.asarray(tuple(background)[:3], dtype=np.float32) / 255.0
        bg_alpha = tuple(background)[3] / 255.0 if len(tuple(background)) > 3 else 1.0
    out_alpha = ink_alpha + bg_alpha * (1.0 - ink_alpha)
    rgb = np.divide(
        ink * ink_alpha + bg * bg_alpha * (1.0 - ink_alpha), out_alpha, out=np.zeros(cover.shape + (3,), np.float32),
        where=out_alpha > 0,
    )
    out = np.concatenate([rgb, out_alpha], axis=-1)
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def encode_png(rgba: np.ndarray) -> bytes:
    """Encode a uint8 ``[H, W, 4]`` array as an 8-bit RGBA PNG (filter 0 rows, zlib, CRC'd chunks)."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.shape[0] < 1 or rgba.shape[1] < 1:
        raise ValueError(f"encode_png needs a [H, W, 4] image, got shape {rgba.shape}")
    height, width = rgba.shape[:2]
    raw = np.zeros((height, width * 4 + 1), dtype=np.uint8)  # a leading filter byte 0 on every row
    raw[:, 1:] = rgba.reshape(height, width * 4)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def sketch_png(
    s3: object,
    size: int = 256,
    background: Color | None = WHITE,
    color: Color = (0, 0, 0),
    stroke_width: float = 2.0,
    margin: float = 0.05,
) -> bytes:
    """A ``size`` x ``size`` RGBA PNG of the sketch fitted with a margin; ``background=None`` is transparent."""
    return encode_png(_rgba(rasterize(s3, size, stroke_width, margin), color, background))


def grid_png(
    sketches: Sequence[object],
    cols: int,
    cell: int = 128,
    background: Color | None = WHITE,
    color: Color = (0, 0, 0),
    stroke_width: float = 1.5,
    margin: float = 0.08,
) -> bytes:
    """Several sketches in a grid of ``cell``-pixel squares, ``cols`` per row, filled row by row."""
    if len(sketches) == 0:
        raise SketchError("grid_png: no sketches to draw")
    cols = int(cols)
    if cols < 1:
        raise SketchError(f"grid_png: cols must be at least 1, got {cols}")
    rows = -(-len(sketches) // cols)
    cover = np.zeros((rows * cell, cols * cell), dtype=np.float32)
    for i, s in enumerate(sketches):
        r, c = divmod(i, cols)
        sketch = validate_stroke3(s, name=f"grid_png: sketch {i}", allow_empty=True)
        cover[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell] = rasterize(sketch, cell, stroke_width, margin)
    return encode_png(_rgba(cover, color, background))
