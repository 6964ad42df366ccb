"""Validation and test losses, computed as the original sketch-rnn does so the numbers compare with its reports.

As magenta's ``evaluate_model``: dropout off, batches padded to N_max with the pen loss counted over every step
(the original's eval model is built with ``is_training=1``), z *sampled* from q(z|x) (the original always samples).
Here the sampling noise is one fixed normal vector per sketch (from the run's seed), so an evaluation is exactly
repeatable, independent of the batch size, and never disturbs the training random streams. Every sketch is used
(the original drops a last partial batch); the means are weighted by sketch. L_KL is reported as computed (not
floored).

The *cost* that picks the best checkpoint is the original's in effect: ``L_R + kl_weight_start * max(L_KL,
kl_tolerance)`` (just L_R for unconditional models). magenta's eval model is a second graph whose KL weight variable
is created at ``kl_weight_start`` and never fed (the train loop feeds only the train model's), so its ``cost`` weighs
the floored KL by 0.01 with the default config. A weight of 1.0 favours checkpoints whose KL sits at its floor.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from sketchgen.config import HParams
from training.dataset import evaluation_batches
from training.model import SketchRNN
from training.objective import compute_losses, total_loss

EVAL_SEED_SALT = 7919  # keeps the evaluation noise apart from the model's own seeds
SELECTION_RULE = "L_R + kl_weight_start * max(L_KL, kl_tolerance)"  # recorded with each run's best checkpoint


def selection_cost(r_loss: float, kl: float, hp: HParams) -> float:
    """The cost that picks a run's best checkpoint (SELECTION_RULE; L_R alone for unconditional models)."""
    return float(total_loss(np.float64(r_loss), np.float64(kl), hp.kl_weight_start, hp))


class Evaluator:
    """Holds one compiled evaluation step for a model (batch and time dimensions are free)."""

    def __init__(self, model: SketchRNN, hp: HParams, max_seq_len: int):
        self.model = model
        self.hp = hp
        self.max_seq_len = max_seq_len
        self._step = tf.function(self._losses, input_signature=[
            tf.TensorSpec([None, None, 5], tf.float32), tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None, None], tf.float32)], reduce_retracing=True)

    def _losses(self, strokes, lengths, eps):
        mu = logvar = z = None
        if self.hp.conditional:
            mu, logvar = self.model.encode(strokes[:, 1:, :], lengths, training=False)
            z = mu + tf.exp(logvar / 2.0) * eps
        raw = self.model.decode_sequence(strokes[:, :-1, :], z, training=False)
        losses = compute_losses(strokes, (raw, mu, logvar), self.hp, 1.0, self.max_seq_len)
        return losses["r_loss"], losses["offset_loss"], losses["pen_loss"], losses["kl_loss"]

    def evaluate(self, sketches: Sequence[np.ndarray], batch_size: int | None = None) -> dict[str, float]:
        """Mean L_R (with its offset and pen parts), L_KL and the selection cost over normalised stroke-3 sketches."""
        batch_size = batch_size or self.hp.batch_size
        noise = np.random.default_rng(self.hp.seed + EVAL_SEED_SALT).standard_normal(
            (len(sketches), self.hp.z_size)).astype(np.float32)
        sums = np.zeros(4)
        count = 0
        for batch in evaluation_batches(sketches, batch_size, self.max_seq_len):
            eps = noise[count:count + batch.size]
            values = self._step(tf.constant(batch.strokes), tf.constant(batch.lengths), tf.constant(eps))
            sums += np.array([float(v) for v in values]) * batch.size
            count += batch.size
        r_loss, offset_loss, pen_loss, kl = (sums / max(count, 1)).tolist()
        cost = selection_cost(r_loss, kl, self.hp)
        return {"r_loss": r_loss, "kl_loss": kl, "offset_loss": offset_loss, "pen_loss": pen_loss, "cost": cost,
                "sketches": count}


def evaluate_experiment(path: str | Path, splits: Sequence[str] = ("valid", "test"), which: str = "best",
                        data_dir: str | Path | None = None, data: Sequence[str] | None = None) -> dict[str, Any]:
    """Losses of a trained checkpoint on its data's splits, as a dict (the export records it in model.json).

    The data files are those recorded in data.json (or ``data`` names resolved in ``data_dir``, e.g. when the run
    was moved to another machine); they must be the same files (sha256), normalised with the recorded scale factor.
    """
    from training.checkpoint import load_trained_model
    from training.dataset import load_sketch_data

    for split in splits:
        if split not in ("train", "valid", "test"):
            from sketchgen.errors import ConfigError
            raise ConfigError(f"unknown split {split!r}; choose from train, valid, test")
    trained = load_trained_model(path, which)
    info = trained.data
    expected = {s["name"]: s["sha256"] for s in info.get("sources", [])}
    entries = list(data) if data else ([s["name"] for s in info["sources"]] if data_dir is not None
                                       else [s["path"] for s in info["sources"]])
    sketch_data = load_sketch_data(entries, data_dir, int(info["max_seq_len"]), scale=trained.scale_factor,
                                   expected_sha256=expected)
    evaluator = Evaluator(trained.model, trained.hparams, int(info["max_seq_len"]))
    results: dict[str, Any] = {"checkpoint": str(trained.directory), "step": trained.step}
    for split in splits:
        results[split] = evaluator.evaluate(sketch_data.splits[split])
    return results
