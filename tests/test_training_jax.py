"""The JAX train step is the TensorFlow train step: one update from the same weights and batch gives the same losses
and the same new weights, and the JAX step goes on training.

jax is in the ``test`` extra; where it is missing this is skipped, or it runs in the Python named by
SKETCHGEN_JAX_PYTHON (e.g. a virtualenv with jax and keras but no TensorFlow). The JAX side runs in a subprocess
because Keras picks its backend once per process.

The two backends draw different random numbers, so the compared update has no recurrent dropout and a posterior
so narrow (sigma = e^-30) that z is mu to float32 precision whatever noise is drawn. That makes L_KL about 30, far
above its floor: the KL term's gradients reach the encoder in both steps. Tolerances: losses to 1e-5 relative; new
weights to 1e-5 absolute, 1e-3 of the first Adam update, which moves each weight by about the learning rate (0.01
here) whatever its gradient's size: a weight moved the other way or by another amount fails. (Where a gradient is
near Adam's epsilon, 1e-8, the backends' float rounding alone moves the update by a few 1e-6.)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import JAX_HP, JAX_METRICS, JAX_NARROW_LOGVAR, JAX_PYTHON, jax_update, random_stroke3

from sketchgen.config import HParams
from training.dataset import SketchData, make_batch
from training.trainer import TrainOptions, Trainer

pytestmark = pytest.mark.skipif(JAX_PYTHON is None, reason="jax is not installed (set SKETCHGEN_JAX_PYTHON to a "
                                                           "Python that has jax and keras)")
TRAIN_STEPS = 15



def _trainer(tmp_path: Path) -> Trainer:
    rng = np.random.default_rng(0)
    sketches = [random_stroke3(rng, n_points=int(rng.integers(5, 30))) / np.float32([8, 8, 1]) for _ in range(12)]
    data = SketchData(splits={"train": sketches, "valid": sketches, "test": sketches}, scale_factor=1.0,
                      max_seq_len=JAX_HP["max_seq_len"], requested_max_seq_len=JAX_HP["max_seq_len"])
    tf.keras.utils.set_random_seed(0)
    trainer = Trainer(HParams(**JAX_HP), data, tmp_path / "run", TrainOptions(progress=False))
    head = trainer.model.logvar_head
    head.kernel.assign(np.zeros(head.kernel.shape, np.float32))
    head.bias.assign(np.full(head.bias.shape, JAX_NARROW_LOGVAR, np.float32))
    return trainer


def test_one_jax_update_equals_the_tensorflow_update_and_the_jax_step_trains(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path)
    batch = make_batch(trainer.data.splits["train"], 32)
    result, before = jax_update(JAX_HP, trainer, batch, tmp_path, TRAIN_STEPS)
    assert result["backend"] == "jax"

    tf_metrics = trainer.train_step(batch.strokes, batch.lengths)
    assert tf_metrics["kl_loss"] > 10 * trainer.hp.kl_tolerance  # the KL term is live, not its floor
    for key in JAX_METRICS:
        assert result["first"][key] == pytest.approx(tf_metrics[key], rel=1e-5, abs=1e-7), key
    jax_weights = np.load(tmp_path / "jax_weights.npz")
    moved = 0
    for i, (variable, old) in enumerate(zip(trainer.model.trainable_variables, before)):
        np.testing.assert_allclose(jax_weights[f"w{i}"], variable.numpy(), rtol=0, atol=1e-3 * JAX_HP["learning_rate"],
                                   err_msg=variable.path)
        moved += int(np.sum(np.abs(variable.numpy() - old) > 0.5 * JAX_HP["learning_rate"]))
    assert moved > 0.5 * sum(w.size for w in before)  # Adam's first update moves most weights by ~lr

    losses = result["losses"]
    assert all(np.isfinite(losses)) and losses[-1] < 0.9 * losses[0]
