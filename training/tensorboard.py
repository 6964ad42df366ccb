"""TensorBoard logs of a training run (``experiment_dir/tensorboard/``), written by TrainingHooks.

- ``ScalarLogger``: the model's cell as text when training starts; every ``every`` steps the training losses
  (L_R with its offset and pen parts, L_KL, the total),
  the learning rate, the KL weight, the padded length and the speed; at each evaluation the validation (and, for a
  new best model, test) numbers.
- ``SampleImageLogger``: at each evaluation one image: a row of validation sketches, their reconstructions
  (z = the encoder's mean) and a row of samples from the prior, drawn with :mod:`training.sampling`.

On ``--resume`` the events written after the checkpoint the run restarts from are removed first (as metrics.jsonl
is truncated), so the curves show the resumed run once, without a tangle of overlapping lines.

The summaries are written with TensorFlow's core ``tf.summary.write`` and the metadata of TensorBoard's scalar and
image plugins, so training needs no ``tensorboard`` package; viewing the logs does (``pip install tensorboard``,
then ``tensorboard --logdir runs``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from sketchgen.render import grid_png
from training import sampling

LOG_DIR = "tensorboard"
TRAIN_SCALARS = {  # metrics key -> TensorBoard tag
    "r_loss": "train/L_R", "offset_loss": "train/L_R_offsets", "pen_loss": "train/L_R_pen", "kl_loss": "train/L_KL",
    "loss": "train/loss", "lr": "train/learning_rate", "kl_weight": "train/kl_weight",
    "seq_len": "train/padded_length", "sketches_per_s": "train/sketches_per_s",
}
EVAL_SCALARS = {"r_loss": "L_R", "offset_loss": "L_R_offsets", "pen_loss": "L_R_pen", "kl_loss": "L_KL",
                "cost": "cost"}
IMAGE_TAG = "samples/reconstructions_and_samples"
MODEL_TAG = "run/model"  # text: the decoder's cell and sizes


def _metadata(plugin: str, data_class: int, description: str = "") -> summary_pb2.SummaryMetadata:
    return summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin),
                                       summary_description=description, data_class=data_class)


def write_scalar(tag: str, value: float, step: int) -> None:
    """What tensorboard.summary.scalar writes: a float32 scalar tensor with the scalars plugin's metadata."""
    tf.summary.write(tag, tf.constant(value, tf.float32), step=step,
                     metadata=_metadata("scalars", summary_pb2.DATA_CLASS_SCALAR))


def write_png(tag: str, png: bytes, step: int, description: str = "") -> None:
    """What tensorboard.summary.image writes: [width, height, PNG] strings with the images plugin's metadata."""
    image = tf.io.decode_png(png)  # checks the PNG and gives its size
    height, width = int(image.shape[0]), int(image.shape[1])
    tf.summary.write(tag, tf.constant([str(width).encode(), str(height).encode(), png]), step=step,
                     metadata=_metadata("images", summary_pb2.DATA_CLASS_BLOB_SEQUENCE, description))


def write_text(tag: str, text: str, step: int) -> None:
    """What tensorboard.summary.text writes: a string tensor with the text plugin's metadata."""
    tf.summary.write(tag, tf.constant(text), step=step, metadata=_metadata("text", summary_pb2.DATA_CLASS_TENSOR))


def prune_events_after(log_dir: Path, step: int) -> int:
    """Drop events with a step > ``step`` from every event file in ``log_dir``; returns how many were dropped."""
    dropped = 0
    for path in sorted(Path(log_dir).glob("events.out.tfevents.*")):
        kept: list[bytes] = []
        removed = 0
        for record in tf.data.TFRecordDataset(str(path)):
            raw = record.numpy()
            if tf.compat.v1.Event.FromString(raw).step > step:
                removed += 1
            else:
                kept.append(raw)
        if removed:
            tmp = path.with_name(f".{path.name}.tmp")
            with tf.io.TFRecordWriter(str(tmp)) as writer:
                for raw in kept:
                    writer.write(raw)
            os.replace(tmp, path)
            dropped += removed
    return dropped


class _Writer:
    """One tf.summary writer per log folder, opened on the first use (chief only: hooks run there)."""

    def __init__(self, log_dir: str | Path):
        self.log_dir = Path(log_dir)
        self._writer = None

    def get(self):
        if self._writer is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._writer = tf.summary.create_file_writer(str(self.log_dir))
        return self._writer

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class ScalarLogger:
    """Training scalars every ``every`` steps, evaluation scalars at each evaluation."""

    def __init__(self, log_dir: str | Path, every: int = 1, writer: _Writer | None = None):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = every
        self.writer = writer or _Writer(log_dir)

    def on_train_begin(self, trainer: Any, step: int) -> None:
        if self.writer.log_dir.is_dir():
            prune_events_after(self.writer.log_dir, step)
        with self.writer.get().as_default():
            write_text(MODEL_TAG, f"decoder: {trainer.hp.describe_decoder()}", step)

    def on_train_step(self, trainer: Any, step: int, metrics: dict[str, float]) -> None:
        if step % self.every:
            return
        with self.writer.get().as_default():
            for key, tag in TRAIN_SCALARS.items():
                if key in metrics:
                    write_scalar(tag, float(metrics[key]), step)

    def on_evaluation(self, trainer: Any, step: int, results: dict[str, dict[str, float]]) -> None:
        with self.writer.get().as_default():
            for split, values in results.items():
                for key, tag in EVAL_SCALARS.items():
                    if key in values:
                        write_scalar(f"{split}/{tag}", float(values[key]), step)
        self.writer.flush()

    def on_checkpoint(self, trainer: Any, step: int, folder: Path) -> None:
        self.writer.flush()

    def on_train_end(self, trainer: Any, step: int) -> None:
        self.writer.close()


class SampleImageLogger:
    """At each evaluation: ``count`` validation sketches, their reconstructions and ``count`` prior samples."""

    def __init__(self, log_dir: str | Path, count: int = 4, temperature: float = 0.5,
                 max_len: int = sampling.DEFAULT_MAX_LEN, cell: int = 128, writer: _Writer | None = None):
        self.count = count
        self.temperature = temperature
        self.max_len = max_len
        self.cell = cell
        self.writer = writer or _Writer(log_dir)

    def grid(self, trainer: Any, step: int) -> bytes:
        """The PNG grid: rows of originals and reconstructions (conditional models), then samples."""
        model, seed = trainer.model, trainer.hp.seed + step
        rows: list[np.ndarray] = []
        if trainer.hp.conditional:
            originals = list(trainer.data.splits["valid"][:self.count])
            rows += originals + sampling.reconstruct(model, originals, self.temperature, self.max_len, seed=seed)
        rows += sampling.sample(model, self.count, self.temperature, self.max_len, seed=seed)
        return grid_png(rows, cols=self.count, cell=self.cell)

    def on_evaluation(self, trainer: Any, step: int, results: dict[str, dict[str, float]]) -> None:
        with self.writer.get().as_default():
            write_png(IMAGE_TAG, self.grid(trainer, step), step,
                      description="rows: validation sketches, their reconstructions (z = mu), "
                                  f"samples from N(0, I); temperature {self.temperature}")
        self.writer.flush()

    def on_train_end(self, trainer: Any, step: int) -> None:
        self.writer.close()


def tensorboard_hooks(experiment_dir: str | Path, every: int = 1, images: bool = True) -> list[Any]:
    """The default hooks of ``sketchgen-train``: scalars (and sample images) in ``experiment_dir/tensorboard``."""
    writer = _Writer(Path(experiment_dir) / LOG_DIR)
    hooks: list[Any] = [ScalarLogger(writer.log_dir, every, writer)]
    if images:
        hooks.append(SampleImageLogger(writer.log_dir, writer=writer))
    return hooks
