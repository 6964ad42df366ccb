"""The model draws on the canvas stroke by stroke at a pen's pace, yields to the person's pen, and goes on by itself
in draw-together mode (issue 18, item 3). Real widgets, real mouse events, the shipped model."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from desktop._testsupport import (  # noqa: F401 (fixtures)
    draw_stroke,
    loaded_window,
    make_window,
    sketchgen_home,
    zigzag,
)
from desktop.animation import MIN_SPEED, PEN_UP_PAUSE_S, PenPath
from desktop.document import MODEL, USER, Stroke

MODEL_TIMEOUT_MS = 60000


def _line(*points) -> Stroke:
    return Stroke(np.array(points, dtype=np.float64), MODEL)


def test_pen_path_moves_at_its_speed_and_lifts_between_strokes():
    path = PenPath([_line((0, 0), (100, 0)), _line((0, 50), (0, 150), (50, 150))], speed=100.0)
    assert path.duration == pytest.approx(1.0 + PEN_UP_PAUSE_S + 1.5)
    half = path.at(0.5)
    assert len(half) == 1 and np.allclose(half[0].points, [[0, 0], [50, 0]])
    assert len(path.at(1.0 + PEN_UP_PAUSE_S / 2)) == 1  # the pen is up, travelling to the next stroke
    later = path.at(1.0 + PEN_UP_PAUSE_S + 1.25)
    assert len(later) == 2 and np.allclose(later[1].points, [[0, 50], [0, 150], [25, 150]])
    assert path.at(path.duration)[1] is path.strokes[1]
    # Twice the speed: half the drawing time; the drawn part only ever grows.
    assert PenPath(path.strokes, speed=200.0).duration == pytest.approx(0.5 + PEN_UP_PAUSE_S + 0.75)
    lengths = [sum(len(s.points) for s in path.at(t)) for t in np.linspace(0, path.duration, 40)]
    assert lengths == sorted(lengths)


def _suggestions(window, qtbot) -> list[int]:
    view = window.draw_view
    draw_stroke(view.canvas, zigzag(10, 80, 120, 14))
    qtbot.waitUntil(lambda: view._continuations_for == window.document.revision, timeout=MODEL_TIMEOUT_MS)
    usable = [i for i, c in enumerate(view.continuations) if c]
    if not usable:
        pytest.skip("the model ended every suggestion at once for this drawing")
    return usable


def test_the_chosen_suggestion_is_drawn_on_the_canvas_and_yields_to_the_pen(make_window, qtbot):
    window = loaded_window(make_window, qtbot)
    view = window.draw_view
    view.set_pen_speed(MIN_SPEED)  # slow: the pen comes while the model is still drawing
    index = max(_suggestions(window, qtbot), key=lambda i: sum(len(s.points) for s in view.continuations[i]))
    chosen = view.continuations[index]
    before = len(window.document)
    thumb = view.panel.thumbnails[index]
    QTest.mouseClick(thumb, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, thumb.rect().center())
    qtbot.waitUntil(lambda: view.animator.frames >= 5, timeout=5000)
    drawn = view.canvas.overlay()
    assert drawn and all(line.color == view.canvas.overlay()[0].color for line in drawn)
    assert sum(len(line.points) for line in drawn) < sum(len(s.points) for s in chosen) + len(chosen)  # mid-way
    assert len(window.document) == before  # nothing added while it draws
    frame = view.canvas.grab().toImage()
    assert frame.pixelColor(0, 0).isValid()

    # The person puts the pen down: the model stops at once; what it drew stays, as one undoable step.
    draw_stroke(view.canvas, [(300, 300), (340, 320), (380, 300)])
    assert not view.animator.is_drawing() and view.canvas.overlay() == []
    assert "the part the model drew before you took over" in window.statusBar().currentMessage()
    authors = window.document.authors()[before:]
    assert authors[-1] == USER and set(authors[:-1]) == {MODEL}
    kept = window.document.strokes[before:-1]
    assert 1 <= len(kept) <= len(chosen)
    for got, full in zip(kept[:-1], chosen):
        assert np.allclose(got.points, full.points)  # whole strokes before the one it was drawing
    assert np.allclose(kept[-1].points[:-1], chosen[len(kept) - 1].points[: len(kept[-1].points) - 1])
    window.undo_action.trigger()  # the person's stroke
    window.undo_action.trigger()  # the part the model drew
    assert len(window.document) == before


def test_draw_together_continues_each_time_the_pen_lifts(make_window, qtbot):
    window = loaded_window(make_window, qtbot)
    view = window.draw_view
    view.set_pen_speed(5000)
    view.together.click()
    assert window.settings.draw_together()
    draw_stroke(view.canvas, zigzag(10, 80, 120, 14))
    user_revision = window.document.revision
    qtbot.waitUntil(lambda: MODEL in window.document.authors(), timeout=MODEL_TIMEOUT_MS)
    assert window.document.authors()[0] == USER
    assert window.undo_stack.undoText() == "Accept continuation"
    assert window.statusBar().currentMessage().startswith("Added continuation ")  # all of it was drawn
    assert window.document.revision > user_revision
    # It goes on only after the person's strokes: once it has drawn, it waits for the pen.
    count = len(window.document)
    qtbot.wait(1500)
    assert len(window.document) == count and not view.animator.is_drawing()
    draw_stroke(view.canvas, [(300, 300), (340, 320), (380, 300)])
    revision = window.document.revision
    qtbot.waitUntil(lambda: view._continuations_for == revision, timeout=MODEL_TIMEOUT_MS)
    if any(view.continuations):  # else the model would end the drawing here: nothing to draw
        qtbot.waitUntil(lambda: len(window.document) > count + 1, timeout=10000)
        assert window.document.authors()[count] == USER and window.document.authors()[-1] == MODEL


def test_pen_speed_is_adjustable_and_remembered(make_window, qtbot):
    window = make_window(start=False)
    view = window.draw_view
    view.speed.setValue(view.speed.minimum())
    slow = view.animator.speed
    view.speed.setValue(view.speed.maximum())
    assert view.animator.speed > 50 * slow
    view.speed.setValue(70)
    kept = view.animator.speed
    window.close()
    again = make_window(start=False)
    assert again.draw_view.animator.speed == pytest.approx(kept, rel=0.05)
    assert again.draw_view.speed.value() == 70
