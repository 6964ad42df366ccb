"""The rough edges a new user hit (issue 18, items 4, 5, 7, 8 and 9), each with real widgets and real input events."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QKeySequence, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from conftest import card_data
from desktop._testsupport import (  # noqa: F401 (fixtures)
    LOAD_TIMEOUT_MS,
    dark_pixels,
    draw_stroke,
    make_window,
    sketchgen_home,
    zigzag,
)
from desktop.canvas import ABSURD_EXTENT
from desktop.model_catalog import SHIPPED_MODELS_DIR, card_facts, read_card
from desktop.sketch_io import write_sketch_file
from desktop.square_grid import best_columns


# 4: suggestions as a grid -------------------------------------------------------------------------------------------
def test_best_columns_prefers_a_full_square_grid_to_a_ragged_strip():
    assert best_columns(9, 370, 680, 6)[0] == 3  # the largest cells would be 2 x 5 here
    assert best_columns(4, 370, 680, 6)[0] == 2
    assert best_columns(1, 370, 680, 6)[0] == 1
    assert best_columns(3, 900, 200, 6)[0] == 3  # a wide strip of space: one row
    assert best_columns(12, 370, 680, 6)[0] == 3  # 3 x 4, not 2 x 6


@pytest.mark.parametrize("count", range(1, 13))
def test_suggestion_cells_form_a_grid_for_every_count(make_window, count):
    window = make_window(start=False)
    window.resize(1200, 800)
    view = window.draw_view
    view.count.setValue(count)
    view.panel.grid.setVisible(True)
    QApplication.processEvents()
    rows, columns = view.panel.grid.shape()
    assert rows * columns >= count and rows * columns - count < columns  # no empty row
    assert rows <= 2 * columns + 1 and columns <= 2 * rows + 1  # a grid, not a strip
    if count == 9:
        assert (rows, columns) == (3, 3)
    if count == 4:
        assert (rows, columns) == (2, 2)
    sides = {thumb.width() for thumb in view.panel.thumbnails}
    assert len(sides) == 1 and min(sides) >= 48


# 5: redo keys -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("keys", ["Ctrl+Y", "Ctrl+Shift+Z"])
def test_redo_keys_redo(make_window, qtbot, keys):
    window = make_window(start=False)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    draw_stroke(window.draw_view.canvas, zigzag(5))
    window.draw_view.canvas.setFocus()
    QTest.keyClick(window.draw_view.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(window.document) == 0
    sequence = QKeySequence(keys)[0]
    QTest.keyClick(window.draw_view.canvas, sequence.key(), sequence.keyboardModifiers())
    assert len(window.document) == 1
    assert all(k in window.redo_action.shortcuts() for k in QKeySequence.keyBindings(QKeySequence.StandardKey.Redo))


# 7: the model list ----------------------------------------------------------------------------------------------------
def test_added_model_can_be_removed_and_stays_removed_after_a_restart(make_window, qtbot, tmp_path):
    source = SHIPPED_MODELS_DIR / "sheep_uncond"
    if not (source / "model.json").is_file():
        pytest.skip("no shipped sheep_uncond")
    added = tmp_path / "my_sheep"
    shutil.copytree(source, added)
    window = make_window(start=False)
    with qtbot.waitSignal(window.modelLoaded, timeout=LOAD_TIMEOUT_MS):
        window.models.add_folder(str(added))
    panel = window.model_panel
    names = panel.names()
    assert "my_sheep (added)" in names
    rows = panel.list.count()
    assert panel.list.height() >= rows * panel.list.sizeHintForRow(0)  # every row shows, no scrolling
    assert panel.list.height() <= (rows + 1) * panel.list.sizeHintForRow(0) + 2 * panel.list.frameWidth() + 4

    shipped_row = next(i for i, n in enumerate(names) if "(added)" not in n)
    menu = panel.context_menu_for(shipped_row)
    assert [a.text() for a in menu.actions()] == ["&Remove from the list", "Show the &folder"]
    assert not menu.actions()[0].isEnabled()  # shipped models stay
    row = names.index("my_sheep (added)")
    item_rect = panel.list.visualItemRect(panel.list.item(row))
    panel.list.customContextMenuRequested.emit(item_rect.center())
    qtbot.waitUntil(lambda: bool(panel.list.findChildren(type(menu))), timeout=2000)
    popup = [m for m in panel.list.findChildren(type(menu)) if m.isVisible()][-1]
    shown = [a.text() for a in popup.actions()]
    assert shown == ["&Remove from the list", "Show the &folder"] and popup.actions()[0].isEnabled()
    popup.actions()[0].trigger()
    popup.close()
    assert "my_sheep (added)" not in panel.names()
    assert str(added) not in window.settings.model_folders()
    assert added.is_dir()  # the folder itself is untouched
    window.close()
    again = make_window(start=False)
    again.models.refresh()
    assert "my_sheep (added)" not in again.model_panel.names()


def test_a_remembered_folder_that_is_gone_is_forgotten_with_a_note(make_window, sketchgen_home, tmp_path):
    window = make_window(start=False)
    window.settings.set_model_folders([str(tmp_path / "deleted-meanwhile")])
    window.models.refresh()
    assert window.settings.model_folders() == []
    assert "deleted-meanwhile" in window.statusBar().currentMessage()


# 8: fit, zoom, absurd coordinates ----------------------------------------------------------------------------------
def _wheel(widget, at: QPoint, notches: int) -> None:
    event = QWheelEvent(QPointF(at), QPointF(widget.mapToGlobal(at)), QPoint(0, 0), QPoint(0, 120 * notches),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_opening_a_large_sketch_fits_it_and_the_wheel_zooms_about_the_pointer(make_window, tmp_path):
    window = make_window(start=False)
    canvas = window.draw_view.canvas
    big = np.array([[0, 0, 0], [2000, 0, 0], [0, 1500, 0], [-2000, 0, 1]], np.float32)  # far wider than the canvas
    path = tmp_path / "big.json"
    write_sketch_file(path, big, {})
    assert window.files.open_file(path)
    screen = canvas.to_widget(np.concatenate([s.points for s in window.document.strokes]))
    assert screen[:, 0].min() >= 0 and screen[:, 0].max() <= canvas.width()
    assert screen[:, 1].min() >= 0 and screen[:, 1].max() <= canvas.height()
    assert canvas.zoom < 1.0
    at = QPoint(canvas.width() // 3, canvas.height() // 3)
    anchor = canvas.to_model(at.x(), at.y())
    zoom = canvas.zoom
    _wheel(canvas, at, 2)
    assert canvas.zoom == pytest.approx(zoom * 1.0015 ** 240)
    assert np.allclose(canvas.to_model(at.x(), at.y()), anchor)  # the point under the pointer stays put
    _wheel(canvas, at, -2)
    assert canvas.zoom == pytest.approx(zoom)
    # A stroke drawn while zoomed out is as large, in the drawing's units, as it looks.
    draw_stroke(canvas, [(50, 50), (150, 50)])
    drawn = window.document.strokes[-1].points
    assert np.ptp(drawn[:, 0]) == pytest.approx(100 / canvas.zoom, rel=0.02)


def test_a_touchpad_pinch_zooms_and_ctrl_0_fits_again(make_window, qtbot):
    from PySide6.QtGui import QNativeGestureEvent, QPointingDevice

    window = make_window(start=False)
    canvas = window.draw_view.canvas
    draw_stroke(canvas, [(40, 40), (200, 60), (120, 200)])
    at = QPointF(canvas.width() / 2, canvas.height() / 2)
    pinch = QNativeGestureEvent(Qt.NativeGestureType.ZoomNativeGesture, QPointingDevice.primaryPointingDevice(), 2,
                                at, at, QPointF(canvas.mapToGlobal(at)), 0.5, QPointF(0, 0))
    QApplication.sendEvent(canvas, pinch)
    assert canvas.zoom == pytest.approx(1.5)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert canvas.zoom == pytest.approx(1.0)  # the drawing fits at zoom 1: shown at its own size, centred
    points = window.document.strokes[0].points
    middle = canvas.to_widget(((points.min(axis=0) + points.max(axis=0)) / 2)[None, :])[0]
    assert np.allclose(middle, [canvas.width() / 2, canvas.height() / 2], atol=1)


def test_absurd_coordinates_open_visible_with_a_warning(make_window, tmp_path):
    window = make_window(start=False)
    path = tmp_path / "huge.json"
    write_sketch_file(path, np.array([[0, 0, 0], [1e30, 0, 0], [0, 1e30, 0], [-1e30, 0, 1]], np.float32), {})
    assert window.files.open_file(path)
    status = window.statusBar().currentMessage()
    assert "huge.json" in status and "warning" in status and "1e+30" in status
    canvas = window.draw_view.canvas
    assert canvas.zoom < 1e-20
    assert dark_pixels(canvas.grab().toImage()) > 100  # not blank
    assert 1e30 > ABSURD_EXTENT


# 9: the small things ----------------------------------------------------------------------------------------------
def test_at_800_pixels_the_temperature_stays_in_the_toolbar(make_window):
    window = make_window(start=False)
    window.resize(800, 600)
    QApplication.processEvents()
    assert window.width() == 800
    assert window.temperature.isVisible()
    assert window.temperature.geometry().right() <= window.toolbar.width()


def test_undo_redo_icons_are_not_navigation_arrows(make_window):
    window = make_window(start=False)
    style = window.style()
    back = style.standardIcon(style.StandardPixmap.SP_ArrowBack).pixmap(24).toImage()
    forward = style.standardIcon(style.StandardPixmap.SP_ArrowForward).pixmap(24).toImage()
    assert window.undo_action.icon().pixmap(24).toImage() != back
    assert window.redo_action.icon().pixmap(24).toImage() != forward


def test_about_names_the_version(make_window, qtbot):
    from desktop.app import app_version

    window = make_window(start=False)
    seen = {}

    def read():
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
        seen["text"] = box.text()
        box.accept()

    from PySide6.QtCore import QTimer

    QTimer.singleShot(200, read)
    window.about_action.trigger()
    assert app_version() in seen["text"] and app_version() != ""


def test_a_decoder_only_card_shows_no_kl_number(tmp_path):
    losses = {"valid_L_R": 0.11, "valid_L_KL": 0.0, "test_L_R": 0.1, "test_L_KL": 0.0}
    for conditional, shown in ((False, "L_KL: valid -, test -"), (True, "L_KL: valid 0, test 0")):
        folder = tmp_path / str(conditional)
        folder.mkdir()
        (folder / "model.json").write_text(json.dumps(card_data(conditional, losses=losses)))
        text = dict(card_facts(read_card(folder)))["Losses"]
        assert shown in text and "L_R: valid 0.11" in text


def test_a_new_temperature_rule_asks_the_model_again(make_window, qtbot):
    from desktop._testsupport import loaded_window

    window = loaded_window(make_window, qtbot)
    view = window.draw_view
    draw_stroke(view.canvas, zigzag(10, 80, 120, 14))
    qtbot.waitUntil(lambda: view._continuations_for == window.document.revision, timeout=60000)
    asked = view.last_call["continue"]["seed"]
    window.temperature.rule.setCurrentIndex(window.temperature.rule.findData("paper"))
    qtbot.waitUntil(lambda: view.last_call["continue"]["seed"] != asked
                    and view._continuations_for == window.document.revision, timeout=60000)
    assert window.model.temperature_rule == "paper"
