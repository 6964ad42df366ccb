"""Atomic file and folder writes, and file hashes.

A crash, a full disk or an exception half-way through a write must never leave a file that looks complete, so every
writer in SketchGen writes a temporary file in the target's folder (same file system) and renames it over the target
with ``os.replace`` only after everything was written and flushed to disk. Folders (model folders, checkpoints) are
written the same way by :func:`atomic_dir`.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sketchgen.errors import DataFileError

__all__ = ["atomic_write", "atomic_dir", "recover_dir", "aside_name", "remove_stale_temporaries", "fsync_dir",
           "sha256_file", "check_writable_folder", "UMASK"]


def _read_umask() -> int:
    """The process umask. It can only be read by setting it, which races with other threads, so it is read once,
    at import, before any worker thread exists."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _read_umask()


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
        os.chmod(tmp_name, 0o666 & ~UMASK)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (its renames) to disk where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not possible on every platform (Windows); the renames are still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def aside_name(target: Path) -> Path:
    """Where :func:`atomic_dir` keeps the previous folder while the new one is swapped in."""
    return target.parent / f".{target.name}.old"


def recover_dir(target: str | os.PathLike[str]) -> None:
    """Finish a folder swap that a killed process left half done: the old folder comes back if the new one never
    arrived, else it goes."""
    target = Path(target)
    old = aside_name(target)
    if old.is_dir():
        if target.is_dir():
            shutil.rmtree(old)
        else:
            os.rename(old, target)


def _temporary_prefix(target: Path) -> str:
    """``.NAME.tmp-PID-``: the writer's process id tells a later writer whether the folder is still being written."""
    return f".{target.name}.tmp-{os.getpid()}-"


def remove_stale_temporaries(target: str | os.PathLike[str]) -> None:
    """Delete the ``.NAME.tmp-PID-*`` folders :func:`atomic_dir` left beside ``target`` when its process was killed
    (a folder whose writer still runs is left alone)."""
    target = Path(target)
    stem = f".{target.name}.tmp-"
    for folder in target.parent.glob(f"{glob.escape(stem)}*"):
        pid_text = folder.name[len(stem):].split("-", 1)[0]
        if pid_text.isdigit() and _process_alive(int(pid_text)):
            continue
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # someone else's process, or cannot tell: leave its folder alone
    return True


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target`` to fill; on a clean exit flush its files and swap it in for
    ``target`` (an existing one is moved aside to ``.NAME.old`` first and removed last, so at every moment one
    complete folder exists); on an exception delete it. The folder gets the permissions a plain ``mkdir`` gives."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_temporary_prefix(target), dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~UMASK)  # mkdtemp's folders are private to the owner
        yield tmp
        for path in tmp.iterdir():
            if path.is_file():
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
        fsync_dir(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    recover_dir(target)
    old = aside_name(target)
    if target.exists():
        os.rename(target, old)
    try:
        os.rename(tmp, target)
    except OSError:
        if old.exists():
            os.rename(old, target)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(target.parent)
    if old.exists():
        shutil.rmtree(old)


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
