"""Opening and saving sketches (JSON, QuickDraw ndjson, stroke-3 npz), dropping files, and bad files' messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from desktop._testsupport import SHARED_DATA, draw_stroke, make_window, sketchgen_home, zigzag  # noqa: F401
from desktop.canvas_views import sketch_mime_data
from desktop.document import MODEL, USER
from desktop.sketch_io import ndjson_line, read_sketch_file, write_sketch_file
from sketchgen.datafiles import save_npz
from sketchgen.errors import DataFileError
from sketchgen.quickdraw import parse_ndjson_line


def _drawing(window) -> np.ndarray:
    draw_stroke(window.draw_view.canvas, zigzag(8, 60, 80))
    draw_stroke(window.draw_view.canvas, [(100, 200), (180, 240), (260, 200)])
    return window.document.to_stroke3()


@pytest.mark.parametrize("suffix", [".json", ".ndjson", ".npz"])
def test_save_then_open_round_trips(make_window, tmp_path, suffix):
    window = make_window()
    s3 = _drawing(window)
    path = tmp_path / f"mine{suffix}"
    assert window.files.save_to(path)
    assert window.files.current_file == path and not window.isWindowModified()
    window.new_action.trigger()
    assert window.document.is_empty()
    assert window.files.open_file(path)
    np.testing.assert_allclose(window.document.to_stroke3(), s3, atol=1e-3)
    assert window.files.current_file == path
    assert str(path.resolve()) == window.settings.recent_files()[0]
    window.undo_action.trigger()  # opening is undoable too
    assert window.document.is_empty()


def test_json_keeps_who_drew_each_stroke(make_window, tmp_path):
    window = make_window()
    _drawing(window)
    from desktop.commands import AddStrokes
    from desktop.document import Stroke

    window.undo_stack.push(AddStrokes(window.document, [Stroke(np.array([[0.0, 0.0], [30.0, 30.0]]), MODEL)], "x"))
    path = tmp_path / "authors.json"
    assert window.files.save_to(path)
    window.new_action.trigger()
    window.files.open_file(path)
    assert window.document.authors() == [USER, USER, MODEL]


def test_ndjson_line_is_quickdraw_simplified_format():
    s3 = np.array([[10, 20, 0], [5, 0, 1], [-3, 4, 0], [1, 1, 1]], dtype=np.float32)
    line = ndjson_line(s3, {"word": "cat", "authors": ["user"]})
    record = json.loads(line)
    assert record["word"] == "cat" and "authors" not in record
    assert record["drawing"] == [[[10, 15], [20, 20]], [[12, 13], [24, 25]]]
    np.testing.assert_array_equal(parse_ndjson_line(line).strokes, s3)


def test_data_set_npz_opens_the_chosen_sketch_and_is_never_overwritten(make_window, tmp_path):
    window = make_window()
    rng = np.random.default_rng(1)
    sketches = [np.c_[rng.integers(-20, 20, (n, 2)), np.eye(1, n, n - 1)[0]] for n in (5, 7, 9, 11)]
    path = tmp_path / "set.npz"
    save_npz(path, {"train": sketches[:2], "valid": sketches[2:3], "test": sketches[3:]})
    opened = read_sketch_file(path)
    assert [c.label for c in opened.choices] == ["train 0", "train 1", "valid 0", "test 0"]
    assert window.files.open_file(path, choice=2)
    np.testing.assert_allclose(window.document.to_stroke3(), sketches[2], atol=1e-4)
    assert window.files.current_file is None  # Save must ask for a new file, not rewrite the data set
    assert not window.files.open_file(path, choice=9)
    assert "has sketches 0 to 3, not 9" in window.errors[-1][1]


def test_real_quickdraw_files_open(make_window):
    source = SHARED_DATA / "quickdraw-mini" / "source"
    files = sorted(source.glob("*.ndjson")) if source.is_dir() else []
    if not files:
        pytest.skip(f"shared QuickDraw data not found under {source}")
    window = make_window()
    assert window.files.open_file(files[0], choice=3)
    assert len(window.document) >= 1
    npz = SHARED_DATA / "quickdraw-mini" / "cat.mini25.npz"
    assert window.files.open_file(npz, choice=0)
    assert window.document.point_count() == len(read_sketch_file(npz).choices[0].strokes)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("broken.json", b'{"strokes": [[1, 2, 0], [3, 4', "is not valid JSON"),
        ("nan.json", b'{"strokes": [[1, 2, 0], [NaN, 4, 1]]}', "NaN"),
        ("pen.json", b'{"strokes": [[1, 2, 7]]}', "pen values must be 0 or 1"),
        ("junk.npz", b"this is not a zip file", ""),
        ("empty.ndjson", b"not json\n", "line 1"),
        ("notes.txt", b"hello", "unknown file type '.txt'"),
    ],
)
def test_bad_files_show_a_message_naming_the_file(make_window, tmp_path, name, content, expected):
    window = make_window()
    _drawing(window)
    before = window.document.to_stroke3()
    path = tmp_path / name
    path.write_bytes(content)
    assert not window.files.open_file(path)
    title, message = window.errors[-1]
    assert title == "Cannot open file" and name in message and expected in message
    assert window.last_error_box is not None and window.last_error_box.isVisible()
    box = window.last_error_box
    assert not box.isModal() or box.windowModality() != Qt.WindowModality.ApplicationModal
    np.testing.assert_array_equal(window.document.to_stroke3(), before)  # the drawing is untouched


def test_missing_file_and_unwritable_save(make_window, tmp_path):
    window = make_window()
    assert not window.files.open_file(tmp_path / "nope.json")
    assert "nope.json" in window.errors[-1][1] and "no such file" in window.errors[-1][1]
    _drawing(window)
    assert not window.files.save_to(tmp_path / "no-such-dir" / "x.json")
    assert "x.json" in window.errors[-1][1] and window.files.current_file is None
    with pytest.raises(DataFileError, match="unknown file type"):
        write_sketch_file(tmp_path / "x.png", window.document.to_stroke3())


def _drop(widget, mime: QMimeData) -> None:
    """A drag entering ``widget`` and dropping at its centre, as Qt delivers a real drag and drop."""
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(pos.toPoint(), *args)  # QPoint in Qt 6 (PySide6 6.12 also takes QPointF)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the widget refused the drag"
    QApplication.sendEvent(widget, QDropEvent(pos, *args))


def test_dropping_a_file_onto_the_window_opens_it(make_window, qtbot, tmp_path):
    window = make_window()
    s3 = np.array([[0, 0, 0], [40, 10, 0], [10, 40, 1]], dtype=np.float32)
    path = tmp_path / "dropped.json"
    write_sketch_file(path, s3)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    _drop(window, mime)
    qtbot.waitUntil(lambda: len(window.document) == 1 or bool(window.errors), timeout=3000)
    assert not window.errors, window.errors
    np.testing.assert_allclose(window.document.to_stroke3(), s3)
    assert window.files.current_file == path


def test_dropping_a_sketch_into_a_morph_slot(make_window):
    window = make_window()
    s3 = np.array([[0, 0, 0], [40, 10, 0], [10, 40, 1]], dtype=np.float32)
    slot = window.morph_view.slot_widgets["B"][0]
    _drop(slot, sketch_mime_data(s3))
    np.testing.assert_allclose(window.morph_state.slots["B"], s3)
    assert window.morph_view.slot_widgets["B"][1].view.has_sketch()  # the grid page's slot B shows it too


def test_sketch_picker_dialog_previews_and_returns_the_choice(qtbot, tmp_path):
    from desktop.dialogs import SketchPickerDialog

    sketches = [np.array([[0, 0, 0], [10 * (i + 1), 0, 1]], np.float32) for i in range(3)]
    path = tmp_path / "three.npz"
    save_npz(path, {"train": sketches, "valid": [], "test": []})
    dialog = SketchPickerDialog(read_sketch_file(path))
    qtbot.addWidget(dialog)
    assert dialog.index.maximum() == 2
    dialog.index.setValue(2)
    assert dialog.chosen() == 2 and "train 2 (2 points)" == dialog.label.text()
    assert dialog.preview.has_sketch()
