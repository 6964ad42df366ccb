"""The model runner: work runs off the GUI thread, stale requests are dropped (not queued), errors become messages."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QThread

from desktop.workers import ModelRunner
from sketchgen.errors import ModelError


@pytest.fixture
def runner(qtbot):
    runner = ModelRunner()
    yield runner
    runner.cancel_all()
    runner.wait(5000)


def test_work_runs_on_a_worker_thread_and_reports_on_the_gui_thread(runner, qtbot):
    gui = QThread.currentThread()
    seen = {}

    def work():
        seen["worker"] = QThread.currentThread()
        return 42

    results = []
    runner.submit("x", work, lambda value: results.append((value, QThread.currentThread())))
    qtbot.waitUntil(lambda: bool(results), timeout=3000)
    assert results == [(42, gui)]
    assert seen["worker"] is not gui


def test_newer_requests_make_older_ones_stale(runner, qtbot):
    gate = threading.Event()
    started = []
    results = []

    def job(k):
        def run():
            started.append(k)
            if k == 0:
                gate.wait(5)
            return k

        return run

    for k in range(5):  # 0 runs (blocked); 1..3 are replaced while waiting; only 4 runs after 0
        runner.submit("continue", job(k), results.append)
    assert runner.is_busy("continue")
    gate.set()
    qtbot.waitUntil(lambda: not runner.is_busy("continue"), timeout=5000)
    assert started == [0, 4]  # dropped, not queued
    assert results == [4]  # the result of 0 arrived stale and was thrown away


def test_channels_do_not_make_each_other_stale(runner, qtbot):
    results = []
    runner.submit("morph", lambda: "m", results.append)
    runner.submit("continue", lambda: "c", results.append)
    qtbot.waitUntil(lambda: len(results) == 2, timeout=3000)
    assert sorted(results) == ["c", "m"]


def test_cancel_drops_the_result(runner, qtbot):
    gate = threading.Event()
    results = []
    runner.submit("load", lambda: gate.wait(5) and "model", results.append)
    runner.cancel("load")
    gate.set()
    qtbot.waitUntil(lambda: not runner.is_busy(), timeout=3000)
    assert results == []


def test_errors_arrive_as_messages(runner, qtbot):
    errors = []

    def broken():
        raise ModelError("/m/encoder.onnx", "is not an ONNX model")

    def bug():
        raise ZeroDivisionError("division by zero")

    runner.submit("a", broken, lambda v: None, errors.append)
    runner.submit("b", bug, lambda v: None, errors.append)
    qtbot.waitUntil(lambda: len(errors) == 2, timeout=3000)
    assert "/m/encoder.onnx: is not an ONNX model" in errors
    assert "unexpected ZeroDivisionError: division by zero" in errors


def test_busy_signal_brackets_the_work(runner, qtbot):
    events = []
    runner.busyChanged.connect(lambda channel, busy: events.append((channel, busy)))
    with qtbot.waitSignal(runner.busyChanged, check_params_cb=lambda ch, busy: not busy, timeout=3000):
        runner.submit("s", lambda: 1, lambda v: None)
    assert events == [("s", True), ("s", False)]
