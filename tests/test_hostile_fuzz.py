"""Property: whatever is done to a real data file (bytes flipped, cut short, wrapped in deep nesting), the console
script exits 0 or 2, is never killed by a signal, never prints a traceback and stays within a memory ceiling.

Each example runs ``sketchgen-data`` as a real process, so the examples are few and derandomized (the same ones on
every CI run); a failure prints the mutation that caused it."""
from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hostile
from hostile import run_script

MEMORY_CEILING_MB = 300
SETTINGS = settings(max_examples=8, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _real(shared_data: Path, relative: str) -> bytes:
    path = shared_data / relative
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path.read_bytes()


def _flip(data: bytes, flips: list[tuple[float, int]]) -> bytes:
    out = bytearray(data)
    for where, mask in flips:
        out[int(where * (len(out) - 1))] ^= mask
    return bytes(out)


def _rezip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


flips = st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=8)

npz_mutations = st.one_of(
    st.tuples(st.just("flip zip bytes"), flips),
    st.tuples(st.just("flip inside a member"), st.tuples(st.sampled_from(["train.npy", "valid.npy"]), flips)),
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("nest"), st.integers(1, 50_000)),
)


def _mutate_npz(original: bytes, mutation: tuple) -> bytes:
    kind, arg = mutation
    if kind == "flip zip bytes":
        return _flip(original, arg)
    if kind == "truncate":
        return original[: int(arg * len(original))]
    with zipfile.ZipFile(io.BytesIO(original)) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    if kind == "flip inside a member":
        name, where = arg
        members[name] = _flip(members[name], where)
    else:  # the train split replaced by object arrays nested ``arg`` deep
        members["train.npy"] = hostile.npy_member(hostile.nested_object_arrays(arg))
    return _rezip(members)


@SETTINGS
@given(mutation=npz_mutations)
def test_a_mutated_real_npz_never_crashes_sketchgen_data(shared_data: Path, mutation: tuple) -> None:
    original = _real(shared_data, "quickdraw-mini/cat.mini25.npz")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutated.npz"
        path.write_bytes(_mutate_npz(original, mutation))
        ran = run_script("sketchgen-data", "info", path)
    _check(ran, mutation)


ndjson_mutations = st.one_of(
    st.tuples(st.just("flip bytes"), flips),
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("nest"), st.tuples(st.integers(0, 4), st.integers(1, 200_000))),
    st.tuples(st.just("huge number"), st.tuples(st.integers(0, 4), st.sampled_from(["9" * 5000, "1e308", "-1e39",
                                                                                   "1e400", "NaN"]))),
)


def _mutate_ndjson(lines: list[str], mutation: tuple) -> bytes:
    kind, arg = mutation
    data = ("\n".join(lines) + "\n").encode()
    if kind == "flip bytes":
        return _flip(data, arg)
    if kind == "truncate":
        return data[: int(arg * len(data))]
    index, value = arg
    record = json.loads(lines[index])
    if kind == "nest":
        lines[index] = json.dumps({**record, "drawing": "@"}).replace('"@"', "[" * value + "]" * value)
    else:
        lines[index] = json.dumps(record).replace("[[[", f"[[[{value}, ", 1)
    return ("\n".join(lines) + "\n").encode()


@SETTINGS
@given(mutation=ndjson_mutations)
def test_a_mutated_real_ndjson_never_crashes_sketchgen_data(shared_data: Path, mutation: tuple) -> None:
    lines = _real(shared_data, "quickdraw-raw-mini/cat.ndjson").decode().splitlines()[:5]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutated.ndjson"
        path.write_bytes(_mutate_ndjson(lines, mutation))
        ran = run_script("sketchgen-data", "convert", path, "--out", Path(folder) / "out.npz", "--split", "1,0,0")
        if ran.code == 0:
            assert Path(folder, "out.npz").is_file()
        assert not [p for p in Path(folder).iterdir() if p.name.startswith(".")]  # no temporary file left
    _check(ran, mutation)


def _check(ran: hostile.Ran, mutation: tuple) -> None:
    described = repr(mutation)[:200]
    assert ran.code in (0, 2), f"{described}: exit {ran.code}\n{ran.err[-2000:]}"
    assert "Traceback" not in ran.err and "Traceback" not in ran.out, f"{described}\n{ran.err[-2000:]}"
    assert ran.peak_rss_mb < MEMORY_CEILING_MB, f"{described}: peak RSS {ran.peak_rss_mb:.0f} MB"
    if ran.code == 2:
        assert "error: " in ran.err and "mutated." in ran.err, f"{described}: the error must name the file"


def test_the_mutations_reach_the_parsers(shared_data: Path) -> None:
    """Not only zip errors: a mutation inside a member reaches the unpickler, one in a line reaches the converter."""
    original = _real(shared_data, "quickdraw-mini/cat.mini25.npz")
    mutated = _mutate_npz(original, ("flip inside a member", ("train.npy", [(0.5, 0xFF)])))
    with zipfile.ZipFile(io.BytesIO(mutated)) as archive:
        assert archive.testzip() is None  # a valid zip: whatever fails, fails in the pickle
    nested = _mutate_npz(original, ("nest", 3))
    with zipfile.ZipFile(io.BytesIO(nested)) as archive:
        assert np.lib.format.read_magic(io.BytesIO(archive.read("train.npy"))) == (1, 0)
