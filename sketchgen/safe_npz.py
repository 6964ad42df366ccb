"""Read .npz files without letting them run code.

``np.load(path, allow_pickle=True)`` unpickles object arrays with the full pickle machinery, so a crafted file can call
``os.system`` the moment it is opened. sketch-rnn's files need object arrays (one ``[N, 3]`` array per sketch), so this
module reads the zip members itself, parses each ``.npy`` header with ``numpy.lib.format`` and unpickles object arrays
with an unpickler whose ``find_class`` hands out only the few numpy globals a plain array pickle refers to. Anything
else is refused with a ``DataFileError`` naming the file, the member and the forbidden global.

A file can also cost memory out of all proportion to its size: a 2 MB deflate member inflates to 2 GB, a 1.5 KB
pickle that names one array 100,000 times becomes 100,000 sketches, one ``LONG_BINPUT 2**28`` makes C's unpickler
allocate a 2 GB memo, object arrays nested 20,000 deep crash numpy when freed. So each cost is checked before it is
paid, against one budget (``max_bytes``: 512 MiB unless ``--max-data-mb`` or ``$SKETCHGEN_MAX_DATA_MB`` says
otherwise; the official QuickDraw files fit with room to spare): the members' declared sizes, then the bytes actually
inflated (in chunks); the pickle runs in the pure-Python unpickler (a dict memo, no allocation sized by the file) with
its memo, stack and nesting counted; every array is charged its bytes plus a fixed overhead each time it is referred
to. Object arrays may nest two deep: a split holding sketches.

One module on purpose (it is longer than most): each defence is only as good as the others, so the zip reader,
the unpickler and the budgets are read and reviewed together.
"""

from __future__ import annotations

import _codecs
import io
import math
import os
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from sketchgen.errors import DataFileError

__all__ = [
    "read_npz",
    "read_npy_member",
    "RestrictedUnpickler",
    "ForbiddenGlobalError",
    "ALLOWED_GLOBALS",
    "DEFAULT_MAX_DATA_MB",
    "MAX_DATA_MB_ENV",
    "max_data_bytes",
]

DEFAULT_MAX_DATA_MB = 512
MAX_DATA_MB_ENV = "SKETCHGEN_MAX_DATA_MB"
MAX_OBJECT_DEPTH = 2  # a split (object array) of sketches (numeric arrays) is depth 1
MAX_PICKLE_NESTING = 32  # MARKs open at once; numpy's pickles use 2
MAX_MEMBERS = 1024  # a sketch-rnn file has 3; zipfile spends about 1 KB on each entry it lists
ARRAY_OVERHEAD = 128  # bytes charged per array reference: what one small numpy array costs in memory
_CHUNK = 1 << 20
_CHECK_EVERY = 1 << 12  # opcodes between checks of the unpickler's stack and memo

# Element kinds a pickled array may have: numbers, booleans, text (so a wrong file can be named, not refused blindly)
# and objects (the one-sketch-per-element arrays). No structured, datetime or void dtypes.
_ALLOWED_KINDS = frozenset("biufcSUO")


class _UnsafePickle(pickle.UnpicklingError):
    """The pickle is well-formed but asks numpy for something a plain array never needs."""


class _TooCostly(pickle.UnpicklingError):
    """The file would cost more memory (or nest deeper) than the limits allow; the text says what and how much."""

    def __init__(self, problem: str, deep: bool = False) -> None:
        super().__init__(problem)
        self.deep = deep


def max_data_bytes(max_mb: float | None = None) -> int:
    """The byte budget of one data file: ``max_mb``, else ``$SKETCHGEN_MAX_DATA_MB``, else 512 MiB."""
    if max_mb is None:
        text = os.environ.get(MAX_DATA_MB_ENV, "").strip()
        if text:
            try:
                max_mb = float(text)
            except ValueError:
                raise DataFileError(f"${MAX_DATA_MB_ENV}", f"must be a number of MiB, not {text!r}") from None
        else:
            max_mb = DEFAULT_MAX_DATA_MB
    if not max_mb > 0 or max_mb > 1 << 30:
        raise DataFileError(f"${MAX_DATA_MB_ENV}", f"must be a number of MiB above 0, not {max_mb!r}")
    return int(max_mb * (1 << 20))


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n} bytes"


class _Budget:
    """What one file may still cost: logical array bytes (each reference charged again) and unpickler entries."""

    __slots__ = ("max_bytes", "spent", "max_entries")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.spent = 0
        self.max_entries = max(1024, max_bytes // ARRAY_OVERHEAD)

    def check(self, cost: int, shape: tuple[int, ...], dtype: np.dtype) -> None:
        if self.spent + cost > self.max_bytes:  # the message is only made when it is needed (this runs per sketch)
            what = (f"an object array of {math.prod(shape)} elements" if dtype.hasobject
                    else f"a [{'x'.join(map(str, shape))}] {dtype} array")
            raise _TooCostly(
                f"{what} would take {_mb(self.spent + cost)} in memory, over the limit of {_mb(self.max_bytes)}"
            )


# Why not hand out numpy's own ``ndarray``, ``dtype`` and ``_reconstruct``: with them a pickle can call
# ``ndarray(shape, dtype=object, buffer=bytes)`` or clear an object dtype's flags via ``dtype.__setstate__`` and so make
# numpy treat attacker bytes as object pointers (memory corruption, a path to running code). The stand-ins below accept
# exactly the calls numpy's ``ndarray.__reduce__`` / ``dtype.__reduce__`` write, check every argument, and build the
# arrays themselves with np.frombuffer / np.empty. They are instances with empty __slots__ (or have __setstate__), so a
# pickle's BUILD opcode cannot set attributes on them.


class _DtypeSpec:
    """The result of a pickled ``numpy.dtype(code, align, copy)`` call plus its BUILD state -> a checked np.dtype."""

    __slots__ = ("dtype",)

    def __init__(self, code: object) -> None:
        if not isinstance(code, str) or len(code) > 8:
            raise _UnsafePickle(f"numpy.dtype called with {type(code).__name__} {code!r:.40}, not a type code")
        try:
            dtype = np.dtype(code)
        except TypeError:
            raise _UnsafePickle(f"unknown numpy type code {code!r}") from None
        if dtype.kind not in _ALLOWED_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise _UnsafePickle(f"numpy dtype {code!r} is not a plain number, text or object type")
        self.dtype = dtype

    def __setstate__(self, state: object) -> None:
        if not isinstance(state, tuple) or len(state) < 6 or not isinstance(state[0], int):
            raise _UnsafePickle("malformed numpy dtype state")
        version, endian = state[0], state[1]
        structure = state[2:5] if version >= 3 else state[2:4]  # subarray, names, fields (older: subarray, fields)
        elsize = state[5] if version >= 3 else state[4]
        if any(part is not None for part in structure):
            raise _UnsafePickle("structured numpy dtypes are not allowed")
        if endian not in ("<", ">", "|", "="):
            raise _UnsafePickle(f"malformed numpy dtype byte order {endian!r}")
        dtype = self.dtype
        if dtype.kind in "SU" and isinstance(elsize, int) and elsize > 0:
            dtype = np.dtype(f"{dtype.kind}{elsize // (4 if dtype.kind == 'U' else 1)}")
        self.dtype = dtype.newbyteorder(endian) if endian in "<>" else dtype
        # the pickled flags are ignored on purpose: numpy derives them from the type


class _ArraySpec:
    """The result of a pickled ``_reconstruct(ndarray, ...)`` call; its BUILD state fills in ``array``.

    ``cost`` is what the array stands for in memory (its elements' costs included, once per reference) and ``depth``
    how many object arrays deep it is; both are checked before the array is built.
    """

    __slots__ = ("array", "budget", "cost", "depth")

    def __init__(self, budget: _Budget) -> None:
        self.array: np.ndarray | None = None
        self.budget = budget
        self.cost = 0
        self.depth = 0

    def __setstate__(self, state: object) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _UnsafePickle("malformed numpy array state")
        shape, spec, fortran, raw = state[-4:]
        if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise _UnsafePickle(f"malformed numpy array shape {shape!r:.60}")
        if not isinstance(spec, _DtypeSpec):
            raise _UnsafePickle("numpy array state without a dtype")
        dtype, count, order = spec.dtype, 1, "F" if fortran else "C"
        for n in shape:
            count *= n
        if self.array is not None:
            raise _UnsafePickle("numpy array state set twice")
        if dtype.hasobject:
            if not isinstance(raw, list) or len(raw) != count:
                raise _UnsafePickle("object array state does not hold one item per element")
            cost, depth = ARRAY_OVERHEAD + 8 * count, 0
            for item in raw:
                if isinstance(item, _ArraySpec):
                    cost += item.cost
                    depth = max(depth, item.depth)
            if depth + 1 > MAX_OBJECT_DEPTH:
                raise _TooCostly(f"object arrays nested more than {MAX_OBJECT_DEPTH} deep", deep=True)
            self.budget.check(cost, shape, dtype)
            self.cost, self.depth = cost, depth + 1
            flat = np.empty(count, dtype=object)
            for index, item in enumerate(raw):
                flat[index] = _finished(item)
            self.array = flat.reshape(shape, order=order)
            return
        if isinstance(raw, str):  # Python 2 pickles read with encoding="latin1"
            raw = raw.encode("latin1")
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != count * dtype.itemsize:
            raise _UnsafePickle(f"numpy array data does not match its shape {shape!r:.60} and dtype {dtype}")
        self.cost = ARRAY_OVERHEAD + len(raw)
        self.budget.check(self.cost, shape, dtype)
        self.array = np.frombuffer(raw, dtype=dtype, count=count).reshape(shape, order=order).copy()


def _finished(item: object) -> object:
    """An object-array element: a finished array, or a plain Python / numpy scalar."""
    if isinstance(item, _ArraySpec):
        if item.array is None:
            raise _UnsafePickle("object array element is an unfinished array")
        return item.array
    if item is None or isinstance(item, (bool, int, float, complex, str, bytes, np.generic)):
        return item
    raise _UnsafePickle(f"object array element of type {type(item).__name__}")


class _Factory:
    """A callable stand-in for an allowed global; an instance with no attributes a pickle could change."""

    __slots__ = ()


class _Reconstruct(_Factory):
    """Bound to one unpickler's budget, which every array it makes is charged to."""

    __slots__ = ("_budget",)

    def __init__(self, budget: _Budget) -> None:
        self._budget = budget

    def __call__(self, subtype: object, shape: object = (0,), code: object = b"b") -> _ArraySpec:
        if subtype is not _NDARRAY:
            raise _UnsafePickle("_reconstruct may only build numpy.ndarray")
        return _ArraySpec(self._budget)


class _Dtype(_Factory):
    def __call__(self, code: object, align: object = False, copy: object = True) -> _DtypeSpec:
        return _DtypeSpec(code)


class _Scalar(_Factory):
    def __call__(self, spec: object, data: object = None) -> np.generic:
        if not isinstance(spec, _DtypeSpec) or spec.dtype.hasobject:
            raise _UnsafePickle("numpy scalar without a numeric dtype")
        if isinstance(data, str):
            data = data.encode("latin1")
        if not isinstance(data, bytes) or len(data) != spec.dtype.itemsize:
            raise _UnsafePickle("numpy scalar data does not match its dtype")
        return np.frombuffer(data, dtype=spec.dtype)[0]


class _NdarrayType(_Factory):
    """Stands for ``numpy.ndarray``: only valid as the first argument of ``_reconstruct``."""

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise _UnsafePickle("numpy.ndarray(...) called directly (it can turn raw bytes into object pointers)")


class _TextToBytes(_Factory):
    """``_codecs.encode(text, "latin1")``, as Python 3 writes bytes into protocol-2 pickles (the kanji files do)."""

    def __call__(self, text: object, encoding: str = "utf-8") -> bytes:
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "iso-8859-1"):
            raise _UnsafePickle("_codecs.encode may only turn text into bytes with the latin1 codec")
        return _codecs.encode(text, encoding)


_NDARRAY = _NdarrayType()

# (module, name) -> its stand-in. Files written by numpy 1 name numpy.core.multiarray, files written by numpy 2 name
# numpy._core.multiarray. ``_RECONSTRUCT`` marks the one whose stand-in each unpickler binds to its own budget.
_RECONSTRUCT = object()
ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.multiarray", "scalar"): _Scalar(),
    ("numpy._core.multiarray", "scalar"): _Scalar(),
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _Dtype(),
    ("_codecs", "encode"): _TextToBytes(),
}


class ForbiddenGlobalError(pickle.UnpicklingError):
    """A pickle asked for a global outside ``ALLOWED_GLOBALS``."""

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name
        super().__init__(f"{module}.{name}")


def _checked_mark(unpickler: RestrictedUnpickler) -> None:
    if len(unpickler.metastack) >= MAX_PICKLE_NESTING:
        raise _TooCostly(f"the pickle nests more than {MAX_PICKLE_NESTING} levels deep", deep=True)
    _PY_DISPATCH[pickle.MARK[0]](unpickler)


def _skip_frame_header(unpickler: RestrictedUnpickler) -> None:
    """Protocol 4 frames hold the opcodes that follow them; read straight through (only their 8-byte size goes)."""
    if len(unpickler.read(8)) != 8:
        raise pickle.UnpicklingError("pickle data was truncated")


def _refuse_bytearray(unpickler: RestrictedUnpickler) -> None:
    """Protocol 5's BYTEARRAY8 allocates the size it names before reading; numpy's array pickles never use it here."""
    raise _UnsafePickle("bytearray objects are not allowed")


_PY_DISPATCH = pickle._Unpickler.dispatch  # type: ignore[attr-defined]


class RestrictedUnpickler(pickle._Unpickler):  # type: ignore[name-defined,misc]
    """An unpickler that can build plain numpy arrays and nothing else, within a memory budget.

    The pure-Python unpickler, not C's: its memo is a dict (C's is an array sized by the largest memo index a pickle
    names), and its loop is ours to count in. ``load`` returns an ndarray.
    """

    dispatch = {**_PY_DISPATCH, pickle.MARK[0]: _checked_mark, pickle.FRAME[0]: _skip_frame_header,
                pickle.BYTEARRAY8[0]: _refuse_bytearray}

    def __init__(self, file: BinaryIO, *, budget: _Budget | None = None, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self._file_readinto = getattr(file, "readinto", None)
        self.budget = budget or _Budget(max_data_bytes())
        self._reconstruct = _Reconstruct(self.budget)

    def find_class(self, module: str, name: str) -> Any:
        try:
            found = ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise ForbiddenGlobalError(module, name) from None
        return self._reconstruct if found is _RECONSTRUCT else found

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed")

    def _check_entries(self) -> None:
        entries = len(self.memo) + len(self.stack) + sum(len(level) for level in self.metastack)
        if entries > self.budget.max_entries:
            raise _TooCostly(
                f"the pickle holds over {self.budget.max_entries} objects at once (the limit for "
                f"{_mb(self.budget.max_bytes)})"
            )

    def load(self) -> Any:
        # pickle._Unpickler.load, reading the file directly (frames are skipped, see _skip_frame_header), plus a look
        # at the stack and memo every few thousand opcodes
        self.read = self._file_read
        self.readline = self._file_readline
        self.readinto = self._file_readinto
        self.metastack = []
        self.stack: list[Any] = []
        self.append = self.stack.append
        self.proto = 0
        read, dispatch, countdown = self.read, self.dispatch, _CHECK_EVERY
        try:
            while True:
                key = read(1)
                if not key:
                    raise EOFError
                dispatch[key[0]](self)
                countdown -= 1
                if not countdown:
                    self._check_entries()
                    countdown = _CHECK_EVERY
        except pickle._Stop as stop:  # type: ignore[attr-defined]
            result = stop.value
        return _finished(result) if isinstance(result, _ArraySpec) else result


def _read_header(stream: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = npy_format.read_magic(stream)
    if version == (1, 0):
        return npy_format.read_array_header_1_0(stream)
    if version == (2, 0):
        return npy_format.read_array_header_2_0(stream)
    reader = getattr(npy_format, "_read_array_header", None)  # version 3.0 (utf-8 field names): no public reader
    if reader is None:
        raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    return reader(stream, version)


def _too_costly(path: str | os.PathLike[str], where: str, exc: _TooCostly) -> DataFileError:
    if exc.deep:
        return DataFileError(path, f"{where} is too deep: {exc}; a sketch file is a list of plain arrays")
    return DataFileError(
        path, f"{where} is too large: {exc} (raise the limit with --max-data-mb or ${MAX_DATA_MB_ENV} if the file is "
        "genuine)"
    )


def read_npy_member(
    data: bytes, path: str | os.PathLike[str], member: str, budget: _Budget | None = None
) -> np.ndarray:
    """Parse one ``.npy`` member's bytes; object arrays go through ``RestrictedUnpickler``, all within ``budget``."""
    where = f"member {member!r}"
    budget = budget or _Budget(max_data_bytes())
    stream = io.BytesIO(data)
    try:
        shape, fortran_order, dtype = _read_header(stream)
    except (ValueError, SyntaxError, EOFError) as exc:
        raise DataFileError(path, f"{where} is not a valid .npy array ({exc})") from None
    if dtype.hasobject:
        if dtype != np.dtype(object):
            raise DataFileError(path, f"{where} has a structured dtype with objects ({dtype}); expected plain arrays")
        try:
            array = RestrictedUnpickler(stream, encoding="latin1", budget=budget).load()
        except ForbiddenGlobalError as exc:
            raise DataFileError(
                path,
                f"{where} contains a pickle that asks for the forbidden global {exc}; refusing to load it "
                "(a sketch file only ever needs numpy arrays, this one may try to run code)",
            ) from None
        except _UnsafePickle as exc:
            raise DataFileError(path, f"{where} holds a pickle that numpy arrays never need ({exc}); "
                                      "refusing it") from None
        except _TooCostly as exc:
            raise _too_costly(path, where, exc) from None
        except RecursionError:
            raise _too_costly(path, where, _TooCostly("its values nest too deep to read", deep=True)) from None
        except Exception as exc:  # a broken pickle can raise almost anything; none of it may reach the user raw
            raise DataFileError(path, f"{where} holds a broken pickle ({type(exc).__name__}: {exc})") from None
        if not isinstance(array, np.ndarray):
            raise DataFileError(path, f"{where} unpickles to {type(array).__name__}, not a numpy array")
        if array.shape != tuple(shape):
            raise DataFileError(path, f"{where} header says shape {tuple(shape)} but the data has {array.shape}")
        budget.spent += int(array.nbytes) + ARRAY_OVERHEAD + sum(
            int(item.nbytes) + ARRAY_OVERHEAD for item in array.flat if isinstance(item, np.ndarray)
        )
        return array
    count = 1
    for n in shape:
        count *= int(n)
    needed = count * dtype.itemsize
    try:
        budget.check(needed + ARRAY_OVERHEAD, tuple(shape), dtype)
    except _TooCostly as exc:
        raise _too_costly(path, where, exc) from None
    raw = stream.read()
    if len(raw) < needed:
        raise DataFileError(path, f"{where} is truncated: {len(raw)} of {needed} data bytes")
    budget.spent += needed + ARRAY_OVERHEAD
    array = np.frombuffer(raw, dtype=dtype, count=count)
    if fortran_order:
        return array.reshape(shape[::-1]).transpose().copy()
    return array.reshape(shape).copy()


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str | os.PathLike[str], limit: int) -> bytes:
    """A member's bytes, inflated in chunks and never more than ``limit`` of them (a bomb stops at the limit)."""
    chunks: list[bytes] = []
    total = 0
    try:
        with archive.open(info) as member:
            while True:
                chunk = member.read(min(_CHUNK, limit - total + 1))
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise DataFileError(
                        path, f"member {info.filename!r} is too large: it inflates to more than {_mb(limit)} "
                        f"(raise the limit with --max-data-mb or ${MAX_DATA_MB_ENV} if the file is genuine)"
                    )
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise DataFileError(path, f"member {info.filename!r} is corrupt or truncated ({exc})") from None
    return b"".join(chunks)


def _zip_entries(file: Path) -> int | None:
    """The member count in a zip's end record, read before zipfile lists them all (None: no end record found).
    65535 stands for "at least that many" (the zip64 record holds the true count)."""
    with open(file, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        tail_size = min(size, 22 + 0xFFFF)  # the end record, and a comment of at most 64 KiB after it
        fh.seek(size - tail_size)
        tail = fh.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    return int.from_bytes(tail[at + 10 : at + 12], "little")


def read_npz(path: str | os.PathLike[str], max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """Every array in an ``.npz`` (keys without ``.npy``), read without running code and within ``max_bytes``.

    ``max_bytes`` (default :func:`max_data_bytes`) bounds both the bytes inflated from the zip and the memory the
    arrays stand for. Raises ``DataFileError`` naming the file for a missing file, a file that is not a zip, a truncated
    or corrupt zip, a member that is not a ``.npy`` array, a pickle that asks for anything but numpy arrays, and a file
    that is "too large" or "too deep" for the limits.
    """
    file = Path(path)
    if not file.exists():
        raise DataFileError(path, "no such file")
    if file.is_dir():
        raise DataFileError(path, "is a folder, not an .npz file")
    budget = _Budget(max_data_bytes() if max_bytes is None else int(max_bytes))
    arrays: dict[str, np.ndarray] = {}
    try:
        entries = _zip_entries(file)
        if entries is not None and entries > MAX_MEMBERS:
            raise DataFileError(path, f"is too large: its zip lists {entries} members (a sketch file has 3; the limit "
                                      f"is {MAX_MEMBERS})")
        with zipfile.ZipFile(file) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            declared = sum(info.file_size for info in members)
            if declared > budget.max_bytes:
                raise DataFileError(
                    path, f"is too large: its arrays inflate to {_mb(declared)}, over the limit of "
                    f"{_mb(budget.max_bytes)} (raise it with --max-data-mb or ${MAX_DATA_MB_ENV} if the file is "
                    "genuine)"
                )
            inflated = 0
            for info in members:
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                data = _read_member(archive, info, path, budget.max_bytes - inflated)
                inflated += len(data)
                arrays[key] = read_npy_member(data, path, info.filename, budget)
                del data
    except zipfile.BadZipFile as exc:
        size = file.stat().st_size
        raise DataFileError(
            path, f"is not an .npz file (not a zip archive, or a truncated one: {size} bytes; {exc})"
        ) from None
    except OSError as exc:
        raise DataFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    return arrays
