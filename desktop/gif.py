"""A small GIF89a writer (animated, looping, LZW-compressed) because Qt can read GIFs but not write them.

Frames are ``[H, W]`` uint8 palette indices sharing one global palette of at most 256 colours. After the first frame
only the rectangle that changed since the previous frame is stored (disposal "leave in place"), which keeps replay
animations (a drawing that only grows) small and fast to encode in pure Python. When a transparent index is given and
some pixel turns transparent again later, every frame is written whole with disposal "restore to background" instead,
so the result is always what the frames say.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

__all__ = ["lzw_encode", "encode_gif"]

_MAX_CODES = 4096  # GIF's LZW codes are at most 12 bits wide


def lzw_encode(indices: bytes, min_code_size: int) -> bytes:
    """GIF-flavoured LZW of palette ``indices`` (variable code width, clear code when the table is full).

    Returns the packed code stream (least significant bit first), not yet cut into sub-blocks.
    """
    if not 2 <= min_code_size <= 8:
        raise ValueError(f"min_code_size must be 2..8, not {min_code_size}")
    clear = 1 << min_code_size
    end = clear + 1
    out = bytearray()
    bit_buffer = 0
    bit_count = 0

    def emit(code: int, width: int) -> None:
        nonlocal bit_buffer, bit_count
        bit_buffer |= code << bit_count
        bit_count += width
        while bit_count >= 8:
            out.append(bit_buffer & 0xFF)
            bit_buffer >>= 8
            bit_count -= 8

    width = min_code_size + 1
    table: dict[int, int] = {}
    next_code = end + 1
    emit(clear, width)
    if indices:
        prefix = indices[0]
        for value in indices[1:]:
            key = (prefix << 8) | value
            code = table.get(key)
            if code is not None:
                prefix = code
                continue
            emit(prefix, width)
            if next_code < _MAX_CODES:
                table[key] = next_code
                next_code += 1
                # The decoder adds each entry one code later than we do, so widen one entry late as well.
                if next_code > (1 << width) and width < 12:
                    width += 1
            else:
                emit(clear, width)
                table = {}
                next_code = end + 1
                width = min_code_size + 1
            prefix = value
        emit(prefix, width)
    emit(end, width)
    if bit_count:
        out.append(bit_buffer & 0xFF)
    return bytes(out)


def _sub_blocks(data: bytes) -> bytes:
    parts = bytearray()
    for start in range(0, len(data), 255):
        chunk = data[start : start + 255]
        parts.append(len(chunk))
        parts += chunk
    parts.append(0)
    return bytes(parts)


def _changed_box(previous: np.ndarray, frame: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, width, height) of the pixels that differ; a 1x1 box when nothing changed (the frame still counts)."""
    diff = previous != frame
    rows = np.flatnonzero(diff.any(axis=1))
    if len(rows) == 0:
        return 0, 0, 1, 1
    cols = np.flatnonzero(diff.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def encode_gif(
    frames: Sequence[np.ndarray],
    palette: np.ndarray,
    delays_ms: Sequence[int] | int = 40,
    loop: int = 0,
    transparent_index: int | None = None,
) -> bytes:
    """An animated GIF89a file (bytes) from palette-index frames.

    ``palette``: ``[K, 3]`` uint8 RGB with 1 <= K <= 256 (padded to a power of two); ``delays_ms`` per frame or one
    value for all (GIF stores hundredths of a second); ``loop`` = 0 repeats forever, None writes no loop block.
    """
    if not frames:
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

    table_bits = max(1, int(np.ceil(np.log2(max(2, len(colours))))))
    table = np.zeros((1 << table_bits, 3), dtype=np.uint8)
    table[: len(colours)] = colours
    min_code_size = max(2, table_bits)

    whole_frames = False
    if transparent_index is not None:
        for before, after in zip(arrays, arrays[1:]):
            if np.any((after == transparent_index) & (before != transparent_index)):
                whole_frames = True
                break

    out = bytearray(b"GIF89a")
    out += struct.pack("<HHBBB", width, height, 0x80 | (table_bits - 1) << 4 | (table_bits - 1), 0, 0)
    out += table.tobytes()
    if loop is not None:
        out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", int(loop)) + b"\x00"
    for i, frame in enumerate(arrays):
        if i == 0 or whole_frames:
            left, top_, w, h = 0, 0, width, height
        else:
            left, top_, w, h = _changed_box(arrays[i - 1], frame)
        disposal = 2 if whole_frames else 1
        flags = disposal << 2 | (1 if transparent_index is not None else 0)
        delay_cs = max(0, min(65535, round(delays[i] / 10)))
        out += struct.pack("<BBBBHBB", 0x21, 0xF9, 4, flags, delay_cs, transparent_index or 0, 0)
        out += struct.pack("<BHHHHB", 0x2C, left, top_, w, h, 0)
        pixels = frame[top_ : top_ + h, left : left + w].tobytes()
        out.append(min_code_size)
        out += _sub_blocks(lzw_encode(pixels, min_code_size))
    out.append(0x3B)
    return bytes(out)
