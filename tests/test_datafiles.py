"""sketch-rnn .npz files and single-sketch JSON: the real data sets load, round trips are exact, bad files fail clearly,
and no file can run code while it is being read."""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sketchgen.datafiles import (
    SKETCH_JSON_VERSION,
    Sketch,
    load_npz,
    load_sketch_json,
    read_npz_splits,
    save_npz,
    save_sketch_json,
)
from sketchgen.errors import DataFileError, SketchError
from sketchgen.fileio import atomic_write
from sketchgen.safe_npz import read_npz

# README of ../shared/data: train / valid / test, length min / mean / max, max |d|, stored dtype
README_FACTS = {
    "sketch-rnn-datasets/aaron_sheep.npz": ((7400, 300, 300), (20, 125.3, 250), 476, "int16"),
    "sketch-rnn-datasets/short_kanji.npz": ((10000, 600, 500), (2, 40.8, 88), 475, "int16"),
    "sketch-rnn-datasets/kanji.rdp100.npz": ((10358, 600, 500), (2, 37.5, 80), 93.25, "float64"),
    "sketch-rnn-datasets/kanji.rdp200.npz": ((10358, 600, 500), (2, 31.0, 70), 93.25, "float64"),
    "sketch-rnn-datasets/omniglot.npz": ((30000, 1000, 1000), (2, 31.1, 157), 600, "int16"),
    "quickdraw-mini/cat.mini25.npz": ((15, 5, 5), (15, 54.5, 79), 222, "int16"),
    "quickdraw-mini/ladder.mini25.npz": ((15, 5, 5), (12, 21.8, 40), 255, "int16"),
    "quickdraw-mini/sun.mini25.npz": ((15, 5, 5), (31, 48.3, 101), 249, "int16"),
    "quickdraw-mini/leaf.mini25.npz": ((15, 5, 5), (20, 35.9, 62), 255, "int16"),
    "quickdraw-mini/pig.mini25.npz": ((15, 5, 5), (40, 73.9, 107), 229, "int16"),
    "quickdraw-mini/face.mini25.npz": ((15, 5, 5), (32, 51.8, 104), 255, "int16"),
}


def _object_array(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


def _write_npz(path: Path, **arrays: np.ndarray) -> Path:
    """Write arrays with numpy's own writer (a file as someone else's tool would make it)."""
    np.savez_compressed(path, **arrays)
    return path


def _good_splits(make_sketch) -> dict[str, list[np.ndarray]]:
    return {
        "train": [make_sketch(seed=i, n_points=10 + i) for i in range(6)],
        "valid": [make_sketch(seed=100)],
        "test": [make_sketch(seed=200, n_points=1, n_strokes=1)],
    }


# ---------------------------------------------------------------------------------------------------------------- real


def test_every_shared_data_file_is_covered(shared_data: Path) -> None:
    on_disk = {p.relative_to(shared_data).as_posix() for p in shared_data.glob("*/*.npz")}
    assert on_disk == set(README_FACTS)


@pytest.mark.parametrize("name", sorted(README_FACTS))
def test_shared_data_file_loads_with_readme_facts(shared_data: Path, name: str) -> None:
    (counts, (len_min, len_mean, len_max), max_offset, dtype) = README_FACTS[name]
    contents = read_npz_splits(shared_data / name)
    splits = contents.splits
    assert tuple(len(splits[k]) for k in ("train", "valid", "test")) == counts
    assert contents.stored_dtypes == {"train": [dtype], "valid": [dtype], "test": [dtype]}
    every = [s for k in ("train", "valid", "test") for s in splits[k]]
    assert all(s.dtype == np.float32 and s.ndim == 2 and s.shape[1] == 3 for s in every)
    lengths = np.array([len(s) for s in every])
    assert (lengths.min(), lengths.max()) == (len_min, len_max)
    assert round(float(lengths.mean()), 1) == len_mean
    assert max(float(np.abs(s[:, :2]).max()) for s in every) == pytest.approx(max_offset)
    assert all(set(np.unique(s[:, 2])) <= {0.0, 1.0} and s[-1, 2] == 1 for s in every)


def test_loaded_values_match_numpys_own_loader(shared_data: Path) -> None:
    path = shared_data / "sketch-rnn-datasets" / "kanji.rdp100.npz"  # float64, written by Python 3, protocol 2
    ours = load_npz(path)
    with np.load(path, allow_pickle=True, encoding="latin1") as theirs:
        for key in ("train", "valid", "test"):
            assert len(ours[key]) == len(theirs[key])
            for a, b in zip(ours[key][:200], theirs[key][:200]):
                np.testing.assert_array_equal(a, b.astype(np.float32))


# ---------------------------------------------------------------------------------------------------------- round trip

_row_count = st.integers(min_value=1, max_value=30)


@st.composite
def _sketch(draw, integral: bool) -> np.ndarray:
    n = draw(_row_count)
    if integral:
        values = st.integers(min_value=-32768, max_value=32767)
    else:
        values = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, width=32)
    xy = draw(st.lists(st.tuples(values, values), min_size=n, max_size=n))
    pen = draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n))
    out = np.zeros((n, 3), dtype=np.float64)
    out[:, :2] = np.asarray(xy, dtype=np.float64)
    out[:, 2] = pen
    return out


@st.composite
def _splits(draw) -> dict[str, list[np.ndarray]]:
    integral = draw(st.booleans())
    return {key: draw(st.lists(_sketch(integral), max_size=4)) for key in ("train", "valid", "test")}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(splits=_splits())
def test_save_then_load_round_trip(tmp_path: Path, splits: dict[str, list[np.ndarray]]) -> None:
    path = tmp_path / "round.npz"
    dtype = save_npz(path, splits)
    every = [s for k in ("train", "valid", "test") for s in splits[k]]
    integral = all(np.array_equal(s, np.round(s)) for s in every)
    assert dtype == ("int16" if integral else "float64")
    loaded = load_npz(path)
    for key in ("train", "valid", "test"):
        assert len(loaded[key]) == len(splits[key])
        for got, want in zip(loaded[key], splits[key]):
            np.testing.assert_array_equal(got, want.astype(np.float32))
    with np.load(path, allow_pickle=True, encoding="latin1") as official:  # the call the official files need
        for key in ("train", "valid", "test"):
            assert official[key].dtype == object
            for got, want in zip(official[key], splits[key]):
                assert got.dtype == np.dtype(dtype)
                np.testing.assert_array_equal(got.astype(np.float64), want)  # exact: nothing was rounded


def test_save_npz_layout_is_the_official_one(tmp_path: Path, make_sketch) -> None:
    path = tmp_path / "layout.npz"
    same_length = [make_sketch(seed=1, n_points=12), make_sketch(seed=2, n_points=12)]
    save_npz(path, {"train": same_length, "valid": [], "test": [make_sketch(seed=3)]})
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["test.npy", "train.npy", "valid.npy"]
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    raw = read_npz(path)
    assert raw["train"].dtype == object and raw["train"].shape == (2,)  # equal lengths did not become a 3-D array
    assert raw["train"][0].dtype == np.int16
    assert load_npz(path)["valid"] == []


def test_float_values_are_saved_without_rounding(tmp_path: Path) -> None:
    sketch = np.array([[0.1, -2.5, 0], [3.25, 1e-3, 1]])
    path = tmp_path / "f.npz"
    assert save_npz(path, {"train": [sketch], "valid": [], "test": []}) == "float64"
    with np.load(path, allow_pickle=True) as official:
        np.testing.assert_array_equal(official["train"][0], sketch)
    big = np.array([[40000, 0, 1]])  # integral but outside int16
    assert save_npz(path, {"train": [big], "valid": [], "test": []}) == "float64"
    assert load_npz(path)["train"][0][0, 0] == 40000


def test_save_npz_is_atomic_and_refuses_bad_sketches(tmp_path: Path, make_sketch) -> None:
    path = tmp_path / "keep.npz"
    save_npz(path, {"train": [make_sketch()], "valid": [], "test": []})
    before = path.read_bytes()
    bad = make_sketch(seed=5)
    bad[3, 0] = np.nan
    with pytest.raises(DataFileError, match=r"keep\.npz: cannot save: split 'train', sketch 1: contains NaN"):
        save_npz(path, {"train": [make_sketch(), bad], "valid": [], "test": []})
    with pytest.raises(DataFileError, match="missing: \\['test'\\]"):
        save_npz(path, {"train": [], "valid": []})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.npz"]
    with pytest.raises(DataFileError, match="cannot write"):
        save_npz(tmp_path / "no" / "such" / "folder.npz", {"train": [], "valid": [], "test": []})


def test_atomic_write_leaves_nothing_behind_on_error(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as handle:
            handle.write("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]
    with atomic_write(target, "w") as handle:
        handle.write("new ü")
    assert target.read_text(encoding="utf-8") == "new ü"
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


# ------------------------------------------------------------------------------------------------------ malformed npz


def test_missing_file_and_not_a_zip(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"nothing\.npz: no such file"):
        load_npz(tmp_path / "nothing.npz")
    text = tmp_path / "notes.npz"
    text.write_text("just some text, not a zip")
    with pytest.raises(DataFileError, match=r"notes\.npz: is not an \.npz file"):
        load_npz(text)


def test_truncated_zip(tmp_path: Path, make_sketch) -> None:
    full = tmp_path / "full.npz"
    save_npz(full, {"train": [make_sketch(seed=i) for i in range(50)], "valid": [], "test": []})
    data = full.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match=r"cut\.npz: is not an \.npz file \(not a zip archive, or a truncated"):
        load_npz(cut)


def test_corrupt_member_data(tmp_path: Path, make_sketch) -> None:
    path = tmp_path / "corrupt.npz"
    save_npz(path, {"train": [make_sketch(seed=i) for i in range(50)], "valid": [], "test": []})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("train.npy")
    start = info.header_offset + 30 + len(info.filename) + 20  # inside the compressed data of train.npy
    data[start : start + 40] = bytes(40)
    path.write_bytes(bytes(data))
    with pytest.raises(DataFileError, match=r"corrupt\.npz: member 'train\.npy' is corrupt or truncated"):
        load_npz(path)


def test_missing_key_names_the_keys_present(tmp_path: Path, make_sketch) -> None:
    path = _write_npz(tmp_path / "two.npz", train=_object_array([make_sketch()]), extra=_object_array([]))
    expected = r"two\.npz: has no 'valid', 'test' split \(keys in the file: extra, train\)"
    with pytest.raises(DataFileError, match=expected):
        load_npz(path)


def test_wrong_dtype_strings(tmp_path: Path, make_sketch) -> None:
    words = np.array([["a", "b", "c"]])
    path = _write_npz(tmp_path / "s.npz", train=_object_array([make_sketch(), words]), valid=_object_array([]),
                      test=_object_array([]))
    expected = r"s\.npz: split 'train', sketch 1 has dtype <U1; sketches must hold numbers"
    with pytest.raises(DataFileError, match=expected):
        load_npz(path)


@pytest.mark.parametrize(
    ("element", "message"),
    [
        (np.array([[1.0, np.nan, 0], [2, 2, 1]]), "split 'valid', sketch 0: contains NaN values"),
        (np.array([[1.0, 2, 0], [np.inf, 2, 1]]), "split 'valid', sketch 0: contains infinite values"),
        (np.zeros((0, 3), dtype=np.int16), "split 'valid', sketch 0: is empty"),
        (np.array([[1, 2, 2]], dtype=np.int16), "split 'valid', sketch 0: pen values must be 0 or 1"),
        (np.array([5, 5, 1], dtype=np.int16), r"split 'valid', sketch 0 has shape \(3,\), expected \[N, 3\] \(a"),
        (np.zeros((4, 5), dtype=np.int16), r"split 'valid', sketch 0 has shape \(4, 5\), expected \[N, 3\]"),
        ([[1, 2, 1]], r"member 'valid\.npy' holds a pickle that numpy arrays never need \(object array element of "
                      r"type list\)"),
    ],
)
def test_bad_sketch_values(tmp_path: Path, element, message: str) -> None:
    path = _write_npz(tmp_path / "bad.npz", train=_object_array([]), valid=_object_array([element]),
                      test=_object_array([]))
    with pytest.raises(DataFileError, match=r"bad\.npz: " + message):
        load_npz(path)


def test_one_point_sketch_and_empty_splits_load(tmp_path: Path) -> None:
    dot = np.array([[7, 9, 1]], dtype=np.int16)
    path = _write_npz(tmp_path / "dot.npz", train=_object_array([dot]), valid=_object_array([]),
                      test=np.zeros(0))
    loaded = load_npz(path)
    np.testing.assert_array_equal(loaded["train"][0], [[7, 9, 1]])
    assert loaded["valid"] == [] and loaded["test"] == []


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((10, 3), dtype=np.int16), r"split 'train' is one plain \[10x3\] int16 array, not a list of sketches"),
        (np.zeros((4, 20, 3), dtype=np.float32), r"split 'train' is a padded 3-D \[4x20x3\] float32 array"),
        (np.zeros(5), r"split 'train' is a \[5\] float64 array; expected a 1-D object array"),
    ],
)
def test_non_object_arrays_are_read_and_explained(tmp_path: Path, array: np.ndarray, message: str) -> None:
    path = _write_npz(tmp_path / "plain.npz", train=array, valid=_object_array([]), test=_object_array([]))
    assert read_npz(path)["train"].shape == array.shape  # the safe reader itself reads plain arrays
    with pytest.raises(DataFileError, match=r"plain\.npz: " + message):
        load_npz(path)


def test_fortran_order_and_uncompressed_arrays(tmp_path: Path) -> None:
    path = tmp_path / "plain.npz"
    array = np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4))
    np.savez(path, a=array)
    np.testing.assert_array_equal(read_npz(path)["a"], array)


# --------------------------------------------------------------------------------------------------- code execution


class _RunsShellCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_calls_os_system_is_refused(tmp_path: Path, make_sketch) -> None:
    marker = tmp_path / "pwned"
    evil = _object_array([make_sketch(), _RunsShellCommand(marker)])
    path = _write_npz(tmp_path / "evil.npz", train=evil, valid=_object_array([]), test=_object_array([]))
    with pytest.raises(DataFileError) as info:
        load_npz(path)
    message = str(info.value)
    assert message.startswith(f"{path}: member 'train.npy'")
    assert f"forbidden global {os.system.__module__}.system" in message
    assert not marker.exists()
    # control: numpy's unrestricted loader really would have run the command from this file
    with np.load(path, allow_pickle=True) as unsafe:
        unsafe["train"]
    assert marker.exists()


def test_a_hand_written_pickle_asking_for_eval_is_refused(tmp_path: Path) -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    payload = header.getvalue() + b"cbuiltins\neval\n(S'__import__(\"os\").getcwd()'\ntR."
    path = tmp_path / "eval.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train.npy", payload)
    with pytest.raises(DataFileError, match=r"eval\.npz: member 'train\.npy' .*forbidden global builtins\.eval"):
        read_npz(path)


class _PickledAs:
    """Pickles as ``func(*args)`` with an optional BUILD ``state``: lets a test write any pickle numpy could read."""

    def __init__(self, func, args, state=None) -> None:
        self.reduced = (func, args) if state is None else (func, args, state)

    def __reduce__(self):
        return self.reduced


_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]


@pytest.mark.parametrize(
    ("forged", "message"),
    [
        # numpy.ndarray(shape, object dtype, buffer): numpy itself would treat the bytes as PyObject pointers
        (_PickledAs(np.ndarray, ((2,), np.dtype(object), b"\x01" * 16)), r"numpy\.ndarray\(\.\.\.\) called directly"),
        # an object dtype whose pickled flags are cleared, so numpy would accept raw bytes for its elements
        (
            _PickledAs(_RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (2,), _PickledAs(
                np.dtype, ("O8", False, True), (3, "|", None, None, None, -1, -1, 0)), False, b"\x01" * 16)),
            "object array state does not hold one item per element",
        ),
        (_PickledAs(np.dtype, ("i4,i4", False, True)), r"numpy dtype 'i4,i4' is not a plain number"),
        (_PickledAs(_RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (4,), np.dtype("<i8"), False, b"\0" * 8)),
         "numpy array data does not match its shape"),
    ],
)
def test_pickles_that_could_forge_object_pointers_are_refused(tmp_path: Path, forged, message: str) -> None:
    path = _write_npz(tmp_path / "forged.npz", train=_object_array([forged]), valid=_object_array([]),
                      test=_object_array([]))
    with pytest.raises(DataFileError, match=r"forged\.npz: member 'train\.npy' holds a pickle that numpy arrays "
                                            r"never need \(" + message):
        load_npz(path)


def test_a_broken_pickle_is_a_clear_error(tmp_path: Path) -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    path = tmp_path / "broken.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train.npy", header.getvalue() + b"\x80\x02(((")
    with pytest.raises(DataFileError, match=r"broken\.npz: member 'train\.npy' holds a broken pickle"):
        read_npz(path)


# ------------------------------------------------------------------------------------------------------- sketch JSON

_json_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(_json_floats, _json_floats, st.sampled_from([0.0, 1.0])), min_size=1, max_size=40),
    metadata=st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=12), st.integers(), st.booleans()),
                             max_size=4),
)
def test_sketch_json_round_trip(tmp_path: Path, rows, metadata) -> None:
    sketch = Sketch(np.array(rows, dtype=np.float32), metadata)
    path = tmp_path / "one.json"
    save_sketch_json(path, sketch)
    loaded = load_sketch_json(path)
    assert loaded == sketch
    assert loaded.strokes.dtype == np.float32


def test_sketch_json_document_shape(tmp_path: Path, make_sketch) -> None:
    path = tmp_path / "s.json"
    save_sketch_json(path, Sketch(make_sketch(n_points=5), {"source": "test", "category": "cat"}))
    document = json.loads(path.read_text())
    assert document["format"] == "sketchgen.sketch" and document["version"] == SKETCH_JSON_VERSION
    assert document["metadata"] == {"source": "test", "category": "cat"}
    assert len(document["strokes"]) == 5 and all(isinstance(v, int) for v in document["strokes"][0])


def test_sketch_validates_its_strokes() -> None:
    with pytest.raises(SketchError, match="is empty"):
        Sketch(np.zeros((0, 3)))
    with pytest.raises(SketchError, match="NaN"):
        Sketch(np.array([[np.nan, 0, 1]]))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"strokes": [[1, 2, 1]', r"is not valid JSON \(line 1, column 23"),
        ("[[1, 2, 1]]", "expected a JSON object with a 'strokes' list, found a list"),
        ('{"points": []}', r"has no 'strokes' \(keys: points\)"),
        ('{"strokes": []}', "'strokes': is empty"),
        ('{"strokes": [[1, 2]]}', r"'strokes' row 0 has 2 values, expected 3"),
        ('{"strokes": [[1, 2, 1], [1, "a", 1]]}', "'strokes' row 1 holds something other than numbers"),
        ('{"strokes": [[NaN, 2, 1]]}', "'strokes': contains NaN"),
        ('{"strokes": [[1, 2, 3]]}', "'strokes': pen values must be 0 or 1"),
        ('{"strokes": {"a": 1}}', "'strokes' must be a list of"),
        ('{"format": "svg", "strokes": [[1, 2, 1]]}', "format is 'svg', not a 'sketchgen.sketch' file"),
        ('{"version": 99, "strokes": [[1, 2, 1]]}', "was written in sketch format version 99"),
        ('{"strokes": [[1, 2, 1]], "metadata": [1]}', "'metadata' must be a JSON object"),
    ],
)
def test_bad_sketch_json(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(DataFileError, match=r"bad\.json: " + message):
        load_sketch_json(path)


def test_sketch_json_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="no such file"):
        load_sketch_json(tmp_path / "absent.json")
    binary = tmp_path / "image.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(DataFileError, match="is not a UTF-8 text file"):
        load_sketch_json(binary)
    with pytest.raises(DataFileError, match="metadata is not plain JSON"):
        save_sketch_json(tmp_path / "m.json", Sketch(np.array([[1, 1, 1]]), {"when": object()}))
    assert not (tmp_path / "m.json").exists()
