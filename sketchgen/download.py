"""Download QuickDraw's official sketchrnn ``.npz`` files, resumably and safely.

Bytes go to ``DIR/<category>.npz.part``. An interrupted transfer keeps the part file and the next run asks the server
for the rest (HTTP Range); a server that ignores Range (200 instead of 206) is handled by starting over cleanly. Only
when the whole file is there and loads with :func:`sketchgen.datafiles.load_npz` is it renamed to ``<category>.npz``,
so a file with the final name is always complete and valid. Plain ``urllib``: no extra dependency.
"""

from __future__ import annotations

import http.client
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from sketchgen.datafiles import SPLITS, load_npz
from sketchgen.errors import DataFileError, SketchGenError
from sketchgen.fileio import check_writable_folder

__all__ = [
    "DEFAULT_BASE_URL",
    "BASE_URL_ENV",
    "DownloadResult",
    "resolve_base_url",
    "category_url",
    "download_category",
]

DEFAULT_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset/sketchrnn"
BASE_URL_ENV = "SKETCHGEN_QUICKDRAW_URL"
_CHUNK = 1 << 20
_USER_AGENT = "sketchgen-data/0.1 (Python urllib)"
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/(\d+)")


@dataclass(frozen=True)
class DownloadResult:
    """What :func:`download_category` did."""

    category: str
    path: Path
    size: int  # bytes of the finished file
    resumed_from: int  # bytes already there from an earlier, interrupted run (0: a fresh download)
    split_sizes: dict[str, int] | None  # sketches per split
    skipped: bool = False  # True: <category>.npz already existed (and loads) and force was not given


def resolve_base_url(explicit: str | None = None) -> str:
    """``explicit``, else ``$SKETCHGEN_QUICKDRAW_URL``, else Google's public sketchrnn folder."""
    return (explicit or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


def _check_category(category: str) -> None:
    if not category.strip() or category in (".", "..") or any(c in category for c in "/\\\0"):
        raise SketchGenError(f"invalid category name {category!r}: use a QuickDraw category such as 'cat' or 'hot dog'")


def category_url(category: str, base_url: str | None = None) -> str:
    """``<base>/<category>.npz`` with the name URL-quoted ("hot dog" -> "hot%20dog")."""
    _check_category(category)
    return f"{resolve_base_url(base_url)}/{urllib.parse.quote(category)}.npz"


class _Restart(Exception):
    """The part file cannot be continued: delete it and download from the beginning."""


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=timeout)  # http/https URL given by the user


def _transfer(category: str, url: str, part: Path, timeout: float, progress: bool,
              on_progress: Callable[[int, int | None], None] | None = None) -> int:
    """Fetch (the rest of) ``url`` into ``part``; return the number of bytes that were already there.
    ``on_progress(bytes so far, total or None)`` is called after every chunk (the app's progress bar)."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            match = _UNSATISFIED_RANGE.match(exc.headers.get("Content-Range", ""))
            if match and int(match.group(1)) == offset:
                return offset  # the part file already holds the whole file
            raise _Restart() from None
        if exc.code == 404:
            raise DataFileError(
                url, f"HTTP 404 Not Found: there is no QuickDraw category {category!r} at this address "
                "(names are lower case with spaces, e.g. 'hot dog')"
            ) from None
        problem = f"the server answered HTTP {exc.code} {exc.reason} for category {category!r}"
        raise DataFileError(url, problem) from None
    except urllib.error.URLError as exc:
        raise DataFileError(url, f"cannot reach the server ({exc.reason})") from None
    except (OSError, http.client.HTTPException) as exc:
        raise DataFileError(url, f"cannot reach the server ({exc})") from None

    with response:
        status = getattr(response, "status", None) or 200  # file:// URLs (a local mirror) have no status
        if status == 206 and offset:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset:
                raise _Restart()
            start, mode = offset, "ab"
        elif status == 200:
            start, mode = 0, "wb"  # a fresh download, or a server that ignores Range: start over cleanly
        else:
            raise DataFileError(url, f"unexpected HTTP status {status} for category {category!r}")
        length_header = response.headers.get("Content-Length")
        length = int(length_header) if length_header and length_header.isdigit() else None
        received = 0
        failure: str | None = None
        try:
            handle = open(part, mode)  # closed by the with below
        except OSError as exc:
            raise DataFileError(part, f"cannot write ({exc.strerror or exc})") from None
        with handle, tqdm(
            total=None if length is None else start + length,
            initial=start,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=category,
            disable=not progress,
            leave=False,
        ) as bar:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    failure = f"{type(exc).__name__}: {exc}"
                    break
                if not chunk:
                    break
                handle.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
                if on_progress is not None:
                    on_progress(start + received, None if length is None else start + length)
            handle.flush()
            os.fsync(handle.fileno())
        if failure is not None or (length is not None and received < length):
            have = start + received
            total = "?" if length is None else str(start + length)
            raise DataFileError(
                url, f"download of {category!r} interrupted after {have} of {total} bytes "
                f"({failure or 'the server closed the connection'}); run the same command again to resume "
                f"(kept in {part})"
            )
    return start


def download_category(
    category: str,
    out_dir: str | os.PathLike[str] = ".",
    base_url: str | None = None,
    progress: bool = True,
    force: bool = False,
    timeout: float = 60.0,
    max_bytes: int | None = None,
) -> DownloadResult:
    """Download ``<category>.npz`` into ``out_dir``; resume a ``.part`` left by an interrupted run.

    The finished file must load with :func:`load_npz` (within ``max_bytes``, see :mod:`sketchgen.safe_npz`) before it
    gets its final name; a file the server sent that is not a sketch-rnn ``.npz`` (an HTML error page, say) is deleted
    and reported. An existing ``<category>.npz`` is loaded too (``skipped``), and reported if it does not load.
    Raises DataFileError naming the URL or the file.
    """
    url = category_url(category, base_url)
    folder = Path(out_dir)
    final = folder / f"{category}.npz"
    part = folder / f"{category}.npz.part"
    if final.exists() and not force:
        try:
            splits = load_npz(final, max_bytes=max_bytes)
        except DataFileError as exc:
            raise DataFileError(
                final, f"already exists but is not a valid sketch-rnn .npz ({exc.problem}); it was left as it is: "
                "move it away, or download it again with --force"
            ) from None
        sizes = {key: len(splits[key]) for key in SPLITS}
        return DownloadResult(category, final, final.stat().st_size, 0, sizes, skipped=True)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFileError(folder, f"cannot create the download folder ({exc.strerror or exc})") from None
    check_writable_folder(folder)

    for attempt in range(2):  # a second, clean attempt when the part file turns out not to continue
        try:
            resumed_from = _transfer(category, url, part, timeout, progress)
        except _Restart:
            part.unlink(missing_ok=True)
            continue
        try:
            splits = load_npz(part, max_bytes=max_bytes)
        except DataFileError as exc:
            part.unlink(missing_ok=True)
            if resumed_from and attempt == 0:
                continue  # the earlier part may belong to an older version of the file: fetch it whole
            raise DataFileError(
                url, f"the server sent something that is not a sketch-rnn .npz for {category!r} ({exc.problem}); "
                "nothing was saved"
            ) from None
        os.replace(part, final)
        sizes = {key: len(splits[key]) for key in SPLITS}
        return DownloadResult(category, final, final.stat().st_size, resumed_from, sizes)
    raise DataFileError(url, f"the server's answers to a resumed download of {category!r} do not fit together")
