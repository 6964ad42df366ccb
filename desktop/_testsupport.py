"""pytest fixtures and helpers for the app's tests (napari's ``make_napari_viewer`` idea): real windows, real
widgets, an isolated ``$SKETCHGEN_HOME`` per test, and errors captured from ``MainWindow.errorShown``.

Import the fixtures into a test module: ``from desktop._testsupport import make_window, sketchgen_home``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox, QWidget

from desktop.model_catalog import SHIPPED_MODELS_DIR, discover_models
from desktop.settings import HOME_ENV

__all__ = ["sketchgen_home", "make_window", "draw_stroke", "shipped_model", "REPO_ROOT", "SHARED_DATA"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def sketchgen_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh app home (settings.ini + autosave) for this test only."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv(HOME_ENV, str(home))
    return home


TEST_SEED = int(os.environ.get("SKETCHGEN_TEST_SEED", "1234"))
"""Seed of every test window's model calls ($SKETCHGEN_TEST_SEED to try others: the tests must pass for any)."""


@pytest.fixture
def make_window(qtbot, sketchgen_home: Path) -> Iterator[Callable[..., object]]:
    """Factory: ``make_window(model=None, file=None, start=True, seed=1234)`` -> a shown MainWindow.

    ``start=True`` runs start-up (autosave restore, FILE, model discovery and load). ``seed`` seeds every model call
    of the window (reproducible results; None for fresh noise). Each window gets ``.errors``,
    the list of ``(title, message)`` it reported. Windows are closed (settings saved) after the test.
    """
    from desktop.main_window import MainWindow

    windows: list[MainWindow] = []

    def factory(model: str | None = None, file: str | None = None, start: bool = True,
                seed: int | None = TEST_SEED) -> MainWindow:
        window = MainWindow(seed=seed)
        window.errors = []  # type: ignore[attr-defined]
        window.errorShown.connect(lambda title, message: window.errors.append((title, message)))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        if start:
            window.start_up(model, file)
        windows.append(window)
        return window

    yield factory
    for window in windows:
        for box in window.findChildren(QMessageBox):
            box.close()
        window.runner.cancel_all()
        window.runner.wait(10000)
        window.close()


def draw_stroke(widget: QWidget, points: Sequence[tuple[int, int]], delay_ms: int = -1) -> None:
    """Press at the first point, move through the rest, release at the last: one stroke, as a person would."""
    first = QPoint(*points[0])
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, first, delay_ms)
    for x, y in points[1:]:
        QTest.mouseMove(widget, QPoint(x, y), delay_ms)
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(*points[-1]), delay_ms)


TEST_MODEL_ENV = "SKETCHGEN_TEST_MODEL"


def shipped_model() -> Path:
    """The model folder the model tests use: ``$SKETCHGEN_TEST_MODEL`` when set (any exported folder, e.g. a tiny
    one), else the default shipped model; skips the test when there is none."""
    override = os.environ.get(TEST_MODEL_ENV)
    entries = [] if override else discover_models([])
    if not override and not entries:
        pytest.skip(f"no shipped model yet (no folder with model.json under {SHIPPED_MODELS_DIR})")
    try:
        import sketchgen.engine as engine
    except ImportError as exc:
        pytest.skip(f"the model engine cannot be imported ({exc})")
    if not hasattr(engine, "load_model"):
        pytest.skip("sketchgen.engine has no load_model yet")
    if override:
        return Path(override)
    for entry in entries:
        if entry.name == "sheep":
            return entry.path
    return entries[0].path


def zigzag(n: int = 12, x0: int = 100, y0: int = 100, step: int = 12) -> list[tuple[int, int]]:
    """A stroke with clear corners (RDP keeps them): ``n`` points zigzagging to the right."""
    return [(x0 + i * step, y0 + (20 if i % 2 else 0)) for i in range(n)]


def dark_pixels(image, threshold: int = 100) -> int:
    """Pixels darker than ``threshold`` (and not transparent) in a QImage."""
    from PySide6.QtGui import QImage

    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    h, w = rgba.height(), rgba.width()
    arr = np.frombuffer(rgba.constBits(), dtype=np.uint8).reshape(h, rgba.bytesPerLine())[:, : w * 4].reshape(h, w, 4)
    dark = (arr[..., :3].max(axis=-1) < threshold) & (arr[..., 3] > 128)
    return int(dark.sum())


__all__ += ["zigzag", "dark_pixels"]


def drag_slider(slider, value: int, steps: int = 12) -> list[int]:
    """Drag ``slider``'s handle with the mouse (press on the handle, move in ``steps``, release) to where ``value``
    sits, as a person would; returns the values the slider passed through."""
    from PySide6.QtWidgets import QStyle, QStyleOptionSlider

    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    style = slider.style()
    handle = style.subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, slider)
    groove = style.subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderGroove, slider)
    span = groove.width() - handle.width()
    offset = QStyle.sliderPositionFromValue(slider.minimum(), slider.maximum(), value, span)
    target_x = groove.x() + offset + handle.width() // 2
    start = handle.center()
    seen: list[int] = []

    def record(v: int) -> None:
        seen.append(v)

    slider.valueChanged.connect(record)
    QTest.mousePress(slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, steps + 1):
        QTest.mouseMove(slider, QPoint(round(start.x() + (target_x - start.x()) * i / steps), start.y()))
    QTest.mouseRelease(slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       QPoint(target_x, start.y()))
    slider.valueChanged.disconnect(record)
    return seen


@pytest.fixture
def no_shipped_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Start the app as on a machine without any model under assets/models/ (an empty folder stands in for it)."""
    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setattr("desktop.model_catalog.SHIPPED_MODELS_DIR", empty)
    return empty


__all__ += ["drag_slider", "no_shipped_models"]


LOAD_TIMEOUT_MS = 60000


def loaded_window(make_window, qtbot, folder=None):
    """A window started on ``folder`` (default: :func:`shipped_model`), once its model has loaded."""
    folder = folder or shipped_model()
    window = make_window(start=False)
    with qtbot.waitSignal(window.modelLoaded, timeout=LOAD_TIMEOUT_MS):
        window.start_up(str(folder))
    assert window.model is not None and not window.errors, window.errors
    return window


SQUARE = np.array([[0, 0, 0], [90, 0, 0], [0, 90, 0], [-90, 0, 0], [0, -90, 1]], np.float32)
TRIANGLE = np.array([[0, 0, 0], [60, 100, 0], [60, -100, 0], [-120, 0, 1]], np.float32)


def morphing_window(make_window, qtbot):
    """A loaded window on its Morph tab with a square in slot A and a triangle in B, once the in-between sketch is
    decoded (skips for a decoder-only model)."""
    window = loaded_window(make_window, qtbot)
    if not window.model.conditional:
        pytest.skip("the model is decoder-only; morphing needs an encoder")
    morph, state = window.morph_view, window.morph_state
    window.tabs.setCurrentWidget(morph)
    morph.set_slot("A", SQUARE)
    morph.set_slot("B", TRIANGLE)
    qtbot.waitUntil(lambda: state.between is not None, timeout=LOAD_TIMEOUT_MS)
    return window


__all__ += ["loaded_window", "LOAD_TIMEOUT_MS", "SQUARE", "TRIANGLE", "morphing_window"]
