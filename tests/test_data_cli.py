"""``sketchgen-data info`` and ``convert``: what a user sees, exit codes, seeded splits, no silent drops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sketchgen import data_cli
from sketchgen.datafiles import load_npz, save_npz
from sketchgen.errors import ConfigError
from sketchgen.strokes import scale_factor


def _drawing(rng: np.random.Generator, n_strokes: int, points: int) -> list[list[list[int]]]:
    return [[rng.integers(0, 256, points).tolist(), rng.integers(0, 256, points).tolist()] for _ in range(n_strokes)]


def _ndjson(path: Path, count: int, seed: int = 0, bad: dict[int, str] | None = None) -> list[list]:
    """``count`` good drawings of 2..60 points; ``bad`` puts broken lines at those 1-based line numbers."""
    rng = np.random.default_rng(seed)
    drawings = [_drawing(rng, 1 + i % 3, 2 + (i * 7) % 19) for i in range(count)]
    lines = [json.dumps({"word": "thing", "drawing": d}) for d in drawings]
    for line_no, text in sorted((bad or {}).items()):
        lines.insert(line_no - 1, text)
    path.write_text("\n".join(lines) + "\n")
    return drawings


def _stroke3(drawing: list) -> np.ndarray:
    points = np.concatenate([np.stack(stroke, axis=1) for stroke in drawing]).astype(np.float64)
    out = np.zeros((len(points), 3), dtype=np.float32)
    out[:, :2] = np.diff(points, axis=0, prepend=np.zeros((1, 2)))
    out[np.cumsum([len(s[0]) for s in drawing]) - 1, 2] = 1
    return out


def _key(s: np.ndarray) -> bytes:
    return np.asarray(s, dtype=np.float32).tobytes()


def test_info_on_an_npz(tmp_path: Path, make_sketch, capsys) -> None:
    train = [make_sketch(seed=i, n_points=10 + i) for i in range(5)]
    train[2][4, 0] = -300  # the largest offset, to be found
    path = tmp_path / "set.npz"
    save_npz(path, {"train": train, "valid": [make_sketch(seed=9, n_points=7)], "test": []})
    assert data_cli.main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "stored dtype int16" in out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("  ")}
    assert lines["train"] == ["5", "10", "12.0", "12.0", "14"]
    assert lines["valid"] == ["1", "7", "7.0", "7.0", "7"]
    assert lines["test"] == ["0", "-", "-", "-", "-"]
    assert f"scale factor (std of train dx, dy): {scale_factor(train):.4f}" in out
    assert "largest |dx|: 300 (train sketch 2, row 4)" in out


def test_info_on_the_real_sheep(shared_data: Path, capsys) -> None:
    assert data_cli.main(["info", str(shared_data / "sketch-rnn-datasets" / "aaron_sheep.npz")]) == 0
    out = capsys.readouterr().out
    assert "stored dtype int16" in out and "largest |dx|: 476" in out
    assert any(line.split()[:2] == ["all", "8000"] and line.split()[-1] == "250" for line in out.splitlines())


def test_info_on_ndjson_reports_bad_lines(tmp_path: Path, capsys) -> None:
    path = tmp_path / "few.ndjson"
    _ndjson(path, 4, bad={3: "nope"})
    assert data_cli.main(["info", str(path)]) == 0
    captured = capsys.readouterr()
    assert "4 drawings, 1 bad lines skipped" in captured.out and "form: simplified" in captured.out
    assert "skipped few.ndjson line 3: is not valid JSON" in captured.err


def test_convert_splits_with_a_seed_and_reports_bad_lines(tmp_path: Path, capsys) -> None:
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    drawings = _ndjson(first, 30, seed=1, bad={5: "{broken", 12: '{"drawing": []}'})
    drawings += _ndjson(second, 10, seed=2)
    def convert(out: Path, seed: int) -> int:
        argv = ["convert", str(first), str(second), "--out", str(out), "--split", "0.5,0.25,0.25", "--seed", str(seed)]
        return data_cli.main(argv)

    out = tmp_path / "out.npz"
    assert convert(out, seed=3) == 0
    captured = capsys.readouterr()
    assert "read " + str(first) + ": 30 drawings, 2 bad lines skipped" in captured.out
    assert "skipped a.ndjson line 5: is not valid JSON" in captured.err
    assert "skipped a.ndjson line 12: 'drawing' must be a non-empty list" in captured.err
    assert "train 20 / valid 10 / test 10 sketches, int16, shuffled with seed 3" in captured.out

    splits = load_npz(out)
    assert [len(splits[k]) for k in ("train", "valid", "test")] == [20, 10, 10]
    written = sorted(_key(s) for k in ("train", "valid", "test") for s in splits[k])
    assert written == sorted(_key(_stroke3(d)) for d in drawings)  # every drawing exactly once, converted exactly

    def order(path: Path) -> list[bytes]:
        loaded = load_npz(path)
        return [_key(s) for k in ("train", "valid", "test") for s in loaded[k]]

    assert convert(tmp_path / "again.npz", seed=3) == 0
    assert order(tmp_path / "again.npz") == order(out)  # same seed, same split
    assert convert(tmp_path / "other.npz", seed=4) == 0
    assert order(tmp_path / "other.npz") != order(out)


def test_convert_max_len_drops_and_says_how_many(tmp_path: Path, capsys) -> None:
    path = tmp_path / "in.ndjson"
    drawings = _ndjson(path, 40)
    lengths = [len(_stroke3(d)) for d in drawings]
    out = tmp_path / "short.npz"
    assert data_cli.main(["convert", str(path), "--out", str(out), "--max-len", "20", "--split", "10,2,2"]) == 0
    text = capsys.readouterr().out
    too_long = sum(n > 20 for n in lengths)
    assert too_long > 0
    assert f"dropped {too_long} drawings longer than --max-len 20 points (kept {40 - too_long})" in text
    assert f"note: {40 - too_long - 14} drawings not used" in text
    splits = load_npz(out)
    assert [len(splits[k]) for k in ("train", "valid", "test")] == [10, 2, 2]
    assert max(len(s) for k in splits for s in splits[k]) <= 20


def test_split_specifications() -> None:
    assert data_cli.split_counts("0.9,0.05,0.05", 25) == (23, 1, 1)
    assert data_cli.split_counts("0.8,0.1,0.1", 100) == (80, 10, 10)
    assert data_cli.split_counts("70000,2500,2500", 80000) == (70000, 2500, 2500)
    assert data_cli.split_counts("1.0,0,0", 7) == (7, 0, 0)
    for bad, message in [
        ("0.9,0.1", "three values"),
        ("a,b,c", "must be numbers"),
        ("0.5,0.2,0.2", "must add up to 1"),
        ("-1,2,3", "must be >= 0"),
    ]:
        with pytest.raises(ConfigError, match=message):
            data_cli.parse_split(bad)
    with pytest.raises(ConfigError, match="asks for 10\\+5\\+5 = 20 drawings but only 12"):
        data_cli.split_counts("10,5,5", 12)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["info", "{tmp}/absent.npz"], "error: {tmp}/absent.npz: no such file"),
        (["info", "{tmp}/text.npz"], "error: {tmp}/text.npz: is not an .npz file"),
        (["convert", "{tmp}/absent.ndjson", "--out", "{tmp}/o.npz"], "error: {tmp}/absent.ndjson: no such file"),
        (["convert", "{tmp}/all_bad.ndjson", "--out", "{tmp}/o.npz"], "all_bad.ndjson: no drawings to write"),
        (["convert", "{tmp}/few.ndjson", "--out", "{tmp}/o.npz", "--split", "5,5,5"], "but only 3 are available"),
        (["convert", "{tmp}/few.ndjson", "--out", "{tmp}/o.npz", "--split", "x"], "--split needs three values"),
        (["convert", "{tmp}/few.ndjson", "--out", "{tmp}/o.npz", "--max-len", "0"], "--max-len must be at least 1"),
        (["convert", "{tmp}/few.ndjson"], "error: the following arguments are required: --out"),
        (["frobnicate"], "error: argument COMMAND: invalid choice: 'frobnicate'"),
    ],
)
def test_errors_exit_2_without_a_traceback(tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    (tmp_path / "text.npz").write_text("hello")
    (tmp_path / "all_bad.ndjson").write_text("nope\n[]\n")
    _ndjson(tmp_path / "few.ndjson", 3)
    assert data_cli.main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message.format(tmp=tmp_path) in err
    assert "Traceback" not in err
    assert not (tmp_path / "o.npz").exists()


def test_help_exits_0(capsys) -> None:
    assert data_cli.main(["--help"]) == 0
    assert "convert" in capsys.readouterr().out
