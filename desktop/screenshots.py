"""``python -m desktop.screenshots OUTDIR``: PNG screenshots of the real app (Draw, Replay, Morph) for the docs.

Runs the real window (use QT_QPA_PLATFORM=offscreen on a headless machine) with a throw-away $SKETCHGEN_HOME, on the
default shipped model when there is one. The sketches come from the shared data when it is there, else from a
drawn spiral, so it works on a fresh clone too.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["main"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHEEP = REPO_ROOT.parent / "shared" / "data" / "sketch-rnn-datasets" / "aaron_sheep.npz"


def _sketches() -> list[np.ndarray]:
    if SHEEP.exists():
        from sketchgen.datafiles import load_npz

        return load_npz(SHEEP)["test"][:2]
    t = np.linspace(0, 6 * np.pi, 60)
    spiral = np.c_[np.cos(t) * t * 6, np.sin(t) * t * 6]
    box = np.array([[-60.0, -60], [60, -60], [60, 60], [-60, 60], [-60, -60]])
    from sketchgen.strokes import polylines_to_stroke3

    return [polylines_to_stroke3([spiral]), polylines_to_stroke3([box, box * 0.5])]


def _wait(app, condition, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _save(widget, path: Path) -> None:
    from desktop.exporting import _write  # atomic write of the PNG bytes
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().save(buffer, "PNG")
    _write(path, bytes(data))
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs")
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SKETCHGEN_HOME", tempfile.mkdtemp(prefix="sketchgen-shots-"))

    from PySide6.QtWidgets import QApplication

    from desktop.commands import ReplaceDrawing
    from desktop.document import USER, strokes_from_stroke3
    from desktop.inference import centred
    from desktop.main_window import MainWindow

    app = QApplication.instance() or QApplication(["sketchgen"])
    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    window.start_up()
    _wait(app, lambda: window.loading_model is None, 60)

    first, second = (centred(s) for s in _sketches())
    strokes = strokes_from_stroke3(first, USER)
    window.undo_stack.push(ReplaceDrawing(window.document, strokes[: max(1, len(strokes) // 2)], "demo"))
    if window.model is not None:
        _wait(app, lambda: bool(window.draw_view.continuations), 60)
    _wait(app, lambda: False, 0.3)
    _save(window, out / "app-draw.png")

    window.replay_state.load([], play=False)
    window.replay_drawing()
    window.replay_state.pause()
    window.replay_state.seek(window.replay_state.total * 0.6)
    _wait(app, lambda: False, 0.2)
    _save(window, out / "app-replay.png")

    window.tabs.setCurrentWidget(window.morph_view)
    window.morph_view.set_slot("A", first)
    window.morph_view.set_slot("B", second)
    if window.model is not None and window.model.conditional:
        _wait(app, lambda: bool(window.morph_state.strip), 120)
    _wait(app, lambda: False, 0.2)
    _save(window, out / "app-morph.png")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
