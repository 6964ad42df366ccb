"""Model work off the GUI thread: one worker thread, newest request per channel wins, stale results dropped.

Every request belongs to a *channel* ("continue", "morph", "load", ...). Submitting to a channel makes every earlier
request of that channel stale: one not yet started is dropped (never queued behind the new one), and the result of
one already running is thrown away when it arrives (generation counter). Results and errors come back to the GUI
thread through a queued Qt signal, so the GUI thread only ever runs the cheap callbacks.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from sketchgen.errors import SketchGenError

__all__ = ["ModelRunner", "describe_error"]


def describe_error(exc: BaseException) -> str:
    """A user-facing message: SketchGenError messages as they are, anything else with its type (and logged)."""
    if isinstance(exc, SketchGenError):
        return str(exc)
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return f"unexpected {type(exc).__name__}: {exc}"


@dataclass
class _Request:
    job_id: int
    channel: str
    generation: int
    fn: Callable[[], Any]
    on_result: Callable[[Any], None]
    on_error: Callable[[str], None] | None


class _Job(QRunnable):
    def __init__(self, runner: ModelRunner, request: _Request) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the runner keeps the Python object alive until it reports back
        self._runner = runner
        self._request = request

    def run(self) -> None:
        try:
            result = self._request.fn()
        except BaseException as exc:  # every failure must reach the GUI as a message
            self._runner._failed.emit(self._request.job_id, describe_error(exc))
        else:
            self._runner._finished.emit(self._request.job_id, result)


class ModelRunner(QObject):
    """Runs callables on one worker thread; at most one running and one waiting request per channel.

    ``busyChanged(channel, busy)`` tells views when to show a spinner. ``generation(channel)`` is the stamp of the
    newest request; callbacks of older ones are never called.
    """

    busyChanged = Signal(str, bool)
    _finished = Signal(int, object)
    _failed = Signal(int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # one ONNX session at a time; inference itself uses the cores
        self._generations: dict[str, int] = {}
        self._running: dict[str, _Job] = {}
        self._waiting: dict[str, _Request] = {}
        self._jobs: dict[int, _Job] = {}
        self._next_id = 0
        self.gui_ms: dict[str, float] = {}  # per channel, the longest a result callback held the GUI thread
        self._finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)
        self._failed.connect(self._on_failed, Qt.ConnectionType.QueuedConnection)

    def generation(self, channel: str) -> int:
        return self._generations.get(channel, 0)

    def is_busy(self, channel: str | None = None) -> bool:
        if channel is None:
            return bool(self._running or self._waiting)
        return channel in self._running or channel in self._waiting

    def submit(
        self,
        channel: str,
        fn: Callable[[], Any],
        on_result: Callable[[Any], None],
        on_error: Callable[[str], None] | None = None,
    ) -> int:
        """Run ``fn()`` on the worker; ``on_result(value)`` / ``on_error(message)`` run on the GUI thread if the
        request is still the newest of its channel by then. Returns the request's generation."""
        generation = self.generation(channel) + 1
        self._generations[channel] = generation
        self._next_id += 1
        request = _Request(self._next_id, channel, generation, fn, on_result, on_error)
        was_busy = self.is_busy(channel)
        if channel in self._running:
            self._waiting[channel] = request  # replaces (drops) any older waiting request
        else:
            self._start(request)
        if not was_busy:
            self.busyChanged.emit(channel, True)
        return generation

    def cancel(self, channel: str) -> None:
        """Make every request of ``channel`` stale (e.g. the model changed)."""
        self._generations[channel] = self.generation(channel) + 1
        dropped = self._waiting.pop(channel, None)
        if dropped is not None and channel not in self._running:
            self.busyChanged.emit(channel, False)

    def cancel_all(self) -> None:
        for channel in list(self._generations):
            self.cancel(channel)

    def wait(self, msecs: int = -1) -> bool:
        """Block until the worker thread is idle (shutdown and tests); True when it is."""
        return self._pool.waitForDone(msecs)

    def _start(self, request: _Request) -> None:
        job = _Job(self, request)
        self._running[request.channel] = job
        self._jobs[request.job_id] = job
        self._pool.start(job)

    def _settle(self, job_id: int) -> _Request | None:
        job = self._jobs.pop(job_id, None)
        if job is None:
            return None
        request = job._request
        if self._running.get(request.channel) is job:
            del self._running[request.channel]
        waiting = self._waiting.pop(request.channel, None)
        if waiting is not None:
            self._start(waiting)
        elif request.channel not in self._running:
            self.busyChanged.emit(request.channel, False)
        return request

    @Slot(int, object)
    def _on_finished(self, job_id: int, result: object) -> None:
        request = self._settle(job_id)
        if request is not None and request.generation == self.generation(request.channel):
            started = time.perf_counter()
            request.on_result(result)
            spent_ms = (time.perf_counter() - started) * 1000.0
            self.gui_ms[request.channel] = max(self.gui_ms.get(request.channel, 0.0), spent_ms)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        request = self._settle(job_id)
        if request is not None and request.generation == self.generation(request.channel):
            if request.on_error is not None:
                request.on_error(message)
