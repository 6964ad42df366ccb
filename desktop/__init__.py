"""The SketchGen desktop app (PySide6): draw with a sketch-rnn model, replay, morph and export sketches.

Layout (napari style): pure-Python state (``document``, ``replay``, ``morph``) apart from the Qt views; every model
call goes through ``inference`` and runs on a worker thread (``workers``). Never imports TensorFlow.
"""

import sys as _sys

if _sys.version_info < (3, 12):  # PySide6 6.12.0 loses a reference to None per void call there: see qt_compat
    from desktop.qt_compat import keep_none_alive as _keep_none_alive

    _keep_none_alive()
