"""Tiny sketch-rnn models for the export and engine tests (enc 16, dec 32, z 8, M 3): build, train briefly, export.

Also holds the test that the export's L_R tool (export/precision.py, numpy over the ONNX graphs) computes exactly
training.objective's reconstruction loss, since the int8 decision rests on it.
"""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from conftest import SHARED_DATA, random_stroke3  # noqa: E402
from sketchgen.strokes import normalize, scale_factor  # noqa: E402
from sketchgen.config import HParams  # noqa: E402
from training.model import SketchRNN  # noqa: E402

TINY = dict(enc_rnn_size=16, dec_rnn_size=32, z_size=8, num_mixture=3, max_seq_len=40, batch_size=16,
            use_recurrent_dropout=False)


def tiny_hparams(**overrides) -> HParams:
    return HParams.from_dict({**TINY, **overrides})


def sketch_set(seed: int, count: int, max_len: int = 40) -> list[np.ndarray]:
    """Pixel stroke-3 sketches: real sheep when the shared data is here (short ones), else random walks."""
    path = SHARED_DATA / "sketch-rnn-datasets" / "aaron_sheep.npz"
    if path.is_file():
        from sketchgen.datafiles import load_npz

        split = "train" if seed % 2 == 0 else "test"
        sketches = [s for s in load_npz(path)[split] if len(s) <= max_len]
        if len(sketches) >= count:
            return sketches[:count]
    rng = np.random.default_rng(seed)
    return [random_stroke3(rng, n_points=int(rng.integers(8, max_len + 1)), n_strokes=3) for _ in range(count)]


def batch5(sketches: list[np.ndarray], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised stroke-3 -> [B, max_len + 1, 5] with the start token, and lengths."""
    from sketchgen.strokes import stroke3_to_stroke5

    body = np.stack([stroke3_to_stroke5(s, max_len) for s in sketches])
    start = np.tile(np.array([0, 0, 1, 0, 0], np.float32), (len(sketches), 1, 1))
    return np.concatenate([start, body], axis=1), np.array([len(s) for s in sketches], np.int32)


def train_briefly(model: SketchRNN, sketches: list[np.ndarray], steps: int = 25, seed: int = 0) -> list[float]:
    """A few Adam steps with training.objective's loss (KL weight 0.5): enough to move every weight."""
    import keras

    from training.objective import compute_losses

    hp = model.hp
    optimizer = keras.optimizers.Adam(learning_rate=0.01)
    rng = np.random.default_rng(seed)

    @tf.function(reduce_retracing=True)
    def step(strokes, lengths):
        with tf.GradientTape() as tape:
            loss = compute_losses(strokes, model((strokes, lengths), training=True), hp, 0.5)["loss"]
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply([tf.clip_by_value(g, -1.0, 1.0) for g in grads], model.trainable_variables)
        return loss

    losses = []
    for _ in range(steps):
        chosen = [sketches[i] for i in rng.choice(len(sketches), size=min(hp.batch_size, len(sketches)),
                                                  replace=False)]
        strokes, lengths = batch5(chosen, hp.max_seq_len)
        losses.append(float(step(tf.constant(strokes), tf.constant(lengths))))
    return losses


class TinySetup:
    """A briefly trained tiny model, its data (pixel and normalised) and its scale factor."""

    def __init__(self, seed: int = 0, **overrides):
        self.hp = tiny_hparams(seed=seed, **overrides)
        self.train_pixels = sketch_set(seed * 2, 64, self.hp.max_seq_len)
        self.test_pixels = sketch_set(seed * 2 + 1, 24, self.hp.max_seq_len)
        self.scale = scale_factor(self.train_pixels)
        self.train = [normalize(s, self.scale) for s in self.train_pixels]
        self.test = [normalize(s, self.scale) for s in self.test_pixels]
        import keras

        keras.utils.set_random_seed(seed)  # the LSTM kernels' initialisers have no seed of their own
        self.model = SketchRNN(self.hp)
        self.losses = train_briefly(self.model, self.train, seed=seed)

    def export(self, out: Path, **kwargs) -> Path:
        from export.onnx_export import export_model

        kwargs.setdefault("real_sketches", self.test)
        return export_model(self.model, out, scale_factor=self.scale, **kwargs)


# -- the L_R tool --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def setup() -> TinySetup:
    return TinySetup(seed=3)


def test_brief_training_moves_the_model(setup: TinySetup) -> None:
    assert np.mean(setup.losses[-5:]) < np.mean(setup.losses[:5])


def test_onnx_reconstruction_loss_equals_the_training_objective(setup: TinySetup, tmp_path: Path) -> None:
    """export/precision.py's numpy L_R over the exported graphs == training.objective on the same z."""
    from export.parity import session
    from export.precision import reconstruction_loss
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
