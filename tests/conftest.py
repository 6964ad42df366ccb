"""Fixtures shared by every test file: where the real data lives, and small random sketches to test with."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real data folder (../shared/data); tests that need it are skipped where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA


def random_stroke3(
    rng: np.random.Generator,
    n_points: int = 40,
    n_strokes: int = 3,
    step: float = 8.0,
    integer: bool = True,
) -> np.ndarray:
    """A valid stroke-3 sketch: ``n_strokes`` smooth random-walk strokes, ``n_points`` rows, last row pen 1.

    Integer offsets (like the npz files) by default so round trips can be compared exactly.
    """
    n_strokes = max(1, min(n_strokes, n_points))
    heading = np.cumsum(rng.normal(0.0, 0.4, n_points))
    lengths = step * (0.5 + rng.random(n_points))
    offsets = np.stack([np.cos(heading) * lengths, np.sin(heading) * lengths], axis=1)
    if integer:
        offsets = np.round(offsets)
    ends = np.sort(rng.choice(n_points - 1, size=n_strokes - 1, replace=False)) if n_strokes > 1 else []
    sketch = np.zeros((n_points, 3), dtype=np.float32)
    sketch[:, 0:2] = offsets
    sketch[ends, 2] = 1.0
    sketch[-1, 2] = 1.0
    return sketch


@pytest.fixture
def make_sketch() -> Callable[..., np.ndarray]:
    """Factory: ``make_sketch(seed=0, n_points=40, n_strokes=3, step=8.0, integer=True)`` -> stroke-3 float32."""

    def make(seed: int = 0, **kwargs: object) -> np.ndarray:
        return random_stroke3(np.random.default_rng(seed), **kwargs)  # type: ignore[arg-type]

    return make


def card_data(conditional: bool = True, **fields: object) -> dict:
    """A minimal valid model.json as a dict (the sizes of the tiny test models), with ``fields`` replaced.

    Folders built from it hold no graphs: for what reads cards (the picker, the gallery), not for loading."""
    from sketchgen.config import HParams
    from sketchgen.model_folder import build_card, required_files

    config = HParams(enc_rnn_size=16, dec_rnn_size=32, z_size=8, num_mixture=3, max_seq_len=40,
                     conditional=conditional)
    files = {name: {"sha256": "0" * 64, "bytes": 0} for name in required_files(conditional)}
    card = build_card(name="tiny", config=config, scale_factor=10.0, max_seq_len=40, files=files)
    card.update(fields)
    return card
