"""The sketch-rnn train step on the JAX backend (``KERAS_BACKEND=jax``), with Keras's stateless API.

The model, the loss and the schedules are written with keras.ops, so the same ``SketchRNN`` trains under JAX: this
module is the JAX counterpart of ``Trainer._step`` (Adam with TF1's epsilon, ``training.objective.compute_losses``,
gradients clipped element-wise to ``grad_clip``, learning rate and KL weight from the step before the update). It is
an experiment, not a second trainer: checkpoints, evaluation and the CLI stay TensorFlow's. JAX is not a dependency
of the project; install it (``pip install jax``) to use this.

    os.environ["KERAS_BACKEND"] = "jax"          # before keras is imported
    model = SketchRNN(hp); step = JaxTrainStep(model, hp)
    metrics = step(strokes, lengths)             # numpy in, floats out; model variables are updated
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from sketchgen.config import HParams
from training.model import SketchRNN
from training.objective import LearningRate, compute_losses, kl_weight_at, learning_rate_at


class JaxTrainStep:
    """A jitted, stateless train step over a SketchRNN's variables; ``__call__`` writes the new values back."""

    def __init__(self, model: SketchRNN, hp: HParams):
        import jax

        if keras.backend.backend() != "jax":
            raise RuntimeError(f"JaxTrainStep needs KERAS_BACKEND=jax (the backend is {keras.backend.backend()})")
        self.model, self.hp = model, hp
        self.optimizer = keras.optimizers.Adam(learning_rate=LearningRate(hp), epsilon=1e-8)
        self.optimizer.build(model.trainable_variables)
        self._iterations = next(i for i, v in enumerate(self.optimizer.variables) if v is self.optimizer.iterations)
        self._step = jax.jit(self._pure_step)
        self._grad = jax.value_and_grad(self._loss, has_aux=True)

    def _loss(self, trainable, non_trainable, strokes, lengths, step):
        hp = self.hp
        outputs, non_trainable = self.model.stateless_call(trainable, non_trainable, (strokes, lengths), training=True)
        kl_weight = kl_weight_at(ops.cast(step, "float32"), hp)
        losses = compute_losses(strokes, outputs, hp, kl_weight)
        metrics = {**losses, "kl_weight": kl_weight, "lr": learning_rate_at(ops.cast(step, "float32"), hp)}
        return losses["loss"], (non_trainable, metrics)

    def _pure_step(self, trainable, non_trainable, optimizer_vars, strokes, lengths):
        step = optimizer_vars[self._iterations]
        (_, (non_trainable, metrics)), grads = self._grad(trainable, non_trainable, strokes, lengths, step)
        grads = [ops.clip(g, -self.hp.grad_clip, self.hp.grad_clip) for g in grads]
        trainable, optimizer_vars = self.optimizer.stateless_apply(optimizer_vars, grads, trainable)
        return trainable, non_trainable, optimizer_vars, metrics

    def __call__(self, strokes: np.ndarray, lengths: np.ndarray) -> dict[str, float]:
        model, optimizer = self.model, self.optimizer
        trainable, non_trainable, optimizer_vars, metrics = self._step(
            [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
            [v.value for v in optimizer.variables], np.asarray(strokes, np.float32), np.asarray(lengths, np.int32))
        for variable, value in zip(model.trainable_variables, trainable):
            variable.assign(value)
        for variable, value in zip(model.non_trainable_variables, non_trainable):
            variable.assign(value)
        for variable, value in zip(optimizer.variables, optimizer_vars):
            variable.assign(value)
        return {k: float(v) for k, v in metrics.items()}
