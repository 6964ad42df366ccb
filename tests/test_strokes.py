"""Stroke formats: round trips, validation errors, sketch-rnn's preprocessing and augmentations, real data."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchgen.errors import ConfigError, SketchError
from sketchgen.strokes import (
    augment_drop_points,
    augment_random_scale,
    bounds,
    center,
    clamp,
    denormalize,
    filter_by_length,
    normalize,
    polylines_to_stroke3,
    rdp,
    scale_factor,
    simplify,
    simplify_many,
    stroke3_to_polylines,
    stroke3_to_stroke5,
    stroke5_to_stroke3,
    validate_stroke3,
)

QUICK = settings(max_examples=60, deadline=None)  # per test, so other files' hypothesis settings are untouched


@st.composite
def stroke3(draw, max_points: int = 60, integer: bool = True, finished: bool = True) -> np.ndarray:
    """Random valid stroke-3 sketches: integer (npz-like) or float offsets, pen 0/1, last pen 1 when finished."""
    n = draw(st.integers(1, max_points))
    if integer:
        values = st.integers(-300, 300)
    else:
        values = st.floats(-300, 300, allow_nan=False, allow_infinity=False, width=32)
    offsets = draw(st.lists(st.tuples(values, values), min_size=n, max_size=n))
    pens = draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n))
    s = np.zeros((n, 3), dtype=np.float32)
    s[:, 0:2] = np.asarray(offsets, dtype=np.float32)
    s[:, 2] = pens
    if finished:
        s[-1, 2] = 1
    return s


def absolute(s: np.ndarray) -> np.ndarray:
    return np.cumsum(s[:, 0:2].astype(np.float64), axis=0)


def stroke_end_points(s: np.ndarray) -> np.ndarray:
    return absolute(s)[s[:, 2] == 1]


# ---------------------------------------------------------------- round trips


@QUICK
@given(stroke3(), st.integers(0, 20))
def test_stroke5_round_trip_with_padding(s, pad):
    before = s.copy()
    s5 = stroke3_to_stroke5(s, max_len=len(s) + pad)
    assert s5.shape == (len(s) + pad, 5) and s5.dtype == np.float32
    assert np.all(s5[:, 2:].sum(axis=1) == 1), "exactly one pen state per row"
    assert np.all(s5[len(s) :] == [0, 0, 0, 0, 1]), "padding rows are end-of-sketch"
    np.testing.assert_array_equal(stroke5_to_stroke3(s5), s)
    np.testing.assert_array_equal(s, before)


@QUICK
@given(stroke3(integer=False, finished=False))
def test_stroke5_to_stroke3_always_ends_with_pen_lifted(s):
    back = stroke5_to_stroke3(stroke3_to_stroke5(s))
    np.testing.assert_array_equal(back[:, 0:2], s[:, 0:2])
    np.testing.assert_array_equal(back[:-1, 2], s[:-1, 2])
    assert back[-1, 2] == 1


def test_stroke3_to_stroke5_refuses_to_cut(make_sketch):
    s = make_sketch(n_points=30)
    with pytest.raises(SketchError, match="30 points.*max_len=29"):
        stroke3_to_stroke5(s, max_len=29)


def test_stroke5_to_stroke3_stops_at_first_end_row():
    s5 = np.array(
        [[1, 2, 1, 0, 0], [3, 4, 0, 1, 0], [5, 6, 1, 0, 0], [0, 0, 0, 0, 1], [9, 9, 1, 0, 0], [0, 0, 0, 0, 1]],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(stroke5_to_stroke3(s5), [[1, 2, 0], [3, 4, 1], [5, 6, 1]])
    assert stroke5_to_stroke3(np.array([[0, 0, 0, 0, 1], [1, 1, 1, 0, 0]])).shape == (0, 3)


def test_stroke5_to_stroke3_reads_soft_pen_probabilities():
    s5 = np.array([[1, 1, 0.7, 0.2, 0.1], [2, 2, 0.2, 0.7, 0.1], [3, 3, 0.5, 0.1, 0.4], [0, 0, 0.1, 0.1, 0.8]])
    np.testing.assert_array_equal(stroke5_to_stroke3(s5), [[1, 1, 0], [2, 2, 1], [3, 3, 1]])


@QUICK
@given(stroke3())
def test_polylines_round_trip_exact_for_integer_offsets(s):
    lines = stroke3_to_polylines(s)
    assert len(lines) == int(s[:, 2].sum())
    assert sum(len(line) for line in lines) == len(s)
    np.testing.assert_array_equal(np.concatenate(lines), absolute(s))
    np.testing.assert_array_equal(polylines_to_stroke3(lines), s)


@QUICK
@given(stroke3(integer=False, finished=False), st.tuples(st.integers(-50, 50), st.integers(-50, 50)))
def test_polylines_round_trip_with_origin_and_open_last_stroke(s, origin):
    lines = stroke3_to_polylines(s, origin=origin)
    assert len(lines) == int(s[:-1, 2].sum()) + 1
    np.testing.assert_allclose(lines[0][0], s[0, 0:2] + np.asarray(origin), atol=1e-3)
    back = polylines_to_stroke3(lines, origin=origin)
    np.testing.assert_allclose(back[:, 0:2], s[:, 0:2], atol=1e-3)
    np.testing.assert_array_equal(back[:-1, 2], s[:-1, 2])
    assert back[-1, 2] == 1


@QUICK
@given(stroke3(integer=False), st.floats(0.01, 500))
def test_normalize_denormalize_round_trip(s, factor):
    before = s.copy()
    n = normalize(s, factor)
    np.testing.assert_allclose(n[:, 0:2], s[:, 0:2] / factor, rtol=1e-6)
    np.testing.assert_array_equal(n[:, 2], s[:, 2])
    np.testing.assert_allclose(denormalize(n, factor), s, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(s, before)


@pytest.mark.parametrize("factor", [0, -1.0, float("nan"), float("inf")])
def test_normalize_rejects_bad_factor(make_sketch, factor):
    with pytest.raises(ConfigError, match="scale factor"):
        normalize(make_sketch(), factor)


# ---------------------------------------------------------------- simplification


def exact_rdp_keep(points: list[tuple[int, int]], epsilon: float) -> list[bool]:
    """Textbook Ramer-Douglas-Peucker in exact rational arithmetic (first farthest point wins ties)."""

    def dist2(p, a, b):
        abx, aby = b[0] - a[0], b[1] - a[1]
        length2 = abx * abx + aby * aby
        dot = (p[0] - a[0]) * abx + (p[1] - a[1]) * aby
        t = Fraction(0) if length2 == 0 else min(max(Fraction(dot, length2), 0), 1)
        return (p[0] - a[0] - t * abx) ** 2 + (p[1] - a[1] - t * aby) ** 2

    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    todo = [(0, len(points) - 1)]
    while todo:
        s, e = todo.pop()
        best, best_i = Fraction(-1), -1
        for i in range(s + 1, e):
            d = dist2(points[i], points[s], points[e])
            if d > best:
                best, best_i = d, i
        if best_i >= 0 and best > Fraction(epsilon) ** 2:
            keep[best_i] = True
            todo += [(s, best_i), (best_i, e)]
    return keep


@QUICK
@given(stroke3())
def test_simplify_with_epsilon_zero_keeps_every_point(s):
    np.testing.assert_array_equal(simplify(s, 0.0), s)
    for line in stroke3_to_polylines(s):
        np.testing.assert_array_equal(rdp(line, 0.0), line)


@QUICK
@given(stroke3(max_points=40), st.sampled_from([0.5, 1.0, 3.0, 10.0]))
def test_simplify_matches_exact_rdp_and_keeps_pen_structure(s, epsilon):
    out = simplify(s, epsilon)
    assert len(out) <= len(s)
    np.testing.assert_array_equal(stroke_end_points(out), stroke_end_points(s))
    expected = [
        np.asarray(line)[exact_rdp_keep([(int(x), int(y)) for x, y in line], epsilon)]
        for line in stroke3_to_polylines(s)
    ]
    np.testing.assert_array_equal(np.concatenate(stroke3_to_polylines(out)), np.concatenate(expected))


def test_rdp_drops_collinear_points_and_keeps_corners():
    line = np.array([[0, 0], [1, 0], [2, 0], [3, 0], [3, 1], [3, 2], [3, 3]], dtype=float)
    np.testing.assert_array_equal(rdp(line, 0.1), [[0, 0], [3, 0], [3, 3]])
    np.testing.assert_array_equal(rdp(line, 10), [[0, 0], [3, 3]])
    with pytest.raises(ConfigError, match="epsilon"):
        rdp(line, -1)
    corner = np.array([[0, 0], [1, 1], [2, 0]], dtype=float)
    assert len(rdp(corner, 1.0)) == 2, "a point exactly epsilon away is dropped"
    assert len(rdp(corner, 0.999)) == 3, "a point farther than epsilon is kept"
    spike = np.array([[0, 0], [10, 0], [5, 0]], dtype=float)  # goes back along the line: distance to the segment
    assert len(rdp(spike, 1.0)) == 3


@QUICK
@given(stroke3(integer=False, finished=False), st.integers(0, 2**32 - 1))
def test_no_function_mutates_its_input(s, seed):
    before = s.copy()
    stroke3_to_stroke5(s), stroke3_to_polylines(s), bounds(s), center(s), normalize(s, 3.0), denormalize(s, 3.0)
    clamp(s, 5.0), simplify(s, 2.0), simplify_many([s], 2.0), validate_stroke3(s)
    scale_factor([s, s + [1, 0, 0]])
    augment_random_scale(s, seed), augment_drop_points(s, seed, 0.5), filter_by_length([s], 2, 3)
    np.testing.assert_array_equal(s, before)


def test_simplify_many_equals_simplify_one_by_one(make_sketch):
    sketches = [make_sketch(seed, n_points=5 + seed * 7, n_strokes=1 + seed % 4) for seed in range(12)]
    sketches.append(np.array([[4, 5, 1]], dtype=np.float32))  # a one-point sketch
    together = simplify_many(sketches, 2.0)
    assert len(together) == len(sketches)
    for one, many in zip(sketches, together):
        np.testing.assert_array_equal(simplify(one, 2.0), many)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (np.array([[1, 2, 0], [np.nan, 1, 1]]), "NaN"),
        (np.array([[1, 2, 0], [3, np.inf, 1]]), "infinite"),
        (np.array([[1, 2, 0], [3, -np.inf, 1]]), "infinite"),
        (np.array([[1, 2, 0], [3, 4, 2]]), "pen values must be 0 or 1, found 2 at row 1"),
        (np.array([[1, 2, 0.5]]), "pen values must be 0 or 1"),
        (np.array([[1, 2, -1]]), "pen values must be 0 or 1"),
        (np.array([1, 2, 1]), r"shape \(3,\)"),
        (np.zeros((4, 2)), r"shape \(4, 2\)"),
        (np.zeros((4, 5)), r"shape \(4, 5\)"),
        (np.zeros((2, 4, 3)), r"shape \(2, 4, 3\)"),
        (np.zeros((0, 3)), "empty"),
        ([], "shape"),
        (np.array([["a", "b", "c"]]), "numbers"),
        (np.array([[1, 2, None]], dtype=object), "numbers"),
        ([[1, 2, 0], [1, 2]], "rectangular"),
        (np.array([[1e39, 0, 1]]), "too large"),
        (np.array([[1 + 2j, 0, 1]]), "numbers"),
    ],
)
def test_validate_names_the_sketch_and_the_problem(data, problem):
    with pytest.raises(SketchError, match=problem) as info:
        validate_stroke3(data, name="cat.npz train[3]")
    assert str(info.value).startswith("cat.npz train[3]: ")


def test_every_function_rejects_malformed_input():
    bad = np.array([[1, 2, 0], [3, 4, 7]])
    for call in (
        lambda: stroke3_to_stroke5(bad),
        lambda: stroke3_to_polylines(bad),
        lambda: bounds(bad),
        lambda: center(bad),
        lambda: normalize(bad, 2.0),
        lambda: clamp(bad, 10),
        lambda: simplify(bad, 1.0),
        lambda: augment_random_scale(bad, np.random.default_rng(0)),
        lambda: augment_drop_points(bad, np.random.default_rng(0)),
        lambda: scale_factor([np.ones((3, 3)), bad]),
    ):
        with pytest.raises(SketchError, match="pen values"):
            call()
    with pytest.raises(SketchError, match="sketch 1: .*NaN"):
        scale_factor([np.ones((3, 3)), np.array([[np.nan, 0, 1]])])
    with pytest.raises(SketchError, match="no sketches"):
        scale_factor([])
    with pytest.raises(SketchError, match="polyline 1: has no points"):
        polylines_to_stroke3([[[0, 0]], np.zeros((0, 2))])
    with pytest.raises(SketchError, match="no strokes"):
        polylines_to_stroke3([])
    with pytest.raises(SketchError, match="stroke-5"):
        stroke5_to_stroke3(np.zeros((3, 3)))


def test_validate_accepts_npz_dtypes_and_returns_a_float32_copy():
    for dtype in (np.int16, np.int64, np.float64, np.float32, np.uint8):
        s = np.array([[1, 2, 0], [3, 4, 1]], dtype=dtype)
        out = validate_stroke3(s)
        assert out.dtype == np.float32 and out is not s
        out[0, 0] = 99
        assert s[0, 0] == 1
    assert validate_stroke3([[1, 2, 1]]).shape == (1, 3)
    assert validate_stroke3(np.array([[1, 2, 0]], dtype=object)).dtype == np.float32
    assert validate_stroke3(np.zeros((0, 3)), allow_empty=True).shape == (0, 3)


def test_one_point_sketch_is_a_dot_that_every_function_handles():
    dot = np.array([[5, -3, 1]], dtype=np.float32)
    np.testing.assert_array_equal(stroke5_to_stroke3(stroke3_to_stroke5(dot, 4)), dot)
    lines = stroke3_to_polylines(dot)
    assert len(lines) == 1 and lines[0].tolist() == [[5, -3]]
    assert bounds(dot) == (5, 5, -3, -3)
    np.testing.assert_array_equal(center(dot), [[0, 0, 1]])
    np.testing.assert_array_equal(simplify(dot, 2.0), dot)
    np.testing.assert_array_equal(augment_drop_points(dot, np.random.default_rng(0), 1.0), dot)
    assert scale_factor([dot]) == pytest.approx(4.0)  # std of {5, -3}


# ---------------------------------------------------------------- geometry and preprocessing


@QUICK
@given(stroke3(integer=False))
def test_bounds_and_center(s):
    pts = absolute(s)
    min_x, max_x, min_y, max_y = bounds(s)
    assert (min_x, max_x, min_y, max_y) == pytest.approx(
        (pts[:, 0].min(), pts[:, 0].max(), pts[:, 1].min(), pts[:, 1].max())
    )
    c = center(s)
    np.testing.assert_array_equal(c[1:], s[1:])
    cx0, cx1, cy0, cy1 = bounds(c)
    scale = max(1.0, abs(min_x), abs(max_x), abs(min_y), abs(max_y))
    assert abs(cx0 + cx1) / 2 < 1e-5 * scale and abs(cy0 + cy1) / 2 < 1e-5 * scale
    assert cx1 - cx0 == pytest.approx(max_x - min_x, rel=1e-5, abs=1e-3)


@QUICK
@given(stroke3(), st.floats(1, 200))
def test_clamp_limits_offsets_and_keeps_small_ones(s, limit):
    out = clamp(s, limit)
    assert np.all(np.abs(out[:, 0:2]) <= np.float32(limit))
    small = np.abs(s[:, 0:2]) <= limit
    np.testing.assert_array_equal(out[:, 0:2][small], s[:, 0:2][small])
    np.testing.assert_array_equal(out[:, 2], s[:, 2])


def test_scale_factor_is_the_std_of_all_offsets(make_sketch):
    sketches = [make_sketch(seed, n_points=10 + seed) for seed in range(20)]
    pooled = np.concatenate([s[:, 0:2].ravel() for s in sketches]).astype(np.float64)
    assert scale_factor(sketches) == pytest.approx(np.std(pooled), rel=1e-12)
    normalized = np.concatenate([normalize(s, scale_factor(sketches))[:, 0:2].ravel() for s in sketches])
    assert np.std(normalized) == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(SketchError, match="zero"):
        scale_factor([np.array([[0, 0, 1]])])


def test_filter_by_length_counts_what_it_drops(make_sketch):
    sketches = [make_sketch(n, n_points=n, n_strokes=1) for n in (1, 5, 10, 20, 30)]
    kept, dropped = filter_by_length(sketches, min_len=5, max_len=20)
    assert [len(s) for s in kept] == [5, 10, 20] and dropped == 2
    kept, dropped = filter_by_length(sketches)
    assert len(kept) == 5 and dropped == 0


# ---------------------------------------------------------------- augmentations


def magenta_augment_strokes(strokes: np.ndarray, uniforms: np.ndarray, prob: float) -> np.ndarray:
    """Loop port of sketch-rnn's augment_strokes, fed the same uniform numbers, as the reference."""
    result: list[list[float]] = []
    prev = [0.0, 0.0, 1.0]
    count = 0
    for i, row in enumerate(strokes.tolist()):
        count = 0 if row[2] == 1 or prev[2] == 1 else count + 1
        if row[2] == 0 and prev[2] == 0 and count > 2 and uniforms[i] < prob:
            result[-1][0] += row[0]
            result[-1][1] += row[1]
        else:
            prev = list(row)
            result.append(prev)
    return np.array(result, dtype=np.float32)


@QUICK
@given(stroke3(), st.sampled_from([0.1, 0.5, 1.0]), st.integers(0, 2**32 - 1))
def test_drop_points_matches_sketch_rnn_and_keeps_pen_structure(s, prob, seed):
    before = s.copy()
    out = augment_drop_points(s, np.random.default_rng(seed), prob)
    uniforms = np.random.default_rng(seed).random(len(s))
    np.testing.assert_array_equal(out, magenta_augment_strokes(s, uniforms, prob))
    assert len(out) <= len(s)
    assert out[:, 2].sum() == s[:, 2].sum(), "no stroke end is dropped"
    np.testing.assert_array_equal(stroke_end_points(out), stroke_end_points(s))
    np.testing.assert_array_equal(s, before)


def test_drop_points_keeps_the_first_three_points_of_each_stroke():
    stroke = np.array([[1, 0, 0]] * 9 + [[1, 0, 1]], dtype=np.float32)
    out = augment_drop_points(np.concatenate([stroke, stroke]), np.random.default_rng(1), prob=1.0)
    # per stroke: points 0, 1, 2 kept, the 6 droppable ones merged into point 2, the end kept
    np.testing.assert_array_equal(out, [[1, 0, 0], [1, 0, 0], [7, 0, 0], [1, 0, 1]] * 2)
    assert len(augment_drop_points(stroke, np.random.default_rng(1), prob=0.0)) == len(stroke)


@QUICK
@given(stroke3(integer=False), st.floats(0, 0.5), st.integers(0, 2**32 - 1))
def test_random_scale_is_one_factor_per_axis_within_range(s, amount, seed):
    out = augment_random_scale(s, np.random.default_rng(seed), amount)
    np.testing.assert_array_equal(out[:, 2], s[:, 2])
    g = np.random.default_rng(seed)
    fx, fy = (g.random() - 0.5) * 2 * amount + 1, (g.random() - 0.5) * 2 * amount + 1
    assert 1 - amount <= fx <= 1 + amount and 1 - amount <= fy <= 1 + amount
    np.testing.assert_allclose(out[:, 0], s[:, 0] * np.float32(fx), rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], s[:, 1] * np.float32(fy), rtol=1e-6)


def test_augmentations_reject_bad_amounts(make_sketch):
    s = make_sketch()
    with pytest.raises(ConfigError):
        augment_random_scale(s, 0, amount=1.5)
    with pytest.raises(ConfigError):
        augment_drop_points(s, 0, prob=-0.1)
    with pytest.raises(ConfigError):
        clamp(s, 0)


def test_augmentations_are_reproducible_from_a_seed(make_sketch):
    s = make_sketch(n_points=80)
    np.testing.assert_array_equal(augment_drop_points(s, 7, 0.3), augment_drop_points(s, 7, 0.3))
    np.testing.assert_array_equal(augment_random_scale(s, 7), augment_random_scale(s, 7))


# ---------------------------------------------------------------- real data


def test_real_aaron_sheep_round_trips_and_scale_factor(shared_data: Path):
    from sketchgen.datafiles import load_npz

    splits = load_npz(shared_data / "sketch-rnn-datasets" / "aaron_sheep.npz")
    train = splits["train"]
    pooled = np.concatenate([s[:, 0:2].ravel() for s in train]).astype(np.float64)
    factor = scale_factor(train)
    assert factor == pytest.approx(np.std(pooled), rel=1e-12)
    assert 5 < factor < 50  # pixel offsets of hand-drawn sheep, RDP-simplified
    longest = max(len(s) for split in splits.values() for s in split)
    failures = [
        (name, i)
        for name, split in splits.items()
        for i, s in enumerate(split)
        if not (
            np.array_equal(stroke5_to_stroke3(stroke3_to_stroke5(s, longest)), s)
            and np.array_equal(polylines_to_stroke3(stroke3_to_polylines(s)), s)
            and np.abs(denormalize(normalize(s, factor), factor) - s).max() < 1e-3
        )
    ]
    assert failures == []
    simplified = simplify_many(train, 2.0)
    assert sum(len(s) for s in simplified) < sum(len(s) for s in train)
    for before, after in zip(train[:500], simplified):
        np.testing.assert_array_equal(stroke_end_points(after), stroke_end_points(before))


def test_real_quickdraw_npz_matches_its_source_ndjson(shared_data: Path):
    from sketchgen.datafiles import load_npz

    folder = shared_data / "quickdraw-mini"
    for npz in sorted(folder.glob("*.mini25.npz")):
        category = npz.name.split(".")[0]
        source = folder / "source" / f"{category}.ndjson"
        if not source.exists():
            continue
        splits = load_npz(npz)
        sketches = splits["train"] + splits["valid"] + splits["test"]
        drawings = [json.loads(line)["drawing"] for line in source.read_text().splitlines() if line.strip()]
        for sketch, drawing in zip(sketches, drawings):
            lines = stroke3_to_polylines(sketch)
            assert [line.T.astype(int).tolist() for line in lines] == [[xs, ys] for xs, ys in drawing]
