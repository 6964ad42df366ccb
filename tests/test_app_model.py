"""The app with the real shipped model (assets/models/sheep, or $SKETCHGEN_TEST_MODEL): continuations after mouse
strokes, accepting one, the morph handle dragged with the mouse, sampling, reconstruction, temperature, the model
picker, and broken model folders.

Every window is seeded, and the assertions are about what a person relies on (suggestions appear, a click adds one
as one undo step, the in-between sketch follows the handle, the temperature reaches the model), never about the
exact strokes of one checkpoint: the shipped model will be replaced by better-trained ones.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from desktop._testsupport import (  # noqa: F401 (fixtures)
    LOAD_TIMEOUT_MS,
    SQUARE,
    TRIANGLE,
    drag_slider,
    draw_stroke,
    loaded_window,
    make_window,
    morphing_window,
    shipped_model,
    sketchgen_home,
    zigzag,
)
from desktop.export_targets import ExportFormat, ExportTarget, TargetKind
from desktop.document import MODEL, strokes_to_stroke3
from desktop.model_catalog import SHIPPED_MODELS_DIR, card_facts
from sketchgen.model_folder import ModelCard
from desktop.morph import HANDLE_STEPS
from desktop.painting import MODEL_INK

MODEL_TIMEOUT_MS = 60000
GUI_BUDGET_MS = 50  # a result callback may hold the GUI thread this long (the model itself runs on the worker)

def _loaded_window(make_window, qtbot, folder=None):
    return loaded_window(make_window, qtbot, folder)


def _wait_for_continuations(qtbot, window) -> None:
    view = window.draw_view
    qtbot.waitUntil(lambda: view._continuations_for == window.document.revision, timeout=MODEL_TIMEOUT_MS)


def _same_strokes(a, b) -> bool:
    return len(a) == len(b) and all(
        x.points.shape == y.points.shape and np.allclose(x.points, y.points, atol=1e-4) for x, y in zip(a, b)
    )


def test_model_picker_lists_every_shipped_model_with_its_card_and_provider(make_window, qtbot):
    window = _loaded_window(make_window, qtbot)
    shipped = sorted(p.parent.name for p in SHIPPED_MODELS_DIR.glob("*/model.json"))
    if shipped:
        assert window.model_panel.names()[: len(shipped)] == shipped
        menu_names = [a.text() for a in window.models.menu_actions.actions()]
        assert menu_names[: len(shipped)] == shipped
        assert [a.text() for a in window.models.menu_actions.actions() if a.isChecked()] == [window.model.name]

    import onnxruntime as ort

    expected_provider = "CUDA" if "CUDAExecutionProvider" in ort.get_available_providers() else "CPU"
    assert window.model.provider_label == expected_provider
    assert window.model_label.text() == f"Model: {window.model.name} ({expected_provider})"

    # The panel shows the card's own facts (read here from disk, not hard-coded: a new checkpoint changes them).
    card = json.loads((window.model.path / "model.json").read_text())
    text = window.model_panel.info.text()
    assert f"<b>{expected_provider}</b>" in text
    facts = dict(card_facts(ModelCard.read(window.model.path)))
    for label in ("Data set", "License", "Losses", "Steps trained"):
        assert label in facts, f"the shipped card lacks {label}"
        assert label in text
    for dataset in card["datasets"]:
        assert dataset["name"] in text and dataset["license"] in text
    for value in card["losses"].values():
        assert f"{value:.4g}" in text
    assert str(card["steps_trained"]) in text

    # Help > Model information: the whole card, with the data set's license.
    window.model_info_action.trigger()
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and card["datasets"][0]["license"] in boxes[-1].text()
    assert window.sample_action.isEnabled() and window.reconstruct_action.isEnabled() == window.model.conditional


def test_mouse_strokes_lead_to_continuations_and_accepting_one_is_one_undo_step(make_window, qtbot, tmp_path):
    window = _loaded_window(make_window, qtbot)
    view = window.draw_view
    view.count.setValue(4)
    draw_stroke(view.canvas, zigzag(10, 80, 120, 14))
    draw_stroke(view.canvas, [(90, 200), (160, 210), (230, 190)])
    _wait_for_continuations(qtbot, window)
    assert len(view.continuations) == 4
    usable = [i for i, c in enumerate(view.continuations) if c]
    assert usable, "the model ended all four continuations at once"
    for i in usable:  # each cell shows the drawing in black plus the model's strokes in the second colour
        thumb = view.panel.thumbnails[i]
        assert thumb.has_sketch() and not thumb.dimmed
        assert any(line.color == MODEL_INK for line in thumb.lines())
    assert "Click a suggestion" in view.panel.status.text()
    # The worker rendered each cell's pixels; they are what the GUI thread would have painted itself.
    from desktop.painting import render_ink

    thumb = view.panel.thumbnails[usable[0]]
    assert thumb._ink is not None and thumb._ink_geometry == thumb.ink_geometry()
    assert thumb._ink == render_ink(thumb.lines(), thumb.ink_geometry(), thumb.line_width)
    shot = thumb.grab().toImage()
    assert any(shot.pixelColor(x, y).red() > 150 and shot.pixelColor(x, y).blue() < 100
               for x in range(0, shot.width(), 2) for y in range(0, shot.height(), 2))  # model ink is on screen
    assert view.regenerate_button.isEnabled()
    assert window.runner.gui_ms["continue"] < GUI_BUDGET_MS  # the GUI thread only takes the finished result
    grid = ExportTarget(TargetKind.CONTINUATIONS)
    assert window.exports.export(ExportFormat.PNG, tmp_path / "grid.png", grid, cell=64)
    assert QImage(str(tmp_path / "grid.png")).size().toTuple() == (128, 128)

    # Pointing at a suggestion draws its preview on the canvas, stroke by stroke; a click has the model draw it.
    index = usable[0]
    thumb = view.panel.thumbnails[index]
    thumb.hovered.emit(True)
    qtbot.waitUntil(lambda: _same_strokes(view.canvas.preview(), view.continuations[index]), timeout=10000)
    before = list(window.document.strokes)
    added = view.continuations[index]
    QTest.mouseClick(thumb, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(thumb.width() // 2, thumb.height() // 2))
    assert view.animator.is_drawing() and len(window.document) == len(before)  # drawn first, added when done
    qtbot.waitUntil(lambda: len(window.document) == len(before) + len(added), timeout=10000)
    assert _same_strokes(window.document.strokes[len(before):], added)
    assert window.document.authors()[len(before):] == [MODEL] * len(added)
    assert view.canvas.preview() == []
    assert window.undo_stack.undoText() == "Accept continuation"
    window.undo_action.trigger()  # one step takes the whole continuation back
    assert _same_strokes(window.document.strokes, before)
    window.redo_action.trigger()
    assert len(window.document) == len(before) + len(added)

    # The keyboard path: new suggestions for the longer drawing, Alt+1 adds the first.
    _wait_for_continuations(qtbot, window)
    window.activateWindow()
    view.canvas.setFocus()
    count = len(window.document)
    first = view.continuations[0]
    QTest.keyClick(view.canvas, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: len(window.document) == count + len(first), timeout=10000)


def test_temperature_and_seed_reach_every_model_call(make_window, qtbot):
    """What the app shows is exactly what the engine gives for the temperature the person set (recomputed here
    from the recorded seed), and another temperature gives other strokes."""
    window = _loaded_window(make_window, qtbot)
    view, model = window.draw_view, window.model
    draw_stroke(view.canvas, zigzag(10, 80, 120, 14))
    _wait_for_continuations(qtbot, window)
    prefix = list(window.document.strokes)
    call = view.last_call["continue"]
    assert call["temperature"] == window.temperature.value() == 0.5

    def recomputed(temperature, seed):
        return model.continuations(prefix, call["n"], temperature, seed)

    assert all(_same_strokes(a, b) for a, b in zip(view.continuations, recomputed(0.5, call["seed"])))

    window.temperature.spin.setValue(1.2)  # as the person would: the box in the toolbar
    qtbot.waitUntil(lambda: view.last_call["continue"]["temperature"] == 1.2, timeout=MODEL_TIMEOUT_MS)
    _wait_for_continuations(qtbot, window)
    call = view.last_call["continue"]
    hot = view.continuations
    assert all(_same_strokes(a, b) for a, b in zip(hot, recomputed(1.2, call["seed"])))
    assert not all(_same_strokes(a, b) for a, b in zip(hot, recomputed(0.05, call["seed"])))

    window.sample_action.trigger()
    qtbot.waitUntil(lambda: window.undo_stack.undoText() == "Random sample" or bool(window.errors),
                    timeout=MODEL_TIMEOUT_MS)
    assert not window.errors
    sampled = view.last_call["sample"]
    assert sampled["temperature"] == 1.2
    expected = model.sample(1.2, sampled["seed"])
    np.testing.assert_allclose(window.document.to_stroke3(), expected, atol=1e-3)

    if model.conditional:  # the morph decodes at the same temperature
        morph, state = window.morph_view, window.morph_state
        morph.set_slot("A", SQUARE)
        morph.set_slot("B", TRIANGLE)
        qtbot.waitUntil(lambda: state.between is not None, timeout=MODEL_TIMEOUT_MS)
        path = model.interpolate_z(model.encode(SQUARE), model.encode(TRIANGLE), HANDLE_STEPS + 1)
        decoded = model.decode(path[state.between_handle], 1.2)
        np.testing.assert_allclose(state.between, decoded, atol=1e-3)


def test_dragging_the_morph_handle_with_the_mouse_changes_the_in_between_sketch(make_window, qtbot):
    window = morphing_window(make_window, qtbot)
    morph, state = window.morph_view, window.morph_state
    assert morph.between_view.caption.startswith("In between: 50 %")

    seen = {}  # handle position -> the in-between sketch shown for it
    state.changed.connect(lambda what: what == "between" and state.between is not None and
                          seen.__setitem__(state.between_handle, state.between.copy()))
    passed = drag_slider(morph.handle, 0)
    assert passed and passed[-1] == 0 and morph.handle.value() == 0
    qtbot.waitUntil(lambda: state.between_handle == 0, timeout=MODEL_TIMEOUT_MS)
    passed = drag_slider(morph.handle, HANDLE_STEPS)
    assert len(passed) > 3 and passed[-1] == HANDLE_STEPS  # a drag, through many positions
    qtbot.waitUntil(lambda: state.between_handle == HANDLE_STEPS, timeout=MODEL_TIMEOUT_MS)
    assert morph.between_view.caption.startswith("In between: 100 %")
    assert len(seen) >= 2  # stale positions may be dropped, but the ends are decoded
    distinct = {s.tobytes() for s in seen.values()}
    assert len(distinct) >= 2, "moving the handle did not change the in-between sketch"
    assert window.runner.gui_ms["morph-between"] < GUI_BUDGET_MS

    qtbot.waitUntil(lambda: len(state.strip) == len(morph.strip_views), timeout=MODEL_TIMEOUT_MS)
    assert len({s.tobytes() for s in state.strip}) >= 2
    cell = morph.strip_views[2]
    QTest.mouseClick(cell, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(10, 10))
    if cell.has_sketch():  # a click on a strip cell moves the handle there
        assert morph.handle.value() == round(HANDLE_STEPS * 2 / (len(morph.strip_views) - 1))


def test_random_sample_and_reconstruct(make_window, qtbot):
    window = _loaded_window(make_window, qtbot)
    draw_stroke(window.draw_view.canvas, zigzag(8, 60, 100, 20))
    mine = list(window.document.strokes)
    window.sample_action.trigger()
    qtbot.waitUntil(lambda: window.undo_stack.undoText() == "Random sample", timeout=MODEL_TIMEOUT_MS)
    assert len(window.document) > 0 and set(window.document.authors()) == {MODEL}
    assert "Sampled a new drawing" in window.statusBar().currentMessage()
    window.undo_action.trigger()  # the person's drawing comes back
    assert _same_strokes(window.document.strokes, mine)
    if not window.model.conditional:
        return
    window.reconstruct_action.trigger()
    qtbot.waitUntil(lambda: len(window.replay_state.items) == 2, timeout=MODEL_TIMEOUT_MS)
    original, reconstruction = window.replay_state.items
    assert (original.label, reconstruction.label) == ("Original", "Reconstruction")
    assert _same_strokes(original.strokes, mine)
    assert {s.author for s in reconstruction.strokes} == {MODEL}
    assert window.tabs.currentWidget() is window.replay_view and window.replay_state.playing
    assert len(strokes_to_stroke3(reconstruction.strokes)) > 0


def test_a_random_sample_is_a_drawing_the_model_finished():
    """At a low temperature an early model often never ends a sketch and loops on to its last point (the 8700-step
    sheep: about 80% of samples at 0.1); the app's sample is one the model finished whenever one of its attempts was."""
    from desktop.inference import SAMPLE_ATTEMPTS, load

    loaded = load(shipped_model())
    raw_finished = app_finished = 0
    for seed in range(12):
        raw = loaded.model.sample(n=SAMPLE_ATTEMPTS, temperature=0.1, seed=seed)
        chosen = loaded.sample(0.1, seed=seed)
        assert len(chosen) > 0
        raw_finished += loaded.finished(next(r for r in raw if len(r)))  # what taking the first attempt gives
        app_finished += loaded.finished(chosen)
        if any(loaded.finished(r) for r in raw):
            assert loaded.finished(chosen), f"seed {seed}: an attempt was finished, the app chose an unfinished one"
    assert app_finished >= raw_finished


def test_suggestions_are_continuations_the_model_finished_first():
    """At temperature 0.3 the shipped sheep loops on to its last point in ~40% of single continuations; the app
    draws several attempts per suggestion in one batch and shows those the model ended itself first."""
    from desktop.document import strokes_from_stroke3
    from desktop.inference import load, stroke3_at_origin
    from sketchgen.engine.selection import attempts_for, prefer_finished

    loaded = load(shipped_model())
    limit = loaded.model.max_seq_len
    angle = np.linspace(0, 2 * np.pi, 31)
    outline = np.stack([120 * np.cos(angle), 70 * np.sin(angle)], axis=1)  # a body, as a person starts a sheep
    prefix = np.zeros((30, 3), np.float32)
    prefix[:, :2] = np.diff(outline, axis=0)
    prefix[-1, 2] = 1
    strokes = strokes_from_stroke3(prefix, MODEL)
    s3 = stroke3_at_origin(strokes_to_stroke3(strokes))
    shown_looping = first_looping = 0
    for seed in range(4):
        attempts = loaded.model.continue_(s3, n=attempts_for(4), temperature=0.3, seed=seed)
        expected = prefer_finished(attempts, 4, limit)
        shown = loaded.continuations(strokes, 4, 0.3, seed=seed)
        assert len(shown) == 4
        end = strokes[-1].points[-1]
        for got, want in zip(shown, expected):
            assert _same_strokes(got, loaded._continuation_strokes(end, np.asarray(want, np.float32)))
        finished = sum(0 < len(a) < limit for a in attempts)
        assert sum(0 < len(e) < limit for e in expected) == min(4, finished)
        shown_looping += sum(len(e) >= limit for e in expected)
        first_looping += sum(len(a) >= limit for a in attempts[:4])  # what 4 single continuations would show
    assert shown_looping <= first_looping


def test_progress_indicator_shows_while_the_model_works(make_window, qtbot):
    import threading

    window = make_window(start=False)
    with qtbot.waitSignal(window.modelLoaded, timeout=LOAD_TIMEOUT_MS):
        window.start_up(str(shipped_model()))
        assert window.busy.isVisible() and "Loading the model" in window.busy.label.text()
    assert not window.busy.isVisible()
    # Quick work never flashes the indicator; work that takes a while shows it until it is done.
    gate = threading.Event()
    window.runner.submit("continue", lambda: gate.wait(10), lambda _: None)
    assert not window.busy.isVisible()
    qtbot.waitUntil(window.busy.isVisible, timeout=2000)
    assert window.busy.label.text() == "Suggesting continuations..."
    gate.set()
    qtbot.waitUntil(lambda: not window.busy.isVisible(), timeout=5000)


def _broken_copy(source, folder, keep_sha: bool):
    """A copy of the model with one .onnx file damaged; ``keep_sha`` updates model.json so only ONNX Runtime can
    notice (a file damaged before it was listed), else the checksum check does."""
    shutil.copytree(source, folder)
    onnx = folder / "decoder_step.onnx"
    onnx.write_bytes(b"this is not an onnx file" * 10)
    if keep_sha:
        card = json.loads((folder / "model.json").read_text())
        card["files"][onnx.name]["sha256"] = hashlib.sha256(onnx.read_bytes()).hexdigest()
        (folder / "model.json").write_text(json.dumps(card))
    return onnx


@pytest.mark.parametrize("keep_sha, problem", [(False, "sha256"), (True, "ONNX Runtime cannot load it")])
def test_broken_model_folder_gives_its_message_and_the_app_keeps_running(make_window, qtbot, tmp_path, keep_sha,
                                                                          problem):
    window = _loaded_window(make_window, qtbot)
    working = window.model
    broken = tmp_path / "broken"
    onnx = _broken_copy(shipped_model(), broken, keep_sha)
    with qtbot.waitSignal(window.modelFailed, timeout=LOAD_TIMEOUT_MS):
        window.models.add_folder(str(broken))
    title, message = window.errors[-1]
    assert title == "Cannot load model" and str(onnx) in message and problem in message
    assert window.last_error_box is not None and str(onnx) in window.last_error_box.text()
    # The app keeps running on the model it had, and says so.
    assert window.model is working and window.sample_action.isEnabled()
    assert "could not be loaded" in window.model_panel.info.text() and working.name in window.model_panel.info.text()
    assert window.model_label.text().startswith(f"Model: {working.name}")
    draw_stroke(window.draw_view.canvas, zigzag(6))
    _wait_for_continuations(qtbot, window)
    assert len(window.draw_view.continuations) == window.draw_view.count.value()


def test_broken_model_alone_leaves_drawing_working(make_window, qtbot, tmp_path, monkeypatch):
    """Nothing to fall back to (no shipped model): the app says "No model" and drawing still works."""
    broken = tmp_path / "broken"
    _broken_copy(shipped_model(), broken, keep_sha=True)
    (tmp_path / "no-models").mkdir()
    monkeypatch.setattr("desktop.model_catalog.SHIPPED_MODELS_DIR", tmp_path / "no-models")
    window = make_window(start=False)
    with qtbot.waitSignal(window.modelFailed, timeout=LOAD_TIMEOUT_MS):
        window.models.add_folder(str(broken))
    assert window.model is None and not window.sample_action.isEnabled()
    assert window.model_label.text() == "No model"
    draw_stroke(window.draw_view.canvas, zigzag(6))  # the app keeps working
    assert len(window.document) == 1
    assert "No model loaded" in window.draw_view.panel.status.text()


def test_folder_without_a_usable_model_gives_a_message(make_window, qtbot, tmp_path):
    """Runs without a shipped model too: a model.json with nothing behind it never takes the app down."""
    folder = tmp_path / "empty-model"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({"name": "empty"}))
    window = make_window(start=False)
    with qtbot.waitSignal(window.modelFailed, timeout=LOAD_TIMEOUT_MS):
        window.models.add_folder(str(folder))
    title, message = window.errors[-1]
    assert title == "Cannot load model" and str(folder) in message
    # A failed folder is not listed (nor remembered) forever: it leaves the list, and the panel says so.
    assert str(folder) not in window.settings.model_folders()
    assert not any(e.path == folder for e in window.models.entries)
    if window.models.loading is not None:  # a shipped model exists: the app falls back to it and says so
        qtbot.waitUntil(lambda: window.models.loading is None, timeout=LOAD_TIMEOUT_MS)
        assert "empty-model could not be loaded: using the default model" in window.statusBar().currentMessage()
    assert not window.models.add_folder(str(tmp_path / "nothing-here"))
    assert "has no model.json" in window.errors[-1][1]
