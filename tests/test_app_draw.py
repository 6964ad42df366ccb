"""Drawing in the real window with QTest mouse events: strokes land in the document, undo/redo, clear, new."""

from __future__ import annotations

import numpy as np

from desktop._testsupport import draw_stroke, make_window, no_shipped_models, sketchgen_home, zigzag  # noqa: F401
from desktop.document import USER
from desktop.geometry import UNITS_PER_CANVAS_PX


def test_mouse_strokes_become_strokes_in_model_units(make_window):
    window = make_window()
    canvas = window.draw_view.canvas
    draw_stroke(canvas, zigzag(12, 60, 80))
    draw_stroke(canvas, [(200, 200), (260, 200), (260, 260)])
    strokes = window.document.strokes
    assert len(strokes) == 2
    assert all(s.author == USER for s in strokes)
    # The fixed mapping: canvas centre is the model origin, one logical px = UNITS_PER_CANVAS_PX units.
    w, h = canvas.width(), canvas.height()
    expected_start = (np.array([60.0, 80.0]) - [w / 2, h / 2]) * UNITS_PER_CANVAS_PX
    np.testing.assert_allclose(strokes[0].points[0], expected_start, atol=1e-6)
    np.testing.assert_allclose(strokes[1].points[-1], (np.array([260.0, 260.0]) - [w / 2, h / 2]) * UNITS_PER_CANVAS_PX)
    # The zigzag's corners survive simplification; the straight L keeps exactly its 3 corners.
    assert len(strokes[0].points) == 12
    assert len(strokes[1].points) == 3
    s3 = window.document.to_stroke3()
    assert s3.shape == (15, 3) and s3[11, 2] == 1 and s3[-1, 2] == 1 and s3[:11, 2].sum() == 0


def test_straight_mouse_stroke_is_simplified_to_its_ends(make_window):
    window = make_window()
    draw_stroke(window.draw_view.canvas, [(50 + i, 120) for i in range(0, 200, 2)])
    (stroke,) = window.document.strokes
    assert len(stroke.points) == 2  # RDP at 2 units keeps only the ends of a straight line


def test_undo_redo_and_clear(make_window):
    window = make_window()
    canvas = window.draw_view.canvas
    for y in (60, 120, 180):
        draw_stroke(canvas, zigzag(6, 60, y))
    assert len(window.document) == 3
    window.undo_action.trigger()
    assert len(window.document) == 2
    window.undo_action.trigger()
    assert len(window.document) == 1
    window.redo_action.trigger()
    assert len(window.document) == 2
    window.clear_action.trigger()
    assert window.document.is_empty()
    window.undo_action.trigger()  # clearing is undoable: nothing is lost
    assert len(window.document) == 2
    assert window.undo_stack.undoText() == "Draw stroke"


def test_keyboard_shortcuts_drive_undo(make_window, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QKeySequence
    from PySide6.QtTest import QTest

    window = make_window()
    canvas = window.draw_view.canvas
    draw_stroke(canvas, zigzag(6))
    draw_stroke(canvas, zigzag(6, 60, 200))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    canvas.setFocus()
    undo = QKeySequence(QKeySequence.StandardKey.Undo)[0]
    QTest.keyClick(canvas, undo.key(), undo.keyboardModifiers())
    assert len(window.document) == 1
    undo = QKeySequence(QKeySequence.StandardKey.Undo)
    assert window.undo_action.shortcut().matches(undo) == QKeySequence.SequenceMatch.ExactMatch
    assert window.tabs.tabText(0).startswith("&")  # mnemonics on tabs
    QTest.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == 1


def test_new_drawing_is_undoable(make_window):
    window = make_window()
    draw_stroke(window.draw_view.canvas, zigzag(6))
    window.new_action.trigger()
    assert window.document.is_empty()
    window.undo_action.trigger()
    assert len(window.document) == 1


def test_without_model_model_actions_are_off_but_drawing_works(make_window, no_shipped_models):
    window = make_window()
    assert window.model is None and window.models.loading is None
    assert not window.sample_action.isEnabled()
    assert not window.reconstruct_action.isEnabled()
    assert "No model" in window.statusBar().currentMessage() or "No model" in window.model_label.text()
    draw_stroke(window.draw_view.canvas, zigzag(6))
    assert len(window.document) == 1
    assert not window.draw_view.accept_continuation(0)  # nothing to accept, and no crash
    assert "No model loaded" in window.draw_view.panel.status.text()
    assert "No model loaded" in window.morph_view.notice.text()


def test_tab_key_walks_canvas_controls_and_every_continuation(make_window, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    window = make_window()
    qtbot.waitUntil(lambda: window.models.loading is None, timeout=60000)
    view = window.draw_view
    view.count.setValue(6)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    view.canvas.setFocus()
    chain = [QApplication.focusWidget()]
    for _ in range(12):
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        chain.append(QApplication.focusWidget())
    assert chain[0] is view.canvas
    assert chain[1] is view.count or chain[1].parent() is view.count  # the spin box's line edit
    assert chain[2] is view.auto
    rest = chain[3:]
    if view.regenerate_button.isEnabled():
        assert rest[0] is view.regenerate_button
        rest = rest[1:]
    assert rest[0] is view.together and rest[1] is view.speed
    rest = rest[2:]
    if window.model is None:  # no model: the suggestion cells are hidden and Tab skips them
        assert not set(view.panel.thumbnails) & set(chain)
    else:
        assert rest[:6] == view.panel.thumbnails
