"""Read .npz files without letting them run code.

``np.load(path, allow_pickle=True)`` unpickles object arrays with the full pickle machinery, so a crafted file can call
``os.system`` the moment it is opened. sketch-rnn's files need object arrays (one ``[N, 3]`` array per sketch), so this
module reads the zip members itself, parses each ``.npy`` header with ``numpy.lib.format`` and unpickles object arrays
with an unpickler whose ``find_class`` hands out only the few numpy globals a plain array pickle refers to. Anything
else is refused with a ``DataFileError`` naming the file, the member and the forbidden global.
"""

from __future__ import annotations

import _codecs
import io
import os
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from sketchgen.errors import DataFileError

__all__ = ["read_npz", "read_npy_member", "RestrictedUnpickler", "ForbiddenGlobalError", "ALLOWED_GLOBALS"]

# Element kinds a pickled array may have: numbers, booleans, text (so a wrong file can be named, not refused blindly)
# and objects (the one-sketch-per-element arrays). No structured, datetime or void dtypes.
_ALLOWED_KINDS = frozenset("biufcSUO")


class _UnsafePickle(pickle.UnpicklingError):
    """The pickle is well-formed but asks numpy for something a plain array never needs."""


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
    """The result of a pickled ``_reconstruct(ndarray, ...)`` call; its BUILD state fills in ``array``."""

    __slots__ = ("array",)

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

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
        if dtype.hasobject:
            if not isinstance(raw, list) or len(raw) != count:
                raise _UnsafePickle("object array state does not hold one item per element")
            flat = np.empty(count, dtype=object)
            for index, item in enumerate(raw):
                flat[index] = _finished(item)
            self.array = flat.reshape(shape, order=order)
            return
        if isinstance(raw, str):  # Python 2 pickles read with encoding="latin1"
            raw = raw.encode("latin1")
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != count * dtype.itemsize:
            raise _UnsafePickle(f"numpy array data does not match its shape {shape} and dtype {dtype}")
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
    def __call__(self, subtype: object, shape: object = (0,), code: object = b"b") -> _ArraySpec:
        if subtype is not _NDARRAY:
            raise _UnsafePickle("_reconstruct may only build numpy.ndarray")
        return _ArraySpec()


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
# numpy._core.multiarray.
ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("numpy.core.multiarray", "_reconstruct"): _Reconstruct(),
    ("numpy._core.multiarray", "_reconstruct"): _Reconstruct(),
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


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can build plain numpy arrays and nothing else; ``load`` returns an ndarray."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise ForbiddenGlobalError(module, name) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed")

    def load(self) -> Any:
        result = super().load()
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


def read_npy_member(data: bytes, path: str | os.PathLike[str], member: str) -> np.ndarray:
    """Parse one ``.npy`` member's bytes; object arrays go through ``RestrictedUnpickler``."""
    where = f"member {member!r}"
    stream = io.BytesIO(data)
    try:
        shape, fortran_order, dtype = _read_header(stream)
    except (ValueError, SyntaxError, EOFError) as exc:
        raise DataFileError(path, f"{where} is not a valid .npy array ({exc})") from None
    if dtype.hasobject:
        if dtype != np.dtype(object):
            raise DataFileError(path, f"{where} has a structured dtype with objects ({dtype}); expected plain arrays")
        try:
            array = RestrictedUnpickler(stream, encoding="latin1").load()
        except ForbiddenGlobalError as exc:
            raise DataFileError(
                path,
                f"{where} contains a pickle that asks for the forbidden global {exc}; refusing to load it "
                "(a sketch file only ever needs numpy arrays, this one may try to run code)",
            ) from None
        except _UnsafePickle as exc:
            raise DataFileError(path, f"{where} holds a pickle that numpy arrays never need ({exc}); refusing it") from None
        except Exception as exc:  # a broken pickle can raise almost anything; none of it may reach the user raw
            raise DataFileError(path, f"{where} holds a broken pickle ({type(exc).__name__}: {exc})") from None
        if not isinstance(array, np.ndarray):
            raise DataFileError(path, f"{where} unpickles to {type(array).__name__}, not a numpy array")
        if array.shape != tuple(shape):
            raise DataFileError(path, f"{where} header says shape {tuple(shape)} but the data has {array.shape}")
        return array
    count = int(np.prod(shape, dtype=np.int64))
    needed = count * dtype.itemsize
    raw = stream.read()
    if len(raw) < needed:
        raise DataFileError(path, f"{where} is truncated: {len(raw)} of {needed} data bytes")
    array = np.frombuffer(raw, dtype=dtype, count=count)
    if fortran_order:
        return array.reshape(shape[::-1]).transpose().copy()
    return array.reshape(shape).copy()


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every array in an ``.npz`` (keys without ``.npy``), read without running code.

    Raises ``DataFileError`` naming the file for a missing file, a file that is not a zip, a truncated or corrupt zip,
    a member that is not a ``.npy`` array and a pickle that asks for anything but numpy arrays.
    """
    file = Path(path)
    if not file.exists():
        raise DataFileError(path, "no such file")
    if file.is_dir():
        raise DataFileError(path, "is a folder, not an .npz file")
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(file) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                try:
                    data = archive.read(info)
                except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
                    raise DataFileError(
                        path, f"member {info.filename!r} is corrupt or truncated ({exc})"
                    ) from None
                arrays[key] = read_npy_member(data, path, info.filename)
    except zipfile.BadZipFile as exc:
        size = file.stat().st_size
        raise DataFileError(
            path, f"is not an .npz file (not a zip archive, or a truncated one: {size} bytes; {exc})"
        ) from None
    except OSError as exc:
        raise DataFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    return arrays
