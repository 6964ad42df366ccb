"""User-facing error types.

Every error a user can cause is a SketchGenError whose message names the file (when there is one) and the problem,
so entry points can print ``error: <message>`` and the app can show it in a dialog instead of a traceback.
"""

from __future__ import annotations

import os

__all__ = ["SketchGenError", "SketchError", "DataFileError", "ModelError", "ConfigError"]


class SketchGenError(Exception):
    """Base of every error whose message is meant for the user."""


class SketchError(SketchGenError, ValueError):
    """A sketch's data is invalid (NaN, bad pen values, shape, empty)."""


class _PathProblemError(SketchGenError):
    """An error about one file: keeps ``path`` and ``problem`` and reads "path: problem"."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = str(problem)
        super().__init__(f"{self.path}: {self.problem}")

    def __reduce__(self):  # keep pickling (multiprocessing) working with the two-argument constructor
        return (type(self), (self.path, self.problem))


class DataFileError(_PathProblemError):
    """A data file (npz, ndjson, json sketch) cannot be read or is malformed."""


class ModelError(_PathProblemError):
    """An exported model folder or one of its files is missing or malformed."""


class ConfigError(SketchGenError, ValueError):
    """Bad hyperparameters or config file."""
