"""Entry point: ``sketchgen [--model PATH_OR_NAME] [FILE]`` (also ``python -m desktop``).

Start-up stays fast: the window is shown first, then (from the event loop) the autosave is restored, FILE opened and
the model loaded on the worker thread. ONNX Runtime is imported only there; TensorFlow never.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sketchgen.console import console_main

__all__ = ["main", "build_parser", "app_version"]


def app_version() -> str:
    """The installed package's version (the source tree's when not installed)."""
    from importlib import metadata  # here, not at start-up: it costs a tenth of a second

    try:
        return metadata.version("sketchgen")
    except metadata.PackageNotFoundError:
        return "development copy"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sketchgen",
        description="Draw with a sketch-rnn model: continuations, replay, morphing, export.",
    )
    parser.add_argument(
        "--model",
        metavar="PATH_OR_NAME",
        help="a model folder, or the name of one under assets/models (default: sheep, else the first one there)",
    )
    parser.add_argument("file", nargs="?", metavar="FILE", help="a sketch to open (.json, .ndjson or .npz)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {app_version()}")
    return parser


@console_main  # a start-up failure is one line and a saved traceback, never a raw one
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))

    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from desktop.settings import APPLICATION, ORGANIZATION

    if QApplication.instance() is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "sketchgen"])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("SketchGen")

    from desktop.main_window import MainWindow

    window = MainWindow()
    window.show()
    QTimer.singleShot(0, lambda: window.start_up(args.model, args.file))
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
