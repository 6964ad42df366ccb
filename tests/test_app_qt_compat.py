"""The guard against PySide6 6.12's lost references to None (Python < 3.12): without it the app aborts with
"Fatal Python error: none_dealloc" after a few thousand Qt calls, e.g. painting a few long sketches."""

from __future__ import annotations

import os
import subprocess
import sys

from desktop._testsupport import REPO_ROOT

MANY_CALLS = 200_000  # far more references than None starts with (a few thousand)


def test_many_void_qt_calls_do_not_kill_the_app():
    script = f"""
import sys
import desktop  # installs the guard where this PySide6 needs it
from PySide6.QtCore import QObject, QPointF
from PySide6.QtGui import QPainterPath
path, probe = QPainterPath(), QObject()
for i in range({MANY_CALLS}):
    path.lineTo(QPointF(i % 7, i % 5))
    probe.setObjectName("x")
print("alive", sys.getrefcount(None) > 0)
"""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "alive True"


def test_guard_acts_only_where_the_leak_is():
    from desktop.qt_compat import keep_none_alive, void_calls_leak_none

    if sys.version_info >= (3, 12):
        assert keep_none_alive() is False  # None is immortal there
    else:
        # Importing desktop already protected None where needed; a second call never adds more.
        before = sys.getrefcount(None)
        assert keep_none_alive() is False
        assert abs(sys.getrefcount(None) - before) < 1000
        if void_calls_leak_none():
            assert sys.getrefcount(None) > 1 << 59
