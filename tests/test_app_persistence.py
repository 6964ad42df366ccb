"""What survives a restart: the autosaved drawing (even after a kill), window geometry, temperature, recent files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np

from desktop._testsupport import REPO_ROOT, draw_stroke, make_window, sketchgen_home, zigzag  # noqa: F401
from desktop.autosave import AUTOSAVE_NAME, Autosave
from desktop.document import MODEL, USER, Stroke


def test_every_change_is_autosaved_and_restored_in_a_new_window(make_window, sketchgen_home):
    window = make_window()
    draw_stroke(window.draw_view.canvas, zigzag(8, 60, 80))
    draw_stroke(window.draw_view.canvas, zigzag(8, 60, 160))
    autosave = sketchgen_home / AUTOSAVE_NAME
    assert window.autosave.flush()  # written on a background thread, within milliseconds
    assert autosave.exists()
    saved = window.document.to_stroke3()
    window.undo_action.trigger()  # the autosave follows undo too
    assert window.autosave.flush()
    assert len(Autosave(sketchgen_home).load().strokes) == 1
    window.redo_action.trigger()
    assert window.autosave.flush()
    # A second window (the next start) gets the drawing back, and not as an undoable step.
    second = make_window()
    np.testing.assert_allclose(second.document.to_stroke3(), saved, atol=1e-4)
    assert not second.undo_stack.canUndo()
    assert "Restored" in second.statusBar().currentMessage()


def test_autosave_keeps_authors_and_clearing_removes_it(sketchgen_home):
    autosave = Autosave(sketchgen_home)
    strokes = [Stroke(np.array([[0.0, 0.0], [5.0, 5.0]]), USER), Stroke(np.array([[9.0, 1.0]]), MODEL)]
    autosave.save(strokes, file="/x/y.json")
    restored = autosave.load()
    assert [s.author for s in restored.strokes] == [USER, MODEL] and restored.file == "/x/y.json"
    autosave.save([])
    assert autosave.load() is None


def test_damaged_autosave_is_reported_and_kept_aside(make_window, sketchgen_home):
    (sketchgen_home / AUTOSAVE_NAME).write_text('{"strokes": [[1, 2')
    window = make_window()
    title, message = window.errors[-1]
    assert AUTOSAVE_NAME in message and "not valid JSON" in message and "kept it as" in message
    kept = list(sketchgen_home.glob("autosave.damaged-*.json"))
    assert len(kept) == 1 and kept[0].read_text() == '{"strokes": [[1, 2'
    assert window.document.is_empty()


def test_drawing_survives_a_kill(sketchgen_home, tmp_path):
    """A real app process draws, gets SIGKILLed (no clean shutdown), and the next start has the drawing."""
    script = tmp_path / "draw_then_hang.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        from PySide6.QtCore import QPoint, Qt
        from PySide6.QtTest import QTest
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from desktop.main_window import MainWindow
        window = MainWindow(); window.show(); window.start_up()
        canvas = window.draw_view.canvas
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(50, 50))
        for x in range(60, 200, 10):
            QTest.mouseMove(canvas, QPoint(x, 50 + (x % 20)))
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(200, 50))
        window.autosave.flush()  # the background write, done within milliseconds of the stroke
        print("drawn", len(window.document), flush=True)
        time.sleep(60)
    """))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "drawn 1"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    restored = Autosave(sketchgen_home).load()
    assert restored is not None and len(restored.strokes) == 1 and len(restored.strokes[0].points) >= 3


def test_settings_persist_between_windows(make_window, qtbot, tmp_path):
    window = make_window()
    window.resize(760, 590)  # the offscreen screen is 800x800
    window.temperature.set_value(0.83)
    window.draw_view.count.setValue(6)
    draw_stroke(window.draw_view.canvas, zigzag(5))
    saved = tmp_path / "kept.json"
    assert window.files.save_to(saved)
    window.close()
    second = make_window()
    assert second.temperature.value() == 0.83
    assert second.temperature.slider.value() == 83
    assert second.draw_view.temperature == 0.83
    assert second.draw_view.count.value() == 6 and len(second.draw_view.panel.thumbnails) == 6
    assert (second.width(), second.height()) == (760, 590)
    assert second.settings.recent_files()[0] == str(saved.resolve())
    second.recent_menu.aboutToShow.emit()
    assert any(saved.name in a.text() for a in second.recent_menu.actions())
    assert second.files.current_file == saved  # the autosave remembers which file the drawing belongs to


def test_temperature_controls_stay_in_sync(make_window):
    window = make_window()
    control = window.temperature
    seen = []
    control.valueChanged.connect(seen.append)
    control.slider.setValue(25)
    assert control.spin.value() == 0.25 and window.draw_view.temperature == 0.25
    control.spin.setValue(1.2)
    assert control.slider.value() == 120 and window.morph_view.temperature == 1.2
    assert seen == [0.25, 1.2]


def test_autosave_writes_in_the_background_and_keeps_only_the_newest(sketchgen_home):
    autosave = Autosave(sketchgen_home)
    drawings = [[Stroke(np.array([[0.0, 0.0], [float(i), 5.0]]), USER)] * (i % 3 + 1) for i in range(1, 40)]
    for strokes in drawings:  # faster than any disk: older drawings are replaced, never queued
        autosave.save(strokes)
    assert autosave.flush()
    restored = Autosave(sketchgen_home).load()
    assert len(restored.strokes) == len(drawings[-1]) and restored.strokes[-1].points[-1, 0] == 39.0


def test_autosave_failure_is_reported_once(make_window, qtbot, sketchgen_home):
    window = make_window()
    (sketchgen_home / AUTOSAVE_NAME).mkdir()  # the file cannot be replaced by a write now
    draw_stroke(window.draw_view.canvas, zigzag(6))
    qtbot.waitUntil(lambda: any(t == "Autosave failed" for t, _ in window.errors), timeout=5000)
    draw_stroke(window.draw_view.canvas, zigzag(6, 60, 200))
    window.autosave.flush()
    qtbot.wait(50)
    failures = [m for t, m in window.errors if t == "Autosave failed"]
    assert len(failures) == 1 and AUTOSAVE_NAME in failures[0]
