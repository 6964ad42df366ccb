"""The SketchGen desktop app (PySide6): draw with a sketch-rnn model, replay, morph and export sketches.

Layout (napari style): pure-Python state (``document``, ``replay``, ``morph``) apart from the Qt views; every model
call goes through ``inference`` and runs on a worker thread (``workers``). Never imports TensorFlow.
"""
