"""The sketch-rnn training loop: one compiled train step, exact checkpoints, evaluation, progress and metrics.

The step is the original's: Adam (TF1 defaults, epsilon 1e-8) with the learning rate ``learning_rate_at(step)``,
gradients clipped element-wise to [-grad_clip, grad_clip], the loss of ``training.objective.compute_losses``
(``L_R + w_KL(step) * max(L_KL, kl_tolerance)``, L_R alone for unconditional models). The step counter is the
optimizer's ``iterations`` (plus, for a run started from an exported model with ``--init-from``, the model's steps,
which Adam's fresh moments do not count); the learning rate and KL weight at step s are computed from s before the
update, as in ``sketch_rnn_train.train``.

Every random stream is state that a checkpoint saves: model weights, Adam moments and step, the Keras seed
generators behind dropout and z sampling, and the data sampler's numpy Generator. So ``--resume`` reproduces the
uninterrupted run. A NaN or infinite loss stops the run before anything is saved; the last good checkpoint stays.

Scale-out: under a tf.distribute strategy (MirroredStrategy over the local GPUs, MultiWorkerMirroredStrategy over
machines) each replica trains on an equal slice of the same global batch; its loss is normalised by the GLOBAL
batch (and N_max), so the all-reduced SUM of the replicas' gradients is the gradient of the one-replica loss; the
KL floor ``max(L_KL, kl_tolerance)`` is decided on the global L_KL; gradients are clipped after the all-reduce;
dropout masks and z noise are the rows the one-replica run would draw (``training.replicas``). So a run's numbers
do not depend on the number of replicas, and a run may be resumed with another strategy.
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from sketchgen.errors import ConfigError, ModelError, SketchGenError
from training import checkpoint as ckpt
from sketchgen.config import HParams
from training.dataset import BatchingOptions, SketchData, TrainBatcher
from training.evaluate import SELECTION_RULE, Evaluator, selection_cost
from training.model import SketchRNN
from training.objective import LearningRate, compute_losses, kl_weight_at, scheduled_learning_rate, total_loss
from training.replicas import replica_context
from training.segments import RunSegments


class TrainingDiverged(SketchGenError):
    """The loss became NaN or infinite; the message says which checkpoint is kept."""


class TrainingHook(Protocol):
    """Receives what the loop reports (TensorBoard, sample images, ... plug in here). Every method is optional.

    Hooks run only on the chief (the one process of a multi-worker run that writes files). ``on_train_begin`` is
    called once when ``train`` starts (after a restore: at the resumed step); ``on_train_end`` when it returns or
    stops.
    """

    def on_train_begin(self, trainer: "Trainer", step: int) -> None: ...
    def on_train_step(self, trainer: "Trainer", step: int, metrics: dict[str, float]) -> None: ...
    def on_evaluation(self, trainer: "Trainer", step: int, results: dict[str, dict[str, float]]) -> None: ...
    def on_checkpoint(self, trainer: "Trainer", step: int, folder: Path) -> None: ...
    def on_train_end(self, trainer: "Trainer", step: int) -> None: ...


@dataclass
class TrainOptions:
    """Run options that are not model hyperparameters (saved in state.json, restored by --resume)."""

    batching: BatchingOptions = field(default_factory=BatchingOptions)
    jit_compile: bool = False
    log_every: int = 20
    progress: bool = True
    lstm_implementation: str = "auto"   # see training.cells.SketchLSTM (all give the same results)

    def to_dict(self) -> dict[str, Any]:
        return {"batching": asdict(self.batching), "jit_compile": self.jit_compile, "log_every": self.log_every}

    @classmethod
    def from_dict(cls, values: dict[str, Any], progress: bool = True) -> "TrainOptions":
        return cls(batching=BatchingOptions.from_dict(values.get("batching", {})),
                   jit_compile=bool(values.get("jit_compile", False)), log_every=int(values.get("log_every", 20)),
                   progress=progress)


def _finite(value: float) -> bool:
    return math.isfinite(value)


class Trainer:
    """Trains one SketchRNN on a SketchData, writing checkpoints and metrics to ``experiment_dir``."""

    def __init__(self, hp: HParams, data: SketchData, experiment_dir: str | Path,
                 options: TrainOptions | None = None, hooks: Sequence[TrainingHook] = (),
                 strategy: tf.distribute.Strategy | None = None):
        if hp.max_seq_len != data.max_seq_len:
            hp = HParams.from_dict({**hp.to_dict(), "max_seq_len": data.max_seq_len})
        self.hp = hp
        self.data = data
        self.experiment_dir = Path(experiment_dir)
        self.options = options or TrainOptions()
        self.hooks = list(hooks)
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = int(self.strategy.num_replicas_in_sync)
        if hp.batch_size % self.replicas:
            raise ConfigError(f"batch_size={hp.batch_size} does not split evenly across {self.replicas} replicas; "
                              f"use a multiple of {self.replicas}")
        self.is_chief = _is_chief(self.strategy)
        with self.strategy.scope():
            keras.utils.set_random_seed(hp.seed)  # weight initialisers without their own seed
            self.model = SketchRNN(hp)
            self.model.set_lstm_implementation(self.options.lstm_implementation)
            # TF1's AdamOptimizer defaults, as the original: beta1 0.9, beta2 0.999, epsilon 1e-8
            # steps trained before this run (--init-from): the schedules count them, Adam's bias correction not
            self.step_offset = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_offset")
            self.optimizer = keras.optimizers.Adam(learning_rate=LearningRate(hp, self.step_offset),
                                                   epsilon=1e-8)
            self.optimizer.build(self.model.trainable_variables)
        self.batcher = TrainBatcher(data.splits["train"], hp.batch_size, data.max_seq_len, hp.seed,
                                    hp.random_scale_factor, hp.augment_stroke_prob, self.options.batching)
        self.evaluator = Evaluator(self.model, hp, data.max_seq_len)
        # model=... saves the weights under the name the export reads; random_state holds the seed generators
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                                              random_state=list(self._seed_states()))
        self.best_cost: float | None = None
        self.best_step: int | None = None
        self.last_saved_step: int | None = None
        self.segments = RunSegments()  # steps, hardware and wall time of each start or resume of the run
        self.init_from: dict[str, Any] | None = None  # the model folder a run started from (--init-from)
        step = self._step if self.replicas == 1 and strategy is None else self._distributed_step
        self._train_step = tf.function(step, input_signature=[
            tf.TensorSpec([None, None, 5], tf.float32), tf.TensorSpec([None], tf.int32)],
            jit_compile=self.options.jit_compile and self.replicas == 1)

    def _seed_states(self) -> list[tf.Variable]:
        """The Keras SeedGenerator states (dropout masks, z noise), in construction order."""
        return [v for v in self.model.non_trainable_variables if "seed_generator" in v.path]

    @property
    def step(self) -> int:
        return int(self.optimizer.iterations.numpy()) + int(self.step_offset.numpy())

    def _schedule_step(self):
        """The run's step as a float tensor, for the learning-rate and KL-weight schedules."""
        return tf.cast(tf.cast(self.optimizer.iterations, tf.int64) + self.step_offset, tf.float32)

    # -- the compiled step ---------------------------------------------------------------------------------------
    def _kl_weight(self):
        return tf.cast(kl_weight_at(self._schedule_step(), self.hp), tf.float32)

    def _learning_rate(self):
        """The rate of the coming update (read before ``optimizer.apply`` counts it)."""
        return tf.cast(scheduled_learning_rate(self.optimizer.iterations, self.step_offset, self.hp), tf.float32)

    def _replica_gradients(self, strokes, lengths):
        """One replica's slice of the global batch -> (gradients, metrics), both to be SUMMED over replicas."""
        index, replicas = replica_context()
        rows = tf.shape(strokes)[0] // replicas
        strokes, lengths = strokes[index * rows:(index + 1) * rows], lengths[index * rows:(index + 1) * rows]
        share = 1.0 / replicas  # equal slices: the global mean is the sum of the replica means / replicas

        def global_kl(kl):  # the floor max(L_KL, tolerance) applies to the global L_KL: the all-reduced value
            return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM,
                                                                  tf.stop_gradient(kl) * share)

        with tf.GradientTape() as tape:
            losses = compute_losses(strokes, self.model((strokes, lengths), training=True), self.hp,
                                    self._kl_weight(), global_kl=global_kl)
            loss = losses["loss"] * share
        grads = tape.gradient(loss, self.model.trainable_variables)
        return grads, {k: v * share for k, v in losses.items() if k != "loss"}

    def _distributed_step(self, strokes, lengths):
        """The step under a tf.distribute strategy: replica gradients, all-reduce (SUM), clip, one Adam update."""
        hp = self.hp
        kl_weight = self._kl_weight()
        grads, metrics = self.strategy.run(self._replica_gradients, args=(strokes, lengths))
        total = tf.distribute.ReduceOp.SUM
        grads = [self.strategy.reduce(total, g, axis=None) for g in grads]
        grads = [tf.clip_by_value(g, -hp.grad_clip, hp.grad_clip) for g in grads]
        metrics = {k: self.strategy.reduce(total, v, axis=None) for k, v in metrics.items()}
        lr = self._learning_rate()
        self.optimizer.apply(grads, self.model.trainable_variables)
        loss = total_loss(metrics["r_loss"], metrics["kl_loss"], kl_weight, hp)
        return {"loss": loss, **metrics, "kl_weight": kl_weight, "lr": lr}

    def _step(self, strokes, lengths):
        hp = self.hp
        kl_weight = self._kl_weight()
        with tf.GradientTape() as tape:
            losses = compute_losses(strokes, self.model((strokes, lengths), training=True), hp, kl_weight)
        variables = self.model.trainable_variables
        grads = tape.gradient(losses["loss"], variables)
        grads = [tf.clip_by_value(g, -hp.grad_clip, hp.grad_clip) for g in grads]
        lr = self._learning_rate()
        self.optimizer.apply(grads, variables)
        return {**losses, "kl_weight": kl_weight, "lr": lr}

    def train_step(self, strokes: np.ndarray, lengths: np.ndarray) -> dict[str, float]:
        out = self._train_step(tf.constant(strokes, tf.float32), tf.constant(lengths, tf.int32))
        return {k: float(v) for k, v in out.items()}

    # -- checkpoints -------------------------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {"format": ckpt.FORMAT_VERSION, "step": self.step, "batcher": self.batcher.state(),
                "best_cost": self.best_cost, "best_step": self.best_step, "best_rule": SELECTION_RULE,
                "options": self.options.to_dict(),
                "tensorflow": tf.__version__, "keras": keras.__version__, **self.segments.record(self.step),
                **({"init_from": self.init_from} if self.init_from else {})}

    def _weights_finite(self) -> bool:
        return all(bool(tf.reduce_all(tf.math.is_finite(v))) for v in self.model.trainable_variables)

    def save(self, which: str = ckpt.LATEST, extra_state: dict[str, Any] | None = None) -> Path:
        """Write checkpoint folder ``which`` atomically (weights, optimizer, seeds, data order, config, data)."""
        if not self._weights_finite():
            raise TrainingDiverged(self._diverged_message(self.step))
        state = {**self._state(), **(extra_state or {})}
        target = self.experiment_dir / which
        if not self.is_chief:  # the chief writes the run's files; the other workers hold the same values
            return target

        def fill(folder: Path) -> None:
            self.checkpoint.write(str(folder / ckpt.CKPT_PREFIX))
            ckpt.write_json(folder / ckpt.STATE_FILE, state)
            (folder / ckpt.CONFIG_FILE).write_text(self.hp.to_json(), encoding="utf-8")
            (folder / ckpt.DATA_FILE).write_text(json.dumps(self.data.info(), indent=2), encoding="utf-8")

        ckpt.write_dir_atomically(target, fill)
        if which == ckpt.LATEST:
            self.last_saved_step = self.step
        self._notify("on_checkpoint", self.step, target)
        return target

    def _notify(self, event: str, *args: Any) -> None:
        """Call ``event`` on every hook that has it (chief only)."""
        if not self.is_chief:
            return
        for hook in self.hooks:
            method = getattr(hook, event, None)
            if method is not None:
                method(self, *args)

    def write_run_files(self) -> None:
        """experiment_dir/config.json and data.json: what the run is, readable before the first checkpoint."""
        if not self.is_chief:
            return
        self.experiment_dir.mkdir(parents=True, exist_ok=True)
        self.hp.save(self.experiment_dir / ckpt.CONFIG_FILE)
        ckpt.write_json(self.experiment_dir / ckpt.DATA_FILE, self.data.info())

    def restore(self, folder: Path) -> None:
        """Continue from a checkpoint folder: weights, optimizer, step, seed generators and data order."""
        state = ckpt.read_state(folder)
        try:
            status = self.checkpoint.read(str(folder / ckpt.CKPT_PREFIX))
            status.assert_consumed()
            self.batcher.restore(state["batcher"])
        except Exception as exc:  # a damaged checkpoint: OpError, IndexError, AssertionError, KeyError ...
            raise ModelError(folder, f"cannot resume from this checkpoint, it may be damaged or truncated "
                                     f"({type(exc).__name__}: {exc})") from None
        self.best_cost = state.get("best_cost")
        self.best_step = state.get("best_step")
        if state.get("best_rule") != SELECTION_RULE:
            self.best_cost = self._best_cost_by_rule()
        self.init_from = state.get("init_from")
        self.step_offset.assign(int((self.init_from or {}).get("steps_trained") or 0))
        self.last_saved_step = int(state["step"])
        self.segments.restore(state, int((self.init_from or {}).get("steps_trained") or 0),
                              self.experiment_dir / ckpt.METRICS_FILE)
        if self.step != int(state["step"]):
            raise SketchGenError(f"{folder}: checkpoint step {self.step} does not match state.json {state['step']}")
        if self.is_chief:
            _truncate_metrics(self.experiment_dir / ckpt.METRICS_FILE, self.step)

    def _best_cost_by_rule(self) -> float | None:
        """The best checkpoint's cost under SELECTION_RULE, from the validation losses it recorded (a run written
        under an older rule); None (the next evaluation becomes the best) where it recorded none."""
        try:
            valid = ckpt.read_json(self.experiment_dir / ckpt.BEST / ckpt.STATE_FILE)["evaluation"]["valid"]
            return selection_cost(float(valid["r_loss"]), float(valid["kl_loss"]), self.hp)
        except (SketchGenError, OSError, KeyError, TypeError, ValueError):
            return None

    def start_from_model(self, initial, sketches=None) -> dict[str, float]:
        """Begin this fresh run with the weights of an exported model folder (training.warm_start.InitialModel),
        at its step (so the learning-rate and KL-weight schedules go on) and with its training time counted.
        Returns the largest difference per graph between this model and the folder's ONNX graphs."""
        from training.warm_start import apply_and_verify

        if self.step != 0:
            raise SketchGenError(f"{self.experiment_dir}: --init-from starts a new run; this one is at step "
                                 f"{self.step}")
        errors = apply_and_verify(initial, self.model, sketches)
        self.step_offset.assign(initial.steps_trained)
        self.segments.continue_model(initial.steps_trained, initial.wall_time_s)
        self.init_from = {**initial.describe(), "max_error": errors}
        return errors

    # -- evaluation --------------------------------------------------------------------------------------------------
    def evaluate(self, splits: Sequence[str] = ("valid",)) -> dict[str, dict[str, float]]:
        return {split: self.evaluator.evaluate(self.data.splits[split]) for split in splits}

    def _evaluate_and_keep_best(self) -> dict[str, dict[str, float]]:
        if not self.is_chief:  # evaluation decides what the chief writes; other workers go on training
            return {}
        results = self.evaluate(("valid",))
        cost = results["valid"]["cost"]
        if not _finite(cost):
            raise TrainingDiverged(f"validation loss became {cost} at step {self.step}; "
                                   + self._kept_message())
        if self.best_cost is None or cost < self.best_cost:
            self.best_cost, self.best_step = cost, self.step
            results.update(self.evaluate(("test",)))  # as the original: test numbers of each new best model
            self.save(ckpt.BEST, {"evaluation": results})
        self._log({"event": "eval", "step": self.step, **{f"{s}_{k}": v for s, r in results.items()
                                                           for k, v in r.items()},
                   "best_step": self.best_step, "best_cost": self.best_cost})
        self._notify("on_evaluation", self.step, results)
        return results

    # -- the loop ----------------------------------------------------------------------------------------------------
    def _kept_message(self) -> str:
        if self.last_saved_step is None:
            return "no checkpoint had been written yet"
        return f"the last good checkpoint at step {self.last_saved_step} is kept"

    def _diverged_message(self, step: int, what: str = "NaN") -> str:
        return (f"loss became {what} at step {step}; {self._kept_message()} "
                f"(in {self.experiment_dir / ckpt.LATEST}). Try a lower learning_rate or grad_clip.")

    def _log(self, record: dict[str, Any]) -> None:
        if not self.is_chief:
            return
        path = self.experiment_dir / ckpt.METRICS_FILE
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({**record, "time": round(time.time(), 3)}) + "\n")

    def train(self, num_steps: int | None = None) -> dict[str, Any]:
        """Train until the step counter reaches ``num_steps`` (default hp.num_steps); returns the last metrics."""
        hp = self.hp
        num_steps = hp.num_steps if num_steps is None else int(num_steps)
        if self.is_chief:
            self.experiment_dir.mkdir(parents=True, exist_ok=True)
            ckpt.clean_stale_temporaries(self.experiment_dir)
        bar = tqdm(total=num_steps, initial=self.step, disable=not (self.options.progress and self.is_chief),
                   unit="step", dynamic_ncols=True, smoothing=0.1)
        metrics: dict[str, Any] = {}
        data_state, step_before = self.batcher.state(), self.step
        window_start, window_sketches = time.perf_counter(), 0
        self.segments.begin(self.step)
        self._notify("on_train_begin", self.step)
        try:
            while self.step < num_steps:
                data_state, step_before = self.batcher.state(), self.step
                batch = self.batcher.next_batch()
                metrics = self.train_step(batch.strokes, batch.lengths)
                step = self.step
                if not _finite(metrics["loss"]):
                    what = "NaN" if math.isnan(metrics["loss"]) else "infinite"
                    self._log({"event": "diverged", "step": step, **metrics})
                    raise TrainingDiverged(self._diverged_message(step, what))
                window_sketches += batch.size
                elapsed = time.perf_counter() - window_start
                rate = window_sketches / elapsed if elapsed > 0 else 0.0
                metrics.update(step=step, sketches_per_s=rate, seq_len=batch.strokes.shape[1] - 1)
                bar.set_postfix_str(f"L_R {metrics['r_loss']:.3f} L_KL {metrics['kl_loss']:.3f} "
                                    f"w_KL {metrics['kl_weight']:.3f} lr {metrics['lr']:.2e} "
                                    f"{rate:.0f} sketches/s", refresh=False)
                bar.update(1)
                if step % self.options.log_every == 0 or step == num_steps:
                    self._log({"event": "train", **metrics})
                    window_start, window_sketches = time.perf_counter(), 0
                self._notify("on_train_step", step, metrics)
                if step % hp.eval_every == 0:
                    self._evaluate_and_keep_best()
                if step % hp.save_every == 0 or step == num_steps:
                    self.save(ckpt.LATEST)
        except KeyboardInterrupt:
            bar.close()
            if self.step == step_before:  # interrupted between drawing a batch and training on it
                self.batcher.restore(data_state)
            if self.step != self.last_saved_step and self._weights_finite():
                self.save(ckpt.LATEST)
            raise
        finally:
            bar.close()
            self.segments.close(self.step)
            self._notify("on_train_end", self.step)
        return metrics


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
    """The process that writes files: always, except the non-chief workers of a multi-worker run."""
    return bool(strategy.extended.should_checkpoint)


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metric lines past ``step`` (written after the checkpoint a resumed run restarts from)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if int(json.loads(line).get("step", 0)) > step:
                continue
        except (ValueError, AttributeError):
            continue
        kept.append(line)
    from sketchgen.fileio import atomic_write
    with atomic_write(path, mode="w") as fh:
        fh.write("".join(line + "\n" for line in kept))
