"""The app opening a hostile .npz: a message naming the file, and the drawing on the canvas untouched (the nested
bomb killed the app, and the drawing with it)."""
from __future__ import annotations

import numpy as np

import hostile
from desktop._testsupport import draw_stroke, make_window, sketchgen_home, zigzag  # noqa: F401


def test_the_nested_bomb_shows_a_message_and_keeps_the_drawing(make_window, tmp_path) -> None:
    bomb = hostile.sketch_npz_with(tmp_path / "nested.npz", hostile.npy_member(hostile.nested_object_arrays(20_000)))
    window = make_window(start=False)
    draw_stroke(window.draw_view.canvas, zigzag(8, 60, 80))
    before = window.document.to_stroke3()
    assert not window.files.open_file(bomb)
    title, message = window.errors[-1]
    assert title == "Cannot open file" and "nested.npz" in message and "too deep" in message
    np.testing.assert_array_equal(window.document.to_stroke3(), before)
