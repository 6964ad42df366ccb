"""Atomic file writes, and file hashes.

A crash, a full disk or an exception half-way through a write must never leave a file that looks complete, so every
writer in SketchGen writes a temporary file in the target's folder (same file system) and renames it over the target
with ``os.replace`` only after everything was written and flushed to disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sketchgen.errors import DataFileError

__all__ = ["atomic_write", "sha256_file", "check_writable_folder"]


def _current_umask() -> int:
    """The process umask (there is no way to read it without setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", encoding: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on a clean exit rename it to ``path``, on an exception delete it.

    ``mode`` is "wb" (binary) or "w" (text, UTF-8 unless ``encoding`` says otherwise). The finished file gets the
    permissions a plain ``open`` would give it (mkstemp's files are private to the owner).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write supports mode 'w' or 'wb', not {mode!r}")
    target = Path(path)
    folder = target.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        if mode == "w":
            handle: IO[Any] = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline="")
        else:
            handle = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        os.unlink(tmp_name)
        raise
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_current_umask())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks (data files and model graphs are checked by it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_writable_folder(folder: str | os.PathLike[str]) -> None:
    """Raise DataFileError naming ``folder`` unless a file can be created in it (or, for a folder yet to be made, in
    its nearest existing parent). Tried, not guessed: ``os.access`` says yes to root on a read-only file system.
    Commands call it before long work, so a wrong output folder fails at once, not after the work is done."""
    target = Path(folder)
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise DataFileError(existing, "is a file, not a folder")
    try:
        fd, name = tempfile.mkstemp(prefix=".sketchgen-write-check-", dir=existing)
    except OSError as exc:
        what = "write to this folder" if existing == target else f"create {target} in this folder"
        raise DataFileError(existing, f"cannot {what} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(name)
