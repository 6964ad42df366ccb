"""``python -m desktop.screenshots OUTDIR``: PNG screenshots of the real app for the docs (``make screenshots``).

Runs the real window (QT_QPA_PLATFORM=offscreen on a headless machine) with a throw-away $SKETCHGEN_HOME on the
default shipped model, and goes through the app as a person would: draws strokes with mouse events, points at a
suggestion and has the model draw it (caught mid-stroke), reconstructs and pauses the replay mid-way, morphs between
two sketches and builds the grid, and opens the model information and the official-model catalogue. Every model call
is seeded, so the pictures only change when the model does. The sketches come from the shared aaron_sheep data when
it is there, else from simple shapes, so it works on a fresh clone too. Writes
OUTDIR/screenshot-{draw,animation,replay,morph,morph-grid,model,official}.png.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["main", "SHOTS"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHEEP = REPO_ROOT.parent / "shared" / "data" / "sketch-rnn-datasets" / "aaron_sheep.npz"
SHOTS = ("draw", "animation", "replay", "morph", "morph-grid", "model", "official")
WINDOW_SIZE = (1280, 800)
SEED = 7
TEMPERATURE = 0.3  # careful strokes read better in a small picture


def _sketches() -> list[np.ndarray]:
    """Four sketches in model units: aaron_sheep test drawings, else a sheep-sized cloud, box, spiral and wave."""
    if SHEEP.exists():
        from sketchgen.datafiles import load_npz

        test = load_npz(SHEEP)["test"]
        return [test[i] for i in (2, 1, 3, 0)]
    from sketchgen.strokes import polylines_to_stroke3

    t = np.linspace(0, 2 * np.pi, 40)
    cloud = np.c_[np.cos(t) * 100 + np.sin(7 * t) * 8, np.sin(t) * 60 + np.cos(7 * t) * 8]
    legs = [np.array([[x, 50.0], [x, 110.0]]) for x in (-60, -20, 20, 60)]
    box = np.array([[-90.0, -60], [90, -60], [90, 60], [-90, 60], [-90, -60]])
    s = np.linspace(0, 6 * np.pi, 60)
    spiral = np.c_[np.cos(s) * s * 5, np.sin(s) * s * 5]
    wave = np.c_[np.linspace(-110, 110, 30), np.sin(np.linspace(0, 4 * np.pi, 30)) * 40]
    return [polylines_to_stroke3(lines) for lines in ([cloud, *legs], [box, *legs], [spiral], [wave, box * 0.4])]


def _wait(app, condition: Callable[[], bool], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    app.processEvents()
    return condition()


def _png(image) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data)


def _save(image, path: Path) -> None:
    from desktop.exporting import _write  # atomic: a temporary file, then a rename

    data = _png(image)
    _write(path, data)
    print(f"wrote {path} ({len(data) // 1024} KB)")


def _draw_with_mouse(canvas, polylines: list[np.ndarray]) -> None:
    """Each polyline (model units) as one mouse stroke on the canvas: press, move through its points, release."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    mapping = canvas.mapping()
    for line in polylines:
        points = [QPoint(round(x), round(y)) for x, y in mapping.to_screen(line)]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
        for point in points[1:]:
            QTest.mouseMove(canvas, point)
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])


def _with_dialog(window, dialog):
    """The window with ``dialog`` painted centred on top, as a person sees it (offscreen, each is its own image)."""
    from PySide6.QtGui import QColor, QPainter

    image = window.grab().toImage()
    shot = dialog.grab().toImage()
    painter = QPainter(image)
    painter.fillRect(image.rect(), QColor(0, 0, 0, 40))
    x, y = (image.width() - shot.width()) // 2, (image.height() - shot.height()) // 3
    painter.fillRect(x - 1, y - 1, shot.width() + 2, shot.height() + 2, QColor(120, 120, 120))
    painter.drawImage(x, y, shot)
    painter.end()
    return image


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs")
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SKETCHGEN_HOME", tempfile.mkdtemp(prefix="sketchgen-shots-"))

    from PySide6.QtCore import QPoint
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QMessageBox

    from sketchgen.strokes import center
    from desktop.main_window import MainWindow
    from sketchgen.strokes import stroke3_to_polylines

    app = QApplication.instance() or QApplication(["sketchgen"])
    app.setApplicationDisplayName("SketchGen")
    window = MainWindow(seed=SEED)
    window.resize(*WINDOW_SIZE)
    window.show()
    window.start_up()
    _wait(app, lambda: window.models.loading is None, 120)
    model = window.model
    if model is None:
        print("no model loaded: the screenshots show the app without one", file=sys.stderr)
    window.temperature.set_value(TEMPERATURE)
    window.new_drawing()
    first, second, third, fourth = (center(s) for s in _sketches())

    # Draw: the person draws part of a sheep; the model's suggestions appear; pointing at one previews it.
    view = window.draw_view
    lines = stroke3_to_polylines(first)
    # the first 40% of its points: the head and the start of the back, where the model has something to add (a
    # whole outline with legs is a finished sheep to it: every suggestion would stop there)
    _draw_with_mouse(view.canvas, stroke3_to_polylines(first[: max(2, int(len(first) * 0.4))]))
    usable: list[int] = []
    if model is not None:
        _wait(app, lambda: view._continuations_for == window.document.revision, 60)
        usable = [i for i, c in enumerate(view.continuations) if c]
        if usable:
            thumb = view.panel.thumbnails[usable[0]]
            QTest.mouseMove(thumb, QPoint(thumb.width() // 2, thumb.height() // 2))
            _wait(app, lambda: bool(view.canvas.preview()), 2)
    _wait(app, lambda: view.animator.path is None, 5)  # the preview drawn in full
    _wait(app, lambda: False, 0.2)
    _save(window.grab().toImage(), out / "screenshot-draw.png")

    # The model drawing the suggestion it was asked for onto the canvas, caught mid-stroke.
    if model is not None and usable:
        view.accept_continuation(usable[0])
        path = view.animator.path
        if path is not None:
            view.animator.hold_at(path.duration * 0.55)
            _wait(app, lambda: False, 0.2)
            _save(window.grab().toImage(), out / "screenshot-animation.png")
            view.animator.finish_now()
            _wait(app, lambda: not view.animator.is_drawing(), 2)
    QTest.mouseMove(view.canvas, QPoint(5, 5))

    # Replay: the reconstruction of the whole sheep, beside the original, paused mid-way.
    window.set_drawing([], "screenshots")
    _draw_with_mouse(view.canvas, lines)
    if model is not None and model.conditional:
        window.reconstruct_action.trigger()
        _wait(app, lambda: len(window.replay_state.items) == 2, 60)
    else:
        window.replay_drawing()
    window.replay_state.pause()
    window.replay_state.seek(window.replay_state.total * 0.6)
    _wait(app, lambda: False, 0.2)
    _save(window.grab().toImage(), out / "screenshot-replay.png")

    # Morph: two sketches in slots A and B, the handle a third of the way, the strip below.
    morph = window.morph_view
    window.statusBar().clearMessage()
    window.tabs.setCurrentWidget(morph)
    morph.tabs.setCurrentIndex(0)
    morph.set_slot("A", second)
    morph.set_slot("B", third)
    morph.handle.setValue(35)
    state = window.morph_state
    if model is not None and model.conditional:
        _wait(app, lambda: state.between_handle == 35 and len(state.strip) == len(morph.strip_views), 60)
    _wait(app, lambda: False, 0.2)
    _save(window.grab().toImage(), out / "screenshot-morph.png")

    # Morph grid: four corners and the 5 x 5 sketches between them.
    morph.tabs.setCurrentIndex(1)
    morph.set_slot("C", first)
    morph.set_slot("D", fourth)
    morph.request_grid()
    if model is not None and model.conditional:
        _wait(app, lambda: bool(state.grid), 60)
    _wait(app, lambda: False, 0.2)
    _save(window.grab().toImage(), out / "screenshot-morph-grid.png")

    # Model information (Help > Model information) over the Draw tab.
    window.statusBar().clearMessage()
    window.tabs.setCurrentWidget(view)
    if model is not None:
        window.model_info_action.trigger()
        boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
        _wait(app, lambda: False, 0.2)
        image = _with_dialog(window, boxes[-1]) if boxes else window.grab().toImage()
        for box in boxes:
            box.close()
    else:
        image = window.grab().toImage()
    _save(image, out / "screenshot-model.png")

    # Model > Get official models...: the official catalogue, searched for "cat" (nothing is downloaded).
    from desktop import official_models

    dialog = official_models.open_dialog(window)
    QTest.keyClicks(dialog.search, "cat")
    _wait(app, lambda: False, 0.3)
    _save(_with_dialog(window, dialog), out / "screenshot-official.png")
    dialog.close()

    window.runner.cancel_all()
    window.runner.wait(10000)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
