"""The pinned PySide6 must not lose references to None (6.12.0 did on Python < 3.12: the app aborted with "Fatal
Python error: none_dealloc" after a few thousand Qt calls, e.g. painting a few long sketches). pyproject.toml excludes
that release; this test proves the installed one is safe without any guard."""

from __future__ import annotations

import os
import subprocess
import sys

from desktop._testsupport import REPO_ROOT

MANY_CALLS = 200_000  # far more references than None starts with (a few thousand)


def test_many_void_qt_calls_do_not_kill_the_app():
    script = f"""
import sys
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
