"""The tiny models of the export and engine tests (conftest.TinySetup) train, and the export's L_R tool
(sketchgen/precision.py, numpy over the ONNX graphs) computes exactly training.objective's reconstruction loss, since
the int8 decision rests on it.
"""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from conftest import TinySetup, batch5


# -- the L_R tool --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def setup() -> TinySetup:
    return TinySetup(seed=3)


def test_brief_training_moves_the_model(setup: TinySetup) -> None:
    assert np.mean(setup.losses[-5:]) < np.mean(setup.losses[:5])


def test_onnx_reconstruction_loss_equals_the_training_objective(setup: TinySetup, tmp_path: Path) -> None:
    """sketchgen/precision.py's numpy L_R over the exported graphs == training.objective on the same z."""
    from export.parity import session
    from sketchgen.precision import reconstruction_loss
    from export.model_weights import decoder_weights
    from sketchgen.graphs import build_step
    from training.model import split_mixture
    from training.objective import reconstruction_loss as tf_reconstruction_loss

    folder = setup.export(tmp_path / "tiny", int8=False)
    import onnxruntime as ort

    sessions = {name: ort.InferenceSession(str(folder / f"{name}.onnx"), providers=["CPUExecutionProvider"])
                for name in ("encoder", "decoder_init", "decoder_step")}
    sketches = setup.test[:10]
    max_len = setup.hp.max_seq_len
    got = reconstruction_loss(sessions, sketches, max_len, conditional=True, seed=5)
    # the same z draws in TensorFlow
    strokes, lengths = batch5(sketches, max_len)
    mu, logvar = sessions["encoder"].run(["mu", "logvar"], {"strokes": strokes[:, 1:], "lengths": lengths})
    eps = np.random.default_rng(5).standard_normal(mu.shape).astype(np.float32)
    z = mu + np.exp(logvar / 2.0) * eps
    raw = setup.model.decode_sequence(strokes[:, :-1], z)
    per_batch, _, _ = tf_reconstruction_loss(strokes[:, 1:], split_mixture(raw, setup.hp.num_mixture), max_len)
    assert got == pytest.approx(float(per_batch), abs=1e-4)
    # the fp32 step built from the weights (the int8 graph's fp32 twin) gives the same number
    twin = session(build_step(decoder_weights(setup.model), "fp32"))
    assert reconstruction_loss({**sessions, "decoder_step": twin}, sketches, max_len, True, seed=5) == \
        pytest.approx(got, abs=1e-5)
