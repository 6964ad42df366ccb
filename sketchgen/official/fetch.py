"""Download an official model with the project's downloader: progress, resume, atomic, verified by parsing.

The bytes go to ``<cache>/<file>.part`` (:func:`sketchgen.download._transfer`: HTTP Range resume, a server that
ignores Range handled by starting over); only a file that parses as a sketch-rnn-js model
(:func:`~sketchgen.official.jsformat.read_js_model`) gets its final name, so an HTML error page or a truncated
transfer never looks like a model. A transfer that grows past the format's size bound is stopped there.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from sketchgen import download
from sketchgen.errors import DataFileError
from sketchgen.official.jsformat import MAX_FILE_BYTES, JSModel, read_js_model

ProgressFn = Callable[[int, int | None], None]


def default_cache_dir() -> Path:
    """Where the command line keeps downloaded official files (the app uses its own data folder)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sketchgen" / "official"


def _safe_name(file_name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]", "_", file_name).lstrip(".") or "model.json"
    return name if name.endswith(".json") else name + ".json"


def fetch_model(url: str, file_name: str, cache_dir: str | os.PathLike[str], *, progress: bool = True,
                on_progress: ProgressFn | None = None, timeout: float = 60.0, force: bool = False,
                max_bytes: int = MAX_FILE_BYTES) -> tuple[Path, JSModel]:
    """Download ``url`` into ``cache_dir/file_name`` (resuming a ``.part`` left by an interrupted run) and parse it.
    An existing file that parses is used as it is (unless ``force``). DataFileError naming the URL otherwise."""
    folder = Path(cache_dir)
    final = folder / _safe_name(file_name)
    part = final.with_name(final.name + ".part")
    if final.is_file() and not force:
        try:
            return final, read_js_model(final, max_bytes)
        except DataFileError:
            final.unlink(missing_ok=True)  # our own cache: a damaged copy is fetched again
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFileError(folder, f"cannot create the download folder ({exc.strerror or exc})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataFileError(folder, "cannot write to the download folder (permission denied)")

    def bounded(done: int, total: int | None) -> None:
        if done > max_bytes or (total or 0) > max_bytes:
            raise DataFileError(url, f"the server sends more than a sketch-rnn-js model may be "
                                     f"({max_bytes / 2**20:.0f} MiB); stopped")
        if on_progress is not None:
            on_progress(done, total)

    for attempt in range(2):
        try:
            resumed = download._transfer(final.name, url, part, timeout, progress, bounded)
        except download._Restart:
            part.unlink(missing_ok=True)
            continue
        except DataFileError as exc:
            if "more than a sketch-rnn-js" in exc.problem:
                part.unlink(missing_ok=True)
            elif exc.problem.startswith("HTTP 404"):
                raise DataFileError(url, "HTTP 404 Not Found: no model at this address (check the name, or the "
                                         "base URL)") from None
            raise
        try:
            model = read_js_model(part, max_bytes)
        except DataFileError as exc:
            part.unlink(missing_ok=True)
            if resumed and attempt == 0:
                continue  # the earlier part may belong to another version of the file: fetch it whole
            raise DataFileError(url, f"the server sent something that is not a sketch-rnn-js model "
                                     f"({exc.problem}); nothing was saved") from None
        os.replace(part, final)
        model.source = str(final)
        return final, model
    raise DataFileError(url, "the server's answers to a resumed download do not fit together")
