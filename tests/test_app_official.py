"""The app's official models: Model > Get official models... picks "sheep" from the whole catalogue, downloads it
from a real HTTP server on 127.0.0.1 (standing in for the official storage) with a progress bar, converts it off the
GUI thread, and the model joins the list, draws a Random sample and completes a stroke; offline says so; a
sketch-rnn-js file imports from disk. The official weights are read from ../shared/data (skipped where absent) and
converted into the test's own app home only."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtTest import QTest

from desktop import official_models
from desktop._testsupport import (  # noqa: F401 (fixtures)
    LOAD_TIMEOUT_MS,
    draw_stroke,
    loaded_window,
    make_window,
    sketchgen_home,
    zigzag,
)
from desktop.model_catalog import card_facts
from sketchgen.model_folder import ModelCard

from official_support import Storage, official_storage, tiny_js_model

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sketch-rnn-js-models"
TIMEOUT_MS = 180_000


@pytest.fixture
def sheep_file() -> Path:
    path = SHARED_MODELS / "sheep.gen.json"
    if not path.is_file():
        pytest.skip(f"the official models are not present at {SHARED_MODELS}")
    return path


def test_get_sheep_from_the_official_list_then_draw_with_it(make_window, qtbot, sketchgen_home: Path,
                                                            sheep_file: Path) -> None:
    window = loaded_window(make_window, qtbot)
    storage = Storage()
    storage.add("sheep.gen.json", sheep_file.read_bytes())
    with official_storage(storage) as base:
        dialog = official_models.open_dialog(window, base_url=base)
        assert len(dialog.visible_names()) == 227  # every official model, gen and vae
        QTest.keyClicks(dialog.search, "sheep")
        assert dialog.visible_names() == ["lionsheep.gen", "lionsheep.vae", "pigsheep.gen", "pigsheep.vae",
                                          "sheep.gen", "sheep.vae"]
        dialog.select("sheep.gen")
        seen_progress = []
        dialog.progress.received.connect(lambda done, total: seen_progress.append((done, total)))
        with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT_MS):
            dialog.get_button.click()
            assert dialog.bar.isVisible()  # the GUI thread is free while the worker downloads and converts
        assert storage.requests == [f"{storage.prefix}/sheep.gen.json"]
    assert seen_progress and seen_progress[-1][0] == sheep_file.stat().st_size
    folder = sketchgen_home / "official" / "models" / "sheep.gen"
    assert window.model.path == folder and not window.model.conditional
    assert str(folder.parent) in window.settings.model_folders()
    facts = dict(card_facts(ModelCard.read(folder)))
    assert facts["Provenance"] == "official sketch-rnn model" and "CC BY 4.0" in facts["License"]
    assert not window.reconstruct_action.isEnabled()  # decoder-only: no encoder to reconstruct with

    window.sample_action.trigger()
    qtbot.waitUntil(lambda: window.undo_stack.undoText() == "Random sample" or bool(window.errors),
                    timeout=TIMEOUT_MS)
    assert not window.errors and len(window.document) > 0

    window.new_drawing()
    view = window.draw_view
    draw_stroke(view.canvas, zigzag())
    qtbot.waitUntil(lambda: view._continuations_for == window.document.revision and bool(view.continuations),
                    timeout=TIMEOUT_MS)
    assert not window.errors


def test_offline_says_so_and_keeps_the_dialog(make_window, qtbot, sketchgen_home: Path) -> None:
    window = loaded_window(make_window, qtbot)
    dialog = official_models.open_dialog(window, base_url="http://127.0.0.1:9/large_models")
    dialog.select("cat.gen")
    dialog.get_button.click()
    qtbot.waitUntil(lambda: "offline" in dialog.status.text(), timeout=TIMEOUT_MS)
    assert dialog.isVisible() and dialog.get_button.isEnabled()
    assert not (sketchgen_home / "official" / "models" / "cat.gen").exists()


def test_import_a_sketch_rnn_js_file_from_disk(make_window, qtbot, sketchgen_home: Path, tmp_path: Path) -> None:
    window = loaded_window(make_window, qtbot)
    path = tmp_path / "tiny.vae.json"
    path.write_text(tiny_js_model("vae"), encoding="utf-8")
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT_MS):
        official_models.import_job(window, file=str(path))
    assert window.model.path == sketchgen_home / "official" / "models" / "tiny.vae" and window.model.conditional
    assert window.reconstruct_action.isEnabled()
    bad = tmp_path / "broken.gen.json"
    bad.write_text(tiny_js_model("gen")[:500], encoding="utf-8")
    official_models.import_job(window, file=str(bad))
    qtbot.waitUntil(lambda: bool(window.errors), timeout=TIMEOUT_MS)
    title, message = window.errors[-1]
    assert title == "Import failed" and message.startswith(f"{bad}: ") and "truncated" in message
    names = [a.text() for a in window.model_menu.actions()]
    assert "Get &official models..." in names and "&Import sketch-rnn-js file..." in names
