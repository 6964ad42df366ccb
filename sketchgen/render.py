"""Pictures of stroke-3 sketches without Qt: SVG text, anti-aliased PNG bytes and animated GIF bytes.

The core package (command-line tools, tests, servers, TensorBoard images) draws with no GUI toolkit, so raster images
come from Pillow: strokes are drawn with round caps and joins at ``SUPERSAMPLE`` times the size and box-filtered down,
which anti-aliases every edge; Pillow encodes the PNG and GIF files. The app keeps QPainter for what it shows on
screen and hands its GIF frames to :func:`encode_gif`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

import numpy as np
from PIL import Image, ImageDraw

from .errors import SketchError
from .geometry import fit_mapping, lines_bounds
from .strokes import stroke3_to_polylines, validate_stroke3

__all__ = ["sketch_svg", "sketch_png", "grid_png", "rasterize", "encode_png", "encode_gif"]

Color = Sequence[int]
WHITE = (255, 255, 255, 255)
SUPERSAMPLE = 4  # strokes are drawn this many times larger, then averaged down: 17 levels of edge coverage


def _polylines(s3: object) -> list[np.ndarray]:
    """Absolute polylines of a sketch; an empty sketch (a model that drew nothing) gives none."""
    s = validate_stroke3(s3, allow_empty=True)
    return stroke3_to_polylines(s) if len(s) else []


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
    ``stroke_width`` is in output pixels either way. ``margin`` is a fraction of the longer side added around the
    bounds.
    """
    lines = _polylines(s3)
    min_x, max_x, min_y, max_y = lines_bounds(lines) or (0.0, 0.0, 0.0, 0.0)
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


def _fit(lines: list[np.ndarray], size: int, stroke_width: float, margin: float) -> list[np.ndarray]:
    """Scale and centre the polylines into a ``size`` square, keeping the aspect ratio, a margin and the ink inside."""
    mapping = fit_mapping(lines_bounds(lines), (0.0, 0.0, size, size), margin, inset=stroke_width)
    return [mapping.to_screen(line) for line in lines]


def _coverage(s3: object, size: int, stroke_width: float, margin: float) -> Image.Image:
    """Ink coverage (mode "L", 0..255) of a sketch fitted into a ``size`` square."""
    size = int(size)
    if size < 1:
        raise SketchError(f"image size must be at least 1 pixel, got {size}")
    k = SUPERSAMPLE
    canvas = Image.new("L", (size * k, size * k), 0)
    draw = ImageDraw.Draw(canvas)
    width = stroke_width * k
    r = max(width / 2.0 - 0.5, 0.0)  # a cap's bounding box runs between the centres of its outermost pixels
    for line in _fit(_polylines(s3), size, stroke_width, margin):
        points = [(float(x), float(y)) for x, y in line * k - 0.5]  # pixel j of the canvas is centred on j + 0.5
        if len(points) > 1:
            draw.line(points, fill=255, width=max(1, round(width)))
        for x, y in points:  # round caps and joins; a lone point is a dot
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return canvas.reduce(k)


def rasterize(s3: object, size: int = 256, stroke_width: float = 2.0, margin: float = 0.05) -> np.ndarray:
    """Anti-aliased ink coverage in [0, 1], float32 ``[size, size]``, of a sketch fitted into the square."""
    return np.asarray(_coverage(s3, size, stroke_width, margin), dtype=np.float32) / 255.0


def _composite(coverage: Image.Image, color: Color, background: Color | None) -> Image.Image:
    """Ink of ``color`` laid over ``background`` (None = transparent) where the coverage says, as an RGBA image."""
    rgba = tuple(color) if len(tuple(color)) > 3 else (*tuple(color), 255)
    alpha = coverage.point(lambda v: round(v * rgba[3] / 255.0))
    ink = Image.new("RGBA", coverage.size, (*rgba[:3], 0))
    ink.putalpha(alpha)
    if background is None:
        return ink
    under = tuple(background) if len(tuple(background)) > 3 else (*tuple(background), 255)
    return Image.alpha_composite(Image.new("RGBA", coverage.size, under), ink)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def encode_png(rgba: np.ndarray) -> bytes:
    """Encode a uint8 ``[H, W, 4]`` array as an 8-bit RGBA PNG."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.shape[0] < 1 or rgba.shape[1] < 1:
        raise ValueError(f"encode_png needs a [H, W, 4] image, got shape {rgba.shape}")
    return _png(Image.fromarray(rgba, "RGBA"))


def sketch_png(
    s3: object,
    size: int = 256,
    background: Color | None = WHITE,
    color: Color = (0, 0, 0),
    stroke_width: float = 2.0,
    margin: float = 0.05,
) -> bytes:
    """A ``size`` x ``size`` RGBA PNG of the sketch fitted with a margin; ``background=None`` is transparent."""
    return _png(_composite(_coverage(s3, size, stroke_width, margin), color, background))


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
    coverage = Image.new("L", (cols * cell, rows * cell), 0)
    for i, s in enumerate(sketches):
        r, c = divmod(i, cols)
        sketch = validate_stroke3(s, name=f"grid_png: sketch {i}", allow_empty=True)
        coverage.paste(_coverage(sketch, cell, stroke_width, margin), (c * cell, r * cell))
    return _png(_composite(coverage, color, background))


def encode_gif(
    frames: Sequence[np.ndarray],
    palette: np.ndarray,
    delays_ms: Sequence[int] | int = 40,
    loop: int | None = 0,
    transparent_index: int | None = None,
) -> bytes:
    """An animated GIF (bytes) from ``[H, W]`` uint8 frames of indices into one shared palette.

    ``palette``: ``[K, 3]`` uint8 RGB, 1 <= K <= 256; ``delays_ms`` per frame or one value for all (GIF stores
    hundredths of a second); ``loop`` = 0 repeats forever, None plays once. Pillow stores only the box that changed
    since the previous frame, and a frame identical to the previous one as a longer delay of that one. When some
    pixel turns transparent again, every frame replaces the previous one (disposal "restore to background") so that
    what shows is always what the frames say.
    """
    if not len(frames):
        raise ValueError("a GIF needs at least one frame")
    arrays = [np.ascontiguousarray(f, dtype=np.uint8) for f in frames]
    height, width = arrays[0].shape
    if not (0 < width < 65536 and 0 < height < 65536):
        raise ValueError(f"frame size {width}x{height} is outside what GIF can store")
    for i, frame in enumerate(arrays):
        if frame.shape != (height, width):
            raise ValueError(f"frame {i} is {frame.shape[1]}x{frame.shape[0]}, the first is {width}x{height}")
    colours = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    if not 1 <= len(colours) <= 256:
        raise ValueError(f"the palette must have 1..256 colours, not {len(colours)}")
    top = max(int(f.max()) for f in arrays)
    if top >= len(colours):
        raise ValueError(f"a frame uses colour index {top} but the palette has {len(colours)} colours")
    if transparent_index is not None and not 0 <= transparent_index < len(colours):
        raise ValueError(f"transparent index {transparent_index} is not in the palette")
    delays = [int(delays_ms)] * len(arrays) if isinstance(delays_ms, int) else [int(d) for d in delays_ms]
    if len(delays) != len(arrays):
        raise ValueError(f"{len(delays)} delays for {len(arrays)} frames")

    reappearing = transparent_index is not None and any(
        np.any((after == transparent_index) & (before != transparent_index))
        for before, after in zip(arrays, arrays[1:])
    )
    if reappearing and len(colours) < 256:
        colours = np.vstack([colours, colours[-1:]])  # a spare index for blank frames (below)
    images = []
    for i, frame in enumerate(arrays):
        transparent = transparent_index
        if reappearing and i and not np.any(frame != transparent_index):
            # Pillow writes a frame that equals the cleared background as a second file header: a blank frame says
            # "all transparent" through another index of its own, one the previous frame is not made of alone.
            previous = np.asarray(images[-1])
            transparent = next(c for c in range(len(colours)) if c != transparent_index and np.any(previous != c))
            frame = np.full_like(frame, transparent)
        image = Image.fromarray(frame, "P")
        image.putpalette(colours.tobytes(), "RGB")
        if transparent is not None:
            image.info["transparency"] = int(transparent)
        images.append(image)
    # One global palette (Pillow would give every frame a local copy otherwise), used as it is (no optimising).
    options: dict[str, object] = {"save_all": True, "append_images": images[1:], "duration": delays,
                                  "disposal": 2 if reappearing else 1, "optimize": False,
                                  "palette": colours.tobytes()}
    if loop is not None:
        options["loop"] = int(loop)
    out = io.BytesIO()
    images[0].save(out, "GIF", **options)
    return out.getvalue()
