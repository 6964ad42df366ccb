"""Hostile files for the tests, built here byte by byte (never downloaded), and a way to run a console script as a
real process while measuring its peak memory.

The pickles are written opcode by opcode as numpy's own array pickles are (protocol 2), so they reach the loader's
deepest parts: nested object arrays, memo references, a zip member that inflates a thousandfold.
"""
from __future__ import annotations

import io
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

BIN = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------------------------------
# running a console script


@dataclass
class Ran:
    code: int  # exit status; -N when killed by signal N
    out: str
    err: str
    peak_rss_mb: float
    seconds: float


def script(name: str) -> str:
    """The console script installed next to this Python (what a user runs)."""
    path = BIN / name
    assert path.exists(), f"{path} is not installed (pip install -e . installs the console scripts)"
    return str(path)


# The peak memory of a child includes whatever the process that forked it held (the kernel carries the forking
# process's high-water mark across exec), and pytest holds gigabytes once TensorFlow is loaded. So the script is
# started by a small Python process that forks it and reports the child's own peak.
_SPAWN = """
import os, signal, sys
report, argv = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    os.execv(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as fh:
    fh.write(str(usage.ru_maxrss))
if os.WIFSIGNALED(status):
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
sys.exit(os.WEXITSTATUS(status))
"""


def run_script(name: str, *args: str | os.PathLike[str], cwd: Path | None = None, env: dict | None = None,
               timeout: float = 120) -> Ran:
    """Run ``name args`` as a subprocess; its exit status (-N: killed by signal N), output and peak resident memory."""
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        proc = subprocess.Popen([sys.executable, "-c", _SPAWN, report.name, script(name), *map(str, args)],
                                cwd=cwd or REPO_ROOT, env=environment, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.seek(0)
        err.seek(0)
        text_out, text_err = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        peak_kb = report.read().strip()
    return Ran(proc.returncode, text_out, text_err, int(peak_kb or 0) / 1024, time.monotonic() - started)


def assert_clean_error(ran: Ran, *named: str) -> None:
    """Exit 2, one ``error:`` line naming each of ``named``, no traceback."""
    assert ran.code == 2, (ran.code, ran.err[-2000:])
    assert "Traceback" not in ran.err and "Traceback" not in ran.out, ran.err[-2000:]
    errors = [line for line in ran.err.splitlines() if line.startswith("error: ")]
    assert errors, ran.err
    for text in named:
        assert any(text in line for line in errors), (text, ran.err)


# ---------------------------------------------------------------------------------------------------------------------
# pickles, opcode by opcode

_RECONSTRUCT = b"cnumpy.core.multiarray\n_reconstruct\n"
_NDARRAY = b"cnumpy\nndarray\n"
_DTYPE = b"cnumpy\ndtype\n"


def _int(n: int) -> bytes:
    return b"J" + struct.pack("<i", n)


def _text(s: str) -> bytes:
    data = s.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _dtype(code: str) -> bytes:
    kind = np.dtype(code)
    endian = "|" if kind.itemsize == 1 or kind.hasobject else "<"
    flags = 63 if kind.hasobject else 0
    return (_DTYPE + _text(kind.str.lstrip("<>|")) + b"K\x00K\x01\x87R"
            + b"(K\x03" + _text(endian) + b"NNN" + _int(-1) + _int(-1) + _int(flags) + b"tb")


def _array_head(count: int, code: str) -> bytes:
    """Everything of an array's pickle before its data: _reconstruct(...), then the start of its state tuple."""
    return (_RECONSTRUCT + _NDARRAY + b"K\x00\x85C\x01b\x87R"
            + b"(K\x01" + _int(count) + b"\x85" + _dtype(code) + b"\x89")


def numeric_array(rows: int, code: str = "<i2") -> bytes:
    """An ``[rows, 3]``-sized flat numeric array (the elements of a sketch), without PROTO/STOP."""
    data = bytes(rows * 3 * np.dtype(code).itemsize)
    return _array_head(rows * 3, code) + b"B" + struct.pack("<I", len(data)) + data + b"tb"


def nested_object_arrays(depth: int) -> bytes:
    """A whole pickle: object arrays of one element each, ``depth`` levels deep, around one numeric array."""
    open_level = _array_head(1, "O") + b"]"  # ... its data is a list, the next level is that list's only item
    close_level = b"atb"
    return b"\x80\x02" + open_level * depth + numeric_array(1) + close_level * depth + b"."


def long_binput_pickle() -> bytes:
    """9 bytes: ``None`` stored in memo slot 2**28 (C's unpickler allocates a memo of 2**28 slots for it)."""
    return b"\x80\x02N" + b"r" + struct.pack("<I", 1 << 28) + b"."


def npy_member(pickle_bytes: bytes, shape: tuple[int, ...] = (1,)) -> bytes:
    """A ``.npy`` file of an object array whose data is ``pickle_bytes``."""
    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(buffer, {"descr": "|O", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + pickle_bytes


def npz(path: Path, members: dict[str, bytes]) -> Path:
    """A zip of ``.npy`` members, written as they are (deflated, like np.savez_compressed)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def sketch_npz_with(path: Path, train_npy: bytes) -> Path:
    """A sketch-rnn .npz whose train member is ``train_npy`` and whose valid and test splits are fine."""
    good = io.BytesIO()
    split = np.empty(1, dtype=object)
    split[0] = np.array([[1, 2, 0], [3, 4, 1]], dtype=np.int16)
    np.save(good, split, allow_pickle=True)
    return npz(path, {"train.npy": train_npy, "valid.npy": good.getvalue(), "test.npy": good.getvalue()})


def memo_bomb_npz(path: Path, references: int = 100_000, rows: int = 1000) -> Path:
    """numpy's own pickle of an object array whose ``references`` elements are all the same ``[rows, 3]`` array:
    a few hundred KB that stand for references x rows x 3 int64 values."""
    one = np.zeros((rows, 3), dtype=np.int64)
    array = np.empty(references, dtype=object)
    for index in range(references):
        array[index] = one
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return sketch_npz_with(path, buffer.getvalue())


def deflate_bomb_npz(path: Path, inflated_mb: int) -> Path:
    """A real zip bomb: ``train.npy``, an int16 array of ``inflated_mb`` MiB of zeros, deflated to about 1/1000.

    Built without compressing gigabytes: after a full flush, deflate turns every further MiB of zeros into the same
    bytes, so one compressed MiB is repeated. The sizes and CRC in the zip headers are the true ones."""
    zeros = bytes(1 << 20)
    header = io.BytesIO()
    npy_format.write_array_header_1_0(
        header, {"descr": "<i2", "fortran_order": False, "shape": (inflated_mb * (1 << 20) // 2,)})
    head = header.getvalue()
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    last = compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(inflated_mb):
        crc = zlib.crc32(zeros, crc)
    size = len(head) + inflated_mb * len(zeros)
    with open(path, "wb") as fh:
        name = b"train.npy"
        compressed = len(first) + inflated_mb * len(block) + len(last)
        local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, compressed, size, len(name), 0)
        fh.write(local + name + first)
        for _ in range(inflated_mb):
            fh.write(block)
        fh.write(last)
        directory_at = fh.tell()
        central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, compressed, size,
                              len(name), 0, 0, 0, 0, 0, 0)
        fh.write(central + name)
        end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central) + len(name), directory_at, 0)
        fh.write(end)
    return path
