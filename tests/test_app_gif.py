"""The GIF89a writer: Qt's own GIF reader decodes every frame back to exactly the pixels written."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QImage, QImageReader

from desktop.gif import encode_gif, lzw_encode


def _decode(data: bytes) -> list[np.ndarray]:
    array = QByteArray(data)
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer, b"gif")
    frames = []
    while reader.canRead():
        image = reader.read().convertToFormat(QImage.Format.Format_RGBA8888)
        assert not image.isNull(), reader.errorString()
        h, w = image.height(), image.width()
        raw = np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())[:, : w * 4]
        frames.append(raw.reshape(h, w, 4).copy())
    return frames


def _lzw_decode(codes: bytes, min_code_size: int) -> bytes:
    """A textbook GIF LZW decoder, to check the encoder independently of Qt."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    bits = int.from_bytes(codes, "little")
    pos, width = 0, min_code_size + 1
    table: list[bytes] = []
    out = bytearray()
    previous: bytes | None = None
    while True:
        code = (bits >> pos) & ((1 << width) - 1)
        pos += width
        if code == clear:
            table = [bytes([i]) for i in range(clear)] + [b"", b""]
            width, previous = min_code_size + 1, None
            continue
        if code == end:
            return bytes(out)
        if previous is None:
            entry = table[code]
        else:
            entry = table[code] if code < len(table) else previous + previous[:1]
            if len(table) < 4096:
                table.append(previous + entry[:1])
        out += entry
        previous = entry
        if len(table) == (1 << width) and width < 12:
            width += 1


@pytest.mark.parametrize("size", [0, 1, 2, 300, 20000])
def test_lzw_round_trip(size):
    rng = np.random.default_rng(size)
    data = bytes(rng.integers(0, 256, size).astype(np.uint8))  # random bytes fill the 4096-code table fast
    assert _lzw_decode(lzw_encode(data, 8), 8) == data
    small = bytes(rng.integers(0, 4, size).astype(np.uint8))
    assert _lzw_decode(lzw_encode(small, 2), 2) == small


def test_animated_gif_decodes_to_the_same_pixels():
    palette = np.array([[255, 255, 255], [0, 0, 0], [217, 72, 15]] + [[i, i, i] for i in range(100, 200)], np.uint8)
    rng = np.random.default_rng(0)
    frames = [np.zeros((40, 70), np.uint8)]
    for _ in range(6):  # a picture that only grows: later frames store just the changed box
        frame = frames[-1].copy()
        y, x = rng.integers(0, 35), rng.integers(0, 60)
        frame[y : y + 5, x : x + 10] = rng.integers(1, len(palette))
        frames.append(frame)
    frames.append(rng.integers(0, len(palette), (40, 70)).astype(np.uint8))  # noise: a full table and clear codes
    data = encode_gif(frames, palette, [30] * len(frames))
    decoded = _decode(data)
    assert len(decoded) == len(frames)
    for got, want in zip(decoded, frames):
        np.testing.assert_array_equal(got[..., :3], palette[want])
        assert (got[..., 3] == 255).all()


def test_transparency_survives_pixels_that_turn_transparent_again():
    palette = np.array([[255, 255, 255], [0, 0, 0]], np.uint8)
    on = np.ones((8, 8), np.uint8)
    off = np.zeros((8, 8), np.uint8)
    decoded = _decode(encode_gif([on, off, on], palette, 50, transparent_index=0))
    assert [int(f[..., 3].max()) for f in decoded] == [255, 0, 255]


def test_bad_frames_are_refused():
    palette = np.zeros((2, 3), np.uint8)
    with pytest.raises(ValueError, match="at least one frame"):
        encode_gif([], palette)
    with pytest.raises(ValueError, match="colour index 5"):
        encode_gif([np.full((2, 2), 5, np.uint8)], palette)
    with pytest.raises(ValueError, match="frame 1 is 3x2"):
        encode_gif([np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8)], palette)
