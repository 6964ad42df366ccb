"""Outputs that cannot be written, with the real console scripts: a clear error naming the folder, exit 2, found
before the work (not after it); absurd sizes refused; stale temporary folders of killed exports removed."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest
from hostile import assert_clean_error, run_script


@pytest.fixture
def unwritable(tmp_path: Path) -> Path:
    """A folder nobody running the tests can write to (root writes anywhere but on a read-only file system)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        yield folder
        folder.chmod(stat.S_IRWXU)
        return
    for candidate in (Path("/sys"), Path("/proc")):
        try:
            fd, name = tempfile.mkstemp(dir=candidate)
        except OSError:
            yield candidate
            return
        os.close(fd)
        os.unlink(name)
    pytest.skip("no unwritable folder to test with (running as root, /sys and /proc writable)")


def test_sample_refuses_outputs_it_cannot_write_before_sampling(tmp_path: Path, unwritable: Path) -> None:
    folder_named_png = tmp_path / "x.png"
    folder_named_png.mkdir()
    ran = run_script("sketchgen-sample", "--model", "sheep", "--out", folder_named_png)
    assert_clean_error(ran, str(folder_named_png), "is a folder")

    ran = run_script("sketchgen-sample", "--model", "sheep", "--out", unwritable / "x.png")
    assert_clean_error(ran, str(unwritable), "cannot write")

    ran = run_script("sketchgen-sample", "--model", "sheep", "--out", tmp_path / "big.png", "--size", "60000")
    assert_clean_error(ran, "--size must be from 16 to 4096")
    ran = run_script("sketchgen-sample", "--model", "sheep", "--out", tmp_path / "big.png", "--size", "4000",
                     "--n", "64")
    assert_clean_error(ran, "megapixels")
    ran = run_script("sketchgen-sample", "--model", "sheep", "--out", tmp_path / "big.png", "--n", "100000000")
    assert_clean_error(ran, "--n must be from 1 to 10000")
    assert not (tmp_path / "big.png").exists()


def test_train_and_download_refuse_folders_they_cannot_write(tmp_path: Path, unwritable: Path) -> None:
    ran = run_script("sketchgen-train", "--data", "toy", "--data_dir", tmp_path, "--experiment_dir",
                     unwritable / "run")
    assert_clean_error(ran, str(unwritable), "cannot")

    ran = run_script("sketchgen-data", "download", "cat", "--out-dir", unwritable / "data", "--quiet",
                     "--base-url", (tmp_path / "nowhere").as_uri())
    assert_clean_error(ran, str(unwritable / "data"), "cannot")
    ran = run_script("sketchgen-data", "download", "cat", "--out-dir", unwritable, "--quiet",
                     "--base-url", (tmp_path / "nowhere").as_uri())
    assert_clean_error(ran, str(unwritable), "cannot write")


def test_export_checks_its_output_before_converting(tmp_path: Path, unwritable: Path) -> None:
    """The experiment does not even exist: the error is about --out, so --out was checked first."""
    ran = run_script("sketchgen-export", tmp_path / "no-such-run", "--out", unwritable / "model")
    assert_clean_error(ran, str(unwritable), "cannot write")


def test_export_removes_the_temporary_folders_of_killed_exports(tmp_path: Path) -> None:
    dead = tmp_path / ".model.tmp-999999999-abc"  # no such process: its export was killed
    legacy = tmp_path / ".model.tmp-x1y2z3"  # written by an exporter that did not record its process
    alive = tmp_path / f".model.tmp-{os.getpid()}-abc"  # this process is alive: maybe still writing
    other = tmp_path / ".other.tmp-999999999-abc"  # another model's: not ours to judge
    for folder in (dead, legacy, alive, other):
        folder.mkdir()
        (folder / "encoder.onnx").write_bytes(b"half")
    ran = run_script("sketchgen-export", tmp_path / "no-such-run", "--out", tmp_path / "model")
    assert_clean_error(ran, str(tmp_path / "no-such-run"))
    assert not dead.exists() and not legacy.exists()
    assert alive.exists() and other.exists()
