"""QuickDraw ndjson -> stroke-3: simplified drawings convert losslessly (proved against the real files), raw drawings
get Google's preprocessing, and a bad line is reported by number instead of stopping the load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchgen.datafiles import load_npz
from sketchgen.errors import DataFileError, SketchError
from sketchgen.quickdraw import load_ndjson, parse_ndjson_line, simplify_raw_drawing
from sketchgen.strokes import stroke3_to_polylines

CATEGORIES = ["cat", "face", "ladder", "leaf", "pig", "sun"]


def _line(drawing, **fields) -> str:
    record = {"word": "cat", "countrycode": "DE", "recognized": True, "key_id": "42", **fields, "drawing": drawing}
    return json.dumps(record)


def _points_of(s3: np.ndarray) -> list[list[tuple[float, float]]]:
    return [[tuple(p) for p in line] for line in stroke3_to_polylines(s3)]


# ------------------------------------------------------------------------------------------------------ real files


@pytest.mark.parametrize("category", CATEGORIES)
def test_conversion_matches_the_shared_npz(shared_data: Path, category: str) -> None:
    sketches, problems = load_ndjson(shared_data / "quickdraw-mini" / "source" / f"{category}.ndjson")
    assert problems == [] and len(sketches) == 25
    npz = load_npz(shared_data / "quickdraw-mini" / f"{category}.mini25.npz")
    expected = npz["train"] + npz["valid"] + npz["test"]
    assert [len(npz[k]) for k in ("train", "valid", "test")] == [15, 5, 5]
    for ours, theirs in zip(sketches, expected):
        np.testing.assert_array_equal(ours.strokes, theirs)


@pytest.mark.parametrize("category", CATEGORIES)
def test_running_sum_gives_back_every_ndjson_point(shared_data: Path, category: str) -> None:
    path = shared_data / "quickdraw-mini" / "source" / f"{category}.ndjson"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    sketches, _ = load_ndjson(path)
    for record, sketch in zip(records, sketches, strict=True):
        want = [list(zip(xs, ys)) for xs, ys in record["drawing"]]
        assert _points_of(sketch.strokes) == want
        assert sketch.metadata["word"] == category
        for key in ("countrycode", "recognized", "key_id", "timestamp"):
            assert sketch.metadata[key] == record[key]
        assert sketch.metadata["quickdraw_form"] == "simplified"


# ------------------------------------------------------------------------------------------------ simplified, property

_stroke = st.integers(min_value=1, max_value=15).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 255), min_size=n, max_size=n), st.lists(st.integers(0, 255), min_size=n, max_size=n)
    )
)


@settings(max_examples=150, deadline=None)
@given(drawing=st.lists(_stroke, min_size=1, max_size=8))
def test_simplified_drawing_round_trips_through_stroke3(drawing) -> None:
    sketch = parse_ndjson_line(_line([[list(xs), list(ys)] for xs, ys in drawing]))
    s3 = sketch.strokes
    assert len(s3) == sum(len(xs) for xs, _ in drawing)
    np.testing.assert_array_equal(s3[0, :2], [drawing[0][0][0], drawing[0][1][0]])  # first point measured from 0,0
    ends = np.cumsum([len(xs) for xs, _ in drawing]) - 1
    np.testing.assert_array_equal(np.flatnonzero(s3[:, 2]), ends)  # pen lifted exactly on each stroke's last point
    absolute = np.cumsum(s3[:, :2], axis=0)
    want = np.concatenate([np.stack([xs, ys], axis=1) for xs, ys in drawing])
    np.testing.assert_array_equal(absolute, want)


def test_metadata_keeps_the_ndjson_fields() -> None:
    sketch = parse_ndjson_line(_line([[[1, 2], [3, 4]]], timestamp="2017-03-02 23:25:10 UTC", recognized=False))
    assert sketch.metadata == {
        "word": "cat", "countrycode": "DE", "recognized": False, "key_id": "42",
        "timestamp": "2017-03-02 23:25:10 UTC", "quickdraw_form": "simplified",
    }


# --------------------------------------------------------------------------------------------------------------- raw


def _raw(strokes: list[np.ndarray]) -> list[list[list[float]]]:
    t = 0
    out = []
    for stroke in strokes:
        times = list(range(t, t + 16 * len(stroke), 16))
        t = times[-1] + 200
        out.append([stroke[:, 0].tolist(), stroke[:, 1].tolist(), times])
    return out


def test_raw_straight_lines_become_their_corners() -> None:
    # an L drawn with many points each, in screen coordinates far from the origin and 3x too large
    first = np.stack([np.linspace(400, 1165, 60), np.full(60, 300.0)], axis=1)
    second = np.stack([np.full(40, 1165.0), np.linspace(300, 681, 40)], axis=1)
    sketch = parse_ndjson_line(_line(_raw([first, second])))
    assert sketch.metadata["quickdraw_form"] == "raw"
    assert _points_of(sketch.strokes) == [[(0.0, 0.0), (255.0, 0.0)], [(255.0, 0.0), (255.0, 127.0)]]


def test_raw_curve_is_aligned_scaled_resampled_and_simplified() -> None:
    angle = np.linspace(0, 2 * np.pi, 500)
    circle = np.stack([700 + 90 * np.cos(angle), 300 + 60 * np.sin(angle)], axis=1)  # an ellipse, 180 x 120 px
    sketch = parse_ndjson_line(_line(_raw([circle])), line_no=3)
    points = np.cumsum(sketch.strokes[:, :2], axis=0)
    assert np.array_equal(points, np.round(points))  # whole pixels, like Google's simplified files
    # aligned to the top-left and scaled uniformly (120 * 255 / 180 = 170); the resampled points need not hit the
    # extremes of the curve exactly, so allow a pixel
    assert 0 <= points[:, 0].min() <= 1 and 0 <= points[:, 1].min() <= 1
    assert 254 <= points[:, 0].max() <= 255 and 169 <= points[:, 1].max() <= 170
    assert 10 < len(points) < 60  # RDP with epsilon 2 keeps a few dozen of the ~700 resampled points
    # every point of the scaled curve lies within epsilon 2 (+ rounding) of the simplified polyline
    scaled = (circle - circle.min(axis=0)) * (255.0 / 180.0)
    a, b = points[:-1], points[1:]
    ab = b - a
    t = np.clip(np.einsum("kij,ij->ki", scaled[:, None] - a, ab) / np.maximum((ab**2).sum(1), 1e-12), 0, 1)
    distance = np.linalg.norm(scaled[:, None] - (a + t[..., None] * ab), axis=2).min(axis=1)
    assert distance.max() <= 2.0 + np.sqrt(0.5) + 1e-9


def test_raw_single_point_and_resampling_spacing() -> None:
    dot = simplify_raw_drawing([np.array([[50.0, 80.0]])])
    assert [d.tolist() for d in dot] == [[[0.0, 0.0]]]
    sketch = parse_ndjson_line(_line([[[5, 5], [7, 7], [0, 10]]]))
    np.testing.assert_array_equal(sketch.strokes, [[0, 0, 1]])  # two equal points (raw: x, y, t) are one dot


# --------------------------------------------------------------------------------------------------------- bad lines

_BAD_LINES = {
    2: ("{not json", "is not valid JSON (column 2"),
    4: ("[1, 2, 3]", "is a JSON list, expected an object with a 'drawing'"),
    5: ('{"word": "cat"}', "has no 'drawing' (keys: word)"),
    6: (_line([]), "'drawing' must be a non-empty list of strokes"),
    7: (_line([[[1, 2, 3], [1, 2]]]), "stroke 0 has lists of different lengths (3/2)"),
    8: (_line([[[1, "a"], [1, 2]]]), "stroke 0 x holds something other than numbers"),
    9: (_line([[[1, 2], [1, 2]], [[1], [2], [3]]]), "each stroke must be [x list, y list] (simplified) or"),
    10: (_line([[[], []]]), "stroke 0 x must be a non-empty list of numbers"),
    11: (_line([[[1, 2], [1, 2], [0, 5, 9]]]), "stroke 0 has lists of different lengths (2/2/3)"),
}


def test_load_ndjson_skips_and_reports_bad_lines(tmp_path: Path) -> None:
    lines = {1: _line([[[1, 2], [3, 4]]]), 3: _line([[[9], [9]]]), 12: _line([[[0, 9], [0, 9]]])}
    lines.update({n: text for n, (text, _) in _BAD_LINES.items()})
    path = tmp_path / "mixed.ndjson"
    body = "\n".join(lines[n] for n in sorted(lines)).encode()
    body = body.replace(_BAD_LINES[2][0].encode(), b"{not json\xff", 1)  # and invalid UTF-8 on line 2
    path.write_bytes(body + b"\n\n")  # a trailing blank line is not a problem
    sketches, problems = load_ndjson(path)
    assert [s.metadata["line"] for s in sketches] == [1, 3, 12]
    assert all(s.metadata["source"] == "mixed.ndjson" for s in sketches)
    assert [n for n, _ in problems] == [2, 4, 5, 6, 7, 8, 9, 10, 11]
    for line_no, problem in problems:
        expected = "is not UTF-8 text" if line_no == 2 else _BAD_LINES[line_no][1]
        assert problem.startswith(expected), (line_no, problem)


def test_parse_ndjson_line_names_the_line() -> None:
    with pytest.raises(SketchError, match=r"^line 7: is not valid JSON"):
        parse_ndjson_line("{oops", line_no=7)
    with pytest.raises(SketchError, match=r"^ndjson line: has no 'drawing'"):
        parse_ndjson_line("{}")
    assert len(parse_ndjson_line(_line([[[1, 2], [3, 4]]]).encode())) == 2  # bytes are fine too


def test_load_ndjson_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"absent\.ndjson: no such file"):
        load_ndjson(tmp_path / "absent.ndjson")
    with pytest.raises(DataFileError, match="is a folder"):
        load_ndjson(tmp_path)
