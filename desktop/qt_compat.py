"""Work around a reference-counting bug of PySide6 6.12 on Python < 3.12 that kills the app.

PySide6/shiboken6 6.12.0 returns ``None`` from every void method (``QPainterPath.lineTo``, ``QWidget.update``, ...)
without taking a reference, as if ``None`` were immortal, which it is only since Python 3.12 (PEP 683). On 3.10 and
3.11 each such call therefore drops one reference to ``None``; after a few thousand calls (painting one 250-point
sketch makes 250) its count reaches zero and CPython aborts with "Fatal Python error: none_dealloc". 6.11 does not
have the bug.

:func:`keep_none_alive` probes for the bug and, only where it is present, gives ``None`` a reference count so large
(2**60) that no session can use it up: what PEP 683 does for ``None`` on 3.12. It costs microseconds, changes nothing
where the bug is absent, and becomes a no-op once the project's PySide6 pin excludes 6.12.0 (see docs/app.md).
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["void_calls_leak_none", "keep_none_alive"]

_HEADROOM = 1 << 60
_PROBE_CALLS = 16


def void_calls_leak_none() -> bool:
    """True when a PySide6 method that returns nothing loses a reference to ``None`` on every call."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(_PROBE_CALLS):
        probe.setObjectName("probe")
    return before - sys.getrefcount(None) >= _PROBE_CALLS


def keep_none_alive() -> bool:
    """Protect ``None`` from the leak when this PySide6 has it (Python < 3.12 only); True when it acted."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if sys.getrefcount(None) > _HEADROOM // 2:
        return False  # already done
    if not void_calls_leak_none():
        return False
    ctypes.c_ssize_t.from_address(id(None)).value += _HEADROOM  # ob_refcnt is the object's first field
    return True
