"""The core's animated GIF: Qt's own GIF reader (independent of Pillow) decodes every frame back to the pixels."""

from __future__ import annotations

import numpy as np
import pytest

from sketchgen.render import encode_gif

QtCore = pytest.importorskip("PySide6.QtCore")
QtGui = pytest.importorskip("PySide6.QtGui")
QBuffer, QByteArray, QIODevice = QtCore.QBuffer, QtCore.QByteArray, QtCore.QIODevice
QImage, QImageReader = QtGui.QImage, QtGui.QImageReader


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


def test_animated_gif_decodes_to_the_same_pixels():
    palette = np.array([[255, 255, 255], [0, 0, 0], [217, 72, 15]] + [[i, i, i] for i in range(100, 200)], np.uint8)
    rng = np.random.default_rng(0)
    frames = [np.zeros((40, 70), np.uint8)]
    for _ in range(6):  # a picture that only grows: later frames store just the changed box
        frame = frames[-1].copy()
        y, x = rng.integers(0, 35), rng.integers(0, 60)
        frame[y : y + 5, x : x + 10] = rng.integers(1, len(palette))
        frames.append(frame)
    frames.append(rng.integers(0, len(palette), (40, 70)).astype(np.uint8))  # noise: a full LZW table
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


def test_identical_frames_become_one_longer_frame_and_one_frame_is_a_still_image():
    palette = np.array([[255, 255, 255], [0, 0, 0]], np.uint8)
    a, b = np.zeros((4, 4), np.uint8), np.eye(4, dtype=np.uint8)
    assert len(_decode(encode_gif([a, b, b, a], palette, 40))) == 3
    (still,) = _decode(encode_gif([b], palette, 40, loop=None))
    np.testing.assert_array_equal(still[..., 0], np.where(b == 1, 0, 255))
