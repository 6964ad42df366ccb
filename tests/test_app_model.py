"""The app with a real model: continuations after a stroke, the morph handle, sampling, reconstruction, and broken
model folders. Tests that need the shipped model skip (with the reason) until one is under assets/models/."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PySide6.QtGui import QImage

from desktop._testsupport import draw_stroke, make_window, shipped_model, sketchgen_home, zigzag  # noqa: F401

LOAD_TIMEOUT_MS = 60000
MODEL_TIMEOUT_MS = 60000


def _loaded_window(make_window, qtbot, folder=None):
    folder = folder or shipped_model()
    window = make_window(start=False)
    with qtbot.waitSignal(window.modelLoaded, timeout=LOAD_TIMEOUT_MS):
        window.start_up(str(folder))
    assert window.model is not None and not window.errors, window.errors
    return window


def test_model_card_and_provider_are_shown(make_window, qtbot):
    window = _loaded_window(make_window, qtbot)
    assert window.model.provider_label in ("CPU", "CUDA")
    text = window.model_panel.info.text()
    assert f"Runs on: <b>{window.model.provider_label}</b>" in text and "License" in text
    assert window.model.name in window.model_label.text()
    assert window.sample_action.isEnabled()


def test_strokes_drawn_lead_to_continuations_shown_and_accepted(make_window, qtbot, tmp_path):
    window = _loaded_window(make_window, qtbot)
    view = window.draw_view
    view.count.setValue(4)
    draw_stroke(view.canvas, zigzag(10, 80, 120, 14))
    revision = window.document.revision
    qtbot.waitUntil(lambda: view._continuations_for == revision, timeout=MODEL_TIMEOUT_MS)
    assert len(view.continuations) == 4
    shown = [t for t in view.panel.thumbnails if t.has_sketch()]
    assert len(shown) == 4
    assert window.runner.gui_ms["continue"] < 16  # the GUI thread only takes the finished result
    assert window.export("PNG", tmp_path / "grid.png", "continuations", cell=64)
    assert QImage(str(tmp_path / "grid.png")).size().toTuple() == (128, 128)
    # Each thumbnail shows the drawing in black plus the model's strokes in the second colour.
    from desktop.painting import MODEL_INK

    index = next(i for i, c in enumerate(view.continuations) if c)
    assert any(line.color == MODEL_INK for line in view.panel.thumbnails[index].lines())
    before = len(window.document)
    added = len(view.continuations[index])
    view.panel.thumbnails[index].activated.emit()  # a click
    assert len(window.document) == before + added
    assert window.document.authors()[-1] == "model"
    window.undo_action.trigger()  # accepting is one undoable step
    assert len(window.document) == before


def test_dragging_the_morph_handle_changes_the_in_between_sketch(make_window, qtbot):
    window = _loaded_window(make_window, qtbot)
    if not window.model.conditional:
        pytest.skip("the shipped model is decoder-only; morphing needs an encoder")
    morph = window.morph_view
    a = np.array([[0, 0, 0], [60, 0, 0], [0, 60, 0], [-60, 0, 0], [0, -60, 1]], np.float32)  # a square
    b = np.array([[0, 0, 0], [40, 60, 0], [40, -60, 0], [-80, 0, 1]], np.float32)  # a triangle
    window.tabs.setCurrentWidget(morph)
    morph.set_slot("A", a)
    morph.set_slot("B", b)
    state = window.morph_state
    qtbot.waitUntil(lambda: state.between is not None, timeout=MODEL_TIMEOUT_MS)
    morph.handle.setValue(0)
    qtbot.waitUntil(lambda: state.between_handle == 0, timeout=MODEL_TIMEOUT_MS)
    at_a = state.between.copy()
    for value in range(10, 101, 10):  # a drag: many positions, stale ones are dropped
        morph.handle.setValue(value)
    qtbot.waitUntil(lambda: state.between_handle == 100, timeout=MODEL_TIMEOUT_MS)
    at_b = state.between
    assert at_a.shape != at_b.shape or not np.allclose(at_a, at_b)
    assert morph.between_view.has_sketch()
    assert window.runner.gui_ms["morph-between"] < 16
    qtbot.waitUntil(lambda: len(state.strip) == len(morph.strip_views), timeout=MODEL_TIMEOUT_MS)


def test_sample_and_reconstruct(make_window, qtbot):
    window = _loaded_window(make_window, qtbot)
    window.sample_action.trigger()
    qtbot.waitUntil(lambda: len(window.document) > 0, timeout=MODEL_TIMEOUT_MS)
    assert set(window.document.authors()) == {"model"}
    if window.model.conditional:
        window.reconstruct_action.trigger()
        qtbot.waitUntil(lambda: len(window.replay_state.items) == 2, timeout=MODEL_TIMEOUT_MS)
        assert [i.label for i in window.replay_state.items] == ["Original", "Reconstruction"]


def test_broken_onnx_file_gives_its_message(make_window, qtbot, tmp_path):
    source = shipped_model()
    broken = tmp_path / "broken"
    shutil.copytree(source, broken)
    onnx = sorted(broken.glob("*.onnx"))[-1]
    onnx.write_bytes(b"this is not an onnx file" * 10)
    window = make_window(start=False)
    with qtbot.waitSignal(window.modelFailed, timeout=LOAD_TIMEOUT_MS):
        window.add_model_folder(str(broken))
    title, message = window.errors[-1]
    assert title == "Cannot load model" and str(broken) in message and onnx.name in message
    assert window.model is None and not window.sample_action.isEnabled()
    draw_stroke(window.draw_view.canvas, zigzag(6))  # the app keeps working
    assert len(window.document) == 1


def test_folder_without_a_usable_model_gives_a_message(make_window, qtbot, tmp_path):
    """Runs without a shipped model too: a model.json with nothing behind it never takes the app down."""
    folder = tmp_path / "empty-model"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({"name": "empty"}))
    window = make_window(start=False)
    with qtbot.waitSignal(window.modelFailed, timeout=LOAD_TIMEOUT_MS):
        window.add_model_folder(str(folder))
    title, message = window.errors[-1]
    assert title == "Cannot load model" and str(folder) in message
    assert str(folder) in window.settings.model_folders()
    assert any(e.path == folder for e in window.model_entries)  # listed, so the person can see what failed
    assert not window.add_model_folder(str(tmp_path / "nothing-here"))
    assert "has no model.json" in window.errors[-1][1]
