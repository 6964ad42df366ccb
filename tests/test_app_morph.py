"""The Morph tab as a person reads it: A and B themselves at the strip's ends, decodes labelled as decodes, the grid
named by what it is, and one handle move re-rendering only the in-between sketch (issues 14 and 18)."""

from __future__ import annotations

import numpy as np
import pytest

from desktop._testsupport import (  # noqa: F401 (fixtures)
    drag_slider,
    make_window,
    morphing_window,
    sketchgen_home,
)
from desktop.morph import GRID_SIZE, HANDLE_STEPS, STRIP_LENGTH

MODEL_TIMEOUT_MS = 60000


@pytest.fixture
def morphing(make_window, qtbot):
    window = morphing_window(make_window, qtbot)
    state = window.morph_state
    qtbot.waitUntil(lambda: len(state.strip) == STRIP_LENGTH, timeout=MODEL_TIMEOUT_MS)
    qtbot.wait(50)  # paint
    return window


def test_strip_ends_are_a_and_b_themselves_and_decodes_say_so(morphing):
    morph, state = morphing.morph_view, morphing.morph_state
    assert np.array_equal(morph.strip_ends["A"].drag_sketch, state.slots["A"])
    assert np.array_equal(morph.strip_ends["B"].drag_sketch, state.slots["B"])
    assert (morph.strip_ends["A"].caption, morph.strip_ends["B"].caption) == ("A", "B")
    assert morph.strip_views[0].caption == "A redrawn" and morph.strip_views[-1].caption == "B redrawn"
    assert "as the model redraws it" in morph.strip_views[0].toolTip()
    assert morph.strip_views[0].drag_sketch is state.strip[0]  # the decode, not A
    assert morph.tabs.tabText(1).replace("&", "") == f"Grid: 4 corners, {GRID_SIZE} x {GRID_SIZE}"
    assert len(morph.grid_views) == GRID_SIZE * GRID_SIZE


def test_a_handle_move_renders_only_the_in_between_sketch(morphing, qtbot):
    morph, state = morphing.morph_view, morphing.morph_state
    others = morph.strip_views + list(morph.strip_ends.values()) + morph.grid_views
    others += [w.view for widgets in morph.slot_widgets.values() for w in widgets]
    before = [view.gui_renders for view in others]
    shown = [view.drag_sketch for view in morph.strip_views]
    between_renders = morph.between_view.gui_renders
    for target in (10, HANDLE_STEPS - 10):
        drag_slider(morph.handle, target)
        qtbot.waitUntil(lambda: state.between_handle == target, timeout=MODEL_TIMEOUT_MS)
        qtbot.wait(30)  # let every view paint
    assert [view.gui_renders for view in others] == before  # no strip, end, slot or grid view re-rendered
    assert all(view.drag_sketch is s for view, s in zip(morph.strip_views, shown))
    # The in-between sketch's picture comes from the worker: the GUI thread only copies it.
    assert morph.between_view.gui_renders == between_renders
    assert morph.between_view.drag_sketch is state.between
