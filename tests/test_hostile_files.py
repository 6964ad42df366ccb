"""Hostile data files against the real console scripts (subprocesses): a clear error naming the file, exit 2, no
traceback, no crash, bounded memory; bad ndjson lines skipped with their line numbers; the limits let files as big as
the official QuickDraw ones through, and --max-data-mb moves them."""
from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pytest

import hostile
from hostile import assert_clean_error, run_script
from sketchgen.datafiles import load_npz, save_npz
from sketchgen.safe_npz import read_npz

# A bomb may cost what the program costs anyway (Python, numpy: ~50-120 MB) plus a little: never its payload.
MEMORY_CEILING_MB = 300


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    deep = np.zeros((2, 3), np.int16)
    for _ in range(3):  # numpy's own pickle of object arrays three deep
        wrapper = np.empty(1, dtype=object)
        wrapper[0] = deep
        deep = wrapper
    buffer = io.BytesIO()
    np.save(buffer, deep, allow_pickle=True)
    return {
        "nested 20000 deep": hostile.sketch_npz_with(folder / "nested.npz",
                                                     hostile.npy_member(hostile.nested_object_arrays(20_000))),
        "object arrays 3 deep": hostile.sketch_npz_with(folder / "deep3.npz", buffer.getvalue()),
        "memo references": hostile.memo_bomb_npz(folder / "memo.npz"),
        "deflate bomb": hostile.deflate_bomb_npz(folder / "inflates.npz", inflated_mb=600),
        "LONG_BINPUT 2**28": hostile.sketch_npz_with(folder / "binput.npz",
                                                     hostile.npy_member(hostile.long_binput_pickle())),
    }


EXPECTED = {
    "nested 20000 deep": "too deep",
    "object arrays 3 deep": "too deep",
    "memo references": "too large",
    "deflate bomb": "too large",
    "LONG_BINPUT 2**28": "not a numpy array",
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_a_hostile_npz_is_refused_by_sketchgen_data_with_bounded_memory(bombs: dict[str, Path], kind: str) -> None:
    ran = run_script("sketchgen-data", "info", bombs[kind])
    assert_clean_error(ran, str(bombs[kind]), EXPECTED[kind])
    assert ran.peak_rss_mb < MEMORY_CEILING_MB, f"{kind}: peak RSS {ran.peak_rss_mb:.0f} MB"


def test_the_nested_bomb_is_refused_by_training_and_download(bombs: dict[str, Path], tmp_path: Path) -> None:
    bomb = bombs["nested 20000 deep"]
    ran = run_script("sketchgen-train", "--data", bomb, "--experiment_dir", tmp_path / "run", "--quiet")
    assert_clean_error(ran, str(bomb), "too deep")
    assert ran.peak_rss_mb < MEMORY_CEILING_MB and not (tmp_path / "run" / "latest").exists()

    served = tmp_path / "server" / "sketchrnn"  # a download from a file:// mirror serving the bomb
    served.mkdir(parents=True)
    (served / "cat.npz").write_bytes(bomb.read_bytes())
    out_dir = tmp_path / "data"
    ran = run_script("sketchgen-data", "download", "cat", "--out-dir", out_dir, "--quiet",
                     "--base-url", served.as_uri())
    assert_clean_error(ran, "not a sketch-rnn .npz", "too deep")
    assert ran.peak_rss_mb < MEMORY_CEILING_MB
    assert not list(out_dir.iterdir())  # neither the part file nor a final file stays


def test_the_app_loader_raises_a_clean_error_for_the_nested_bomb(bombs: dict[str, Path]) -> None:
    """The app opens .npz files with this loader and shows its DataFileError in a dialog."""
    from desktop.sketch_io import read_sketch_file
    from sketchgen.errors import DataFileError

    with pytest.raises(DataFileError, match="too deep"):
        read_sketch_file(bombs["nested 20000 deep"])


def test_download_verifies_an_existing_file_instead_of_skipping_it(bombs: dict[str, Path], tmp_path: Path) -> None:
    out_dir = tmp_path / "data"
    out_dir.mkdir()
    (out_dir / "cat.npz").write_bytes(b"<html>not found</html>")
    ran = run_script("sketchgen-data", "download", "cat", "--out-dir", out_dir, "--quiet",
                     "--base-url", (tmp_path / "nowhere").as_uri())
    assert_clean_error(ran, str(out_dir / "cat.npz"), "not a valid sketch-rnn .npz", "--force")
    assert (out_dir / "cat.npz").read_bytes() == b"<html>not found</html>"  # the user's file is left alone


def test_files_as_big_as_the_official_quickdraw_ones_load_without_a_flag(tmp_path: Path) -> None:
    """70,000 + 2,500 + 2,500 sketches of 300 points (more than most official files hold) are within the limit;
    --max-data-mb lowers (or raises) it."""
    rng = np.random.default_rng(0)
    sketch = np.concatenate([rng.integers(-40, 40, (300, 2)), np.zeros((300, 1), int)], axis=1).astype(np.int16)
    sketch[-1, 2] = 1
    path = tmp_path / "official_size.npz"
    splits = {}
    for key, count in (("train", 70_000), ("valid", 2_500), ("test", 2_500)):
        splits[key] = np.empty(count, dtype=object)
        for index in range(count):
            splits[key][index] = sketch
    np.savez(path, **splits)  # uncompressed: the limit counts inflated bytes anyway
    arrays = read_npz(path)
    assert [len(arrays[key]) for key in ("train", "valid", "test")] == [70_000, 2_500, 2_500]

    small = tmp_path / "small.npz"
    save_npz(small, {"train": [sketch] * 20, "valid": [sketch] * 5, "test": [sketch] * 5})
    ran = run_script("sketchgen-data", "info", small, "--max-data-mb", "0.01")
    assert_clean_error(ran, str(small), "too large", "--max-data-mb")
    assert run_script("sketchgen-data", "info", small, "--max-data-mb", "1").code == 0
    ran = run_script("sketchgen-data", "info", small, env={"SKETCHGEN_MAX_DATA_MB": "0.01"})
    assert_clean_error(ran, "too large")


HOSTILE_LINES = {
    "raw coordinates of +-1e308": {"drawing": [[[0, 1e308], [0, -1e308], [0, 10]]]},
    "a simplified coordinate of 1e39": {"drawing": [[[0, 1e39], [0, 1]]]},
    "a 5000-digit integer": None,
    "100,000 levels of nesting": None,
    "NaN": {"drawing": [[[0, float("nan")], [0, 1]]]},
}


def test_ndjson_lines_with_hostile_values_are_skipped_with_their_line_numbers(tmp_path: Path) -> None:
    good = json.dumps({"word": "cat", "drawing": [[[0, 10, 20], [0, 5, 9]], [[3, 4], [7, 8]]]})
    lines = [good]
    for name, record in HOSTILE_LINES.items():
        if name == "a 5000-digit integer":
            lines.append('{"drawing": [[[' + "9" * 5000 + ", 1], [0, 1]]]}")
        elif name == "100,000 levels of nesting":
            lines.append('{"drawing": ' + "[" * 100_000 + "]" * 100_000 + "}")
        else:
            lines.append(json.dumps(record))
    lines.append(good)
    source = tmp_path / "hostile.ndjson"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.npz"
    ran = run_script("sketchgen-data", "convert", source, "--out", out, "--split", "1,1,0")
    assert ran.code == 0 and "Traceback" not in ran.err, ran.err
    assert "2 drawings, 5 bad lines skipped" in ran.out
    for line_no in range(2, 7):
        assert f"skipped hostile.ndjson line {line_no}:" in ran.err
    assert "outside the range of a coordinate" in ran.err and "nested too deep" in ran.err
    assert "thousands of digits" in ran.err
    assert [len(split) for split in load_npz(out).values()] == [1, 1, 0]


def test_a_closed_stdout_ends_quietly(tmp_path: Path) -> None:
    """``sketchgen-data info X | head -1``: the reader goes away; no BrokenPipeError traceback."""
    import subprocess

    sheep = tmp_path / "s.npz"
    sketch = np.array([[1, 2, 0], [3, 4, 1]], np.int16)
    save_npz(sheep, {"train": [sketch] * 3, "valid": [sketch], "test": [sketch]})
    proc = subprocess.Popen([hostile.script("sketchgen-data"), "info", str(sheep)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**__import__("os").environ,
                                                         "PYTHONPATH": str(hostile.REPO_ROOT)})
    proc.stdout.close()  # like `head -1` after its line, but before any output: the first write fails
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and err == "", err


def test_an_unexpected_exception_is_one_line_and_a_saved_traceback(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    program = ("import sys\nfrom sketchgen.console import console_main\n"
               "@console_main\ndef main(argv=None):\n    return {}['no such key']\n"
               "sys.argv[0] = 'sketchgen-demo'\nsys.exit(main())\n")
    env = {**os.environ, "PYTHONPATH": str(hostile.REPO_ROOT), "TMPDIR": str(tmp_path)}
    env.pop("SKETCHGEN_TRACEBACK", None)
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and "unexpected KeyError" in proc.stderr
    saved = list(tmp_path.glob("sketchgen-demo-crash-*.txt"))
    assert len(saved) == 1 and str(saved[0]) in proc.stderr
    assert "Traceback" in saved[0].read_text() and "no such key" in saved[0].read_text()

    interrupted = program.replace("return {}['no such key']", "raise KeyboardInterrupt")
    proc = subprocess.run([sys.executable, "-c", interrupted], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 130 and proc.stderr == ""


def test_the_bombs_cost_no_time_either(bombs: dict[str, Path]) -> None:
    """Each is refused before its payload is paid for: in well under a second in-process."""
    from sketchgen.errors import DataFileError

    for kind, path in bombs.items():
        started = time.perf_counter()
        with pytest.raises(DataFileError):
            load_npz(path)
        assert time.perf_counter() - started < 2.0, kind


def test_data_that_cannot_be_normalised_is_an_error_naming_the_file(tmp_path: Path) -> None:
    """Every dx and dy zero: no scale factor. The error names the file (it named nothing before)."""
    still = np.array([[0, 0, 0], [0, 0, 1]], np.int16)
    save_npz(tmp_path / "still.npz", {"train": [still] * 30, "valid": [still] * 3, "test": [still] * 3})
    ran = run_script("sketchgen-train", "--data", "still", "--data_dir", tmp_path, "--experiment_dir",
                     tmp_path / "run", "--quiet")
    assert_clean_error(ran, str(tmp_path / "still.npz"), "every dx and dy is zero")


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_object_array_pickles_of_every_protocol_numpy_writes_still_load(protocol: int) -> None:
    """The unpickler reads protocol 4's frames straight through; the arrays come out exactly."""
    import pickle

    from sketchgen.safe_npz import read_npy_member

    array = np.empty(3, dtype=object)
    for index in range(3):
        array[index] = np.arange(6, dtype=np.int16).reshape(2, 3) * index
    loaded = read_npy_member(hostile.npy_member(pickle.dumps(array, protocol=protocol), shape=(3,)), "f.npz", "m")
    assert all(np.array_equal(a, b) for a, b in zip(loaded, array))


def test_a_pickle_that_asks_for_a_huge_bytearray_is_refused_before_allocating() -> None:
    import struct

    from sketchgen.errors import DataFileError
    from sketchgen.safe_npz import read_npy_member

    pickle_bytes = b"\x80\x05\x96" + struct.pack("<Q", 8 << 30) + b"."  # BYTEARRAY8 of 8 GiB, no data
    with pytest.raises(DataFileError, match="never need"):
        read_npy_member(hostile.npy_member(pickle_bytes), "f.npz", "m")


def test_a_zip_of_thousands_of_members_is_refused_before_it_is_listed(tmp_path: Path) -> None:
    from sketchgen.errors import DataFileError

    members = {f"m{index}.npy": b"" for index in range(1100)}
    path = hostile.npz(tmp_path / "many.npz", members)
    with pytest.raises(DataFileError, match="lists 1100 members"):
        load_npz(path)


def test_the_memory_meter_sees_a_child_that_allocates_and_not_the_parent():
    """The ceiling above means something: a child that holds 400 MB measures at least that, and a child that
    holds nothing measures under the ceiling even when this test process is large (the full suite loads
    TensorFlow first)."""
    ballast = bytearray(600 * 2**20)  # this process grows; the small child must not inherit it in the measure
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])
    big = run_script("python", "-c", "import time; b = bytearray(400 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
                                     "time.sleep(0.3)")
    small = run_script("python", "-c", "import time; time.sleep(0.3)")
    assert big.code == 0 and small.code == 0, (big.err, small.err)
    assert big.peak_rss_mb > 380, big.peak_rss_mb
    assert small.peak_rss_mb < MEMORY_CEILING_MB, small.peak_rss_mb
    del ballast
