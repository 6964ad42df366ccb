"""Replay: the QTimer-driven clock reaches the end, pause/seek work, two sketches replay side by side."""

from __future__ import annotations

import numpy as np
import pytest

from desktop._testsupport import draw_stroke, make_window, sketchgen_home, zigzag  # noqa: F401 (fixtures)
from desktop.document import MODEL, USER, Stroke
from desktop.replay import BASE_POINTS_PER_SECOND, ReplayItem, ReplayState


def _strokes(n_points: int, author: str = USER) -> list[Stroke]:
    half = n_points // 2
    return [
        Stroke(np.c_[np.arange(half), np.zeros(half)] * 5.0, author),
        Stroke(np.c_[np.arange(n_points - half), np.ones(n_points - half) * 30] * 5.0, author),
    ]


def test_replay_of_the_drawing_plays_to_the_end(make_window, qtbot):
    window = make_window()
    for y in (60, 140):
        draw_stroke(window.draw_view.canvas, zigzag(10, 80, y))
    window.replay_view.speed.setCurrentIndex(window.replay_view.speed.count() - 1)  # fastest
    window.replay_drawing_action.trigger()
    assert window.tabs.currentWidget() is window.replay_view
    state = window.replay_state
    assert state.total == 20 and state.playing
    assert window.replay_view.is_timer_running()
    qtbot.waitUntil(lambda: state.at_end(), timeout=5000)
    assert not state.playing and not window.replay_view.is_timer_running()
    assert window.replay_view.scrub.value() == 20
    # At the end every point of both strokes is painted.
    (view,) = window.replay_view._views
    assert sum(len(line.points) for line in view.lines()) == 20
    # Frame by frame only the new segments were painted; the result matches painting the whole sketch at once.
    from desktop._testsupport import dark_pixels
    from desktop.painting import render_ink

    view.grab()  # make sure the last frame is painted
    whole = render_ink(view.lines(), view.ink_geometry(), view.line_width, [line.points for line in view.lines()])
    assert view._ink is not None
    grown, fresh = dark_pixels(view._ink), dark_pixels(whole)
    assert fresh > 50 and abs(grown - fresh) <= 0.05 * fresh


def test_pause_seek_and_partial_frames(make_window, qtbot):
    window = make_window()
    state = window.replay_state
    state.load([ReplayItem("Sample", _strokes(30))], play=False)
    assert not window.replay_view.is_timer_running()
    window.replay_view.scrub.setValue(7)  # scrubbing pauses and seeks
    assert state.shown == 7 and not state.playing
    (view,) = window.replay_view._views
    assert [len(line.points) for line in view.lines()] == [7]
    window.replay_view.scrub.setValue(18)
    assert [len(line.points) for line in view.lines()] == [15, 3]
    window.replay_view.play_button.click()
    assert state.playing
    qtbot.waitUntil(lambda: state.at_end(), timeout=5000)


def test_reconstruction_replays_beside_the_original(make_window, qtbot):
    window = make_window()
    original, reconstruction = _strokes(12), _strokes(20, MODEL)
    window.draw_view.reconstructed.emit(original, reconstruction)  # what the Reconstruct action ends with
    assert window.tabs.currentWidget() is window.replay_view
    assert [v.caption for v in window.replay_view._views] == ["Original", "Reconstruction"]
    window.replay_state.set_speed(16.0)
    qtbot.waitUntil(lambda: window.replay_state.at_end(), timeout=5000)
    first, second = window.replay_view._views
    assert sum(len(line.points) for line in first.lines()) == 12
    assert sum(len(line.points) for line in second.lines()) == 20


def test_replay_clock_uses_elapsed_time():
    state = ReplayState()
    state.load([ReplayItem("x", _strokes(100))])
    state.advance(0.5)
    assert state.shown == int(0.5 * BASE_POINTS_PER_SECOND)
    state.set_speed(2.0)
    state.advance(0.25)
    assert state.shown == int(1.0 * BASE_POINTS_PER_SECOND)
    state.pause()
    state.advance(10)
    assert state.shown == int(1.0 * BASE_POINTS_PER_SECOND)
    state.play()
    state.advance(100)
    assert state.at_end() and not state.playing
    state.play()  # play at the end starts over
    assert state.shown == 0 and state.playing
    with pytest.raises(ValueError):
        state.set_speed(0)
