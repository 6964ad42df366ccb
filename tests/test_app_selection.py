"""The app's suggestions: several attempts each only for a model whose continuations may loop on (the shipped sheep),
one each for a model whose measured continuations all end (the shipped kanji); real models, real ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.document import MODEL, strokes_from_stroke3, strokes_to_stroke3
from desktop.inference import load, stroke3_at_origin
from desktop.model_catalog import SHIPPED_MODELS_DIR
from sketchgen.engine.selection import attempts_for, continuations_run_on, prefer_finished


@pytest.mark.parametrize("name, extra", [("sheep", True), ("kanji", False)])
def test_suggestions_draw_extra_attempts_only_where_continuations_run_on(name, extra):
    folder = SHIPPED_MODELS_DIR / name
    if not (folder / "model.json").is_file():
        pytest.skip(f"{name} is not shipped")
    loaded = load(folder)
    assert continuations_run_on(loaded.card.raw.get("quality")) is extra  # as its card's measurements say
    prefix = np.array([[0, 0, 0], [12, 3, 0], [10, -4, 0], [-3, 15, 1], [8, 2, 0], [6, 6, 1]], np.float32)
    strokes = strokes_from_stroke3(prefix, MODEL)
    s3 = stroke3_at_origin(strokes_to_stroke3(strokes))
    drawn = loaded.model.continue_(s3, n=attempts_for(3) if extra else 3, temperature=0.5, seed=4)
    expected = prefer_finished(drawn, 3, loaded.model.max_seq_len)
    shown = loaded.continuations(strokes, 3, 0.5, seed=4)
    end = strokes[-1].points[-1]
    assert len(shown) == 3
    for got, want in zip(shown, expected):
        want_strokes = loaded._continuation_strokes(end, np.asarray(want, np.float32))
        assert len(got) == len(want_strokes)
        assert all(np.allclose(a.points, b.points, atol=1e-4) for a, b in zip(got, want_strokes))
