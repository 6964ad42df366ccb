"""sketch-rnn's objective, in keras.ops for every backend: the loss and its two schedules (KL weight, learning rate).

``compute_losses`` is the one place the loss is composed: ``L_R + w_KL * max(L_KL, KL_min)`` (L_R alone for
unconditional models). The single-replica and distributed TensorFlow steps, the JAX step and the evaluation all call
it; ``LearningRate`` is the one learning-rate schedule of the TensorFlow and JAX optimizers.

L_R is normalised by N_max (the paper's `1/N_max` sum over all N_max steps): the mixture term counts only real
points, the pen term counts every step up to N_max. Batches may be padded only to their longest sketch: the steps
beyond it are not computed, the divisor stays N_max.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from sketchgen.config import HParams
from training.model import MixtureParams, split_mixture

_LOG_2PI = math.log(2.0 * math.pi)
_EPSILON = 1e-6  # the original's floor inside log(sum_j pi_j N_j + eps)
_ONE_MINUS_RHO2_FLOOR = 1e-6

def mixture_log_density(dx, dy, p: MixtureParams):
    """log N(dx, dy | mu_j, sigma_j, rho_j) for each component j: [..., M]."""
    nx = (ops.expand_dims(dx, -1) - p.mu_x) / p.sigma_x
    ny = (ops.expand_dims(dy, -1) - p.mu_y) / p.sigma_y
    # tanh saturates to |rho| = 1 in float32; the model does that on padding steps (nothing is learnt there), where
    # 1 - rho^2 = 0 would give -inf/NaN that the padding mask cannot remove (NaN * 0 is NaN). A floor far below
    # any real point's value (|rho| < 0.96 on aaron_sheep's real points) keeps it finite.
    one_minus_rho2 = ops.maximum(1.0 - ops.square(p.rho), _ONE_MINUS_RHO2_FLOOR)
    z = ops.square(nx) + ops.square(ny) - 2.0 * p.rho * nx * ny
    return (-z / (2.0 * one_minus_rho2) - _LOG_2PI - ops.log(p.sigma_x) - ops.log(p.sigma_y)
            - 0.5 * ops.log(one_minus_rho2))

def reconstruction_loss(target, params: MixtureParams, max_seq_len: int):
    """target [B, T, 5] stroke-5 (T <= max_seq_len) -> (L_R, offset part, pen part), each a scalar.

    Computed in log space (log-sum-exp), which equals the original's -log(sum pi N + 1e-6) but cannot underflow.
    """
    dx, dy, pen = target[..., 0], target[..., 1], target[..., 2:]
    log_pi = ops.log_softmax(params.pi_logits, axis=-1)
    log_mix = ops.logsumexp(log_pi + mixture_log_density(dx, dy, params), axis=-1)
    log_mix = ops.logaddexp(log_mix, ops.full_like(log_mix, math.log(_EPSILON)))
    real = 1.0 - pen[..., 2]
    batch = ops.cast(ops.shape(target)[0], "float32")
    denom = batch * float(max_seq_len)
    offset_loss = -ops.sum(ops.where(real > 0, log_mix, 0.0)) / denom  # a mask, not a product: inf * 0 is NaN
    pen_ce = -ops.sum(pen * ops.log_softmax(params.pen_logits, axis=-1), axis=-1)
    pen_loss = ops.sum(pen_ce) / denom
    return offset_loss + pen_loss, offset_loss, pen_loss

def kl_loss(mu, logvar):
    """The original's KL: mean over batch AND latent dimensions (so KL_min is per dimension)."""
    return -0.5 * ops.mean(1.0 + logvar - ops.square(mu) - ops.exp(logvar))

def kl_weight_at(step, hp):
    """w_KL annealed from kl_weight_start toward kl_weight at rate kl_decay_rate."""
    return hp.kl_weight - (hp.kl_weight - hp.kl_weight_start) * ops.power(hp.kl_decay_rate, step)


def total_loss(r_loss, kl, kl_weight, hp: HParams, floor_decided_on=None):
    """``L_R + kl_weight * max(L_KL, kl_tolerance)``; L_R alone for an unconditional model.

    ``floor_decided_on``: the L_KL that decides whether the floor applies when ``kl`` is only a part of it (one
    replica's slice of the global batch: the floor is decided on the global L_KL, and the slice keeps its gradient
    above it).
    """
    if not hp.conditional:
        return r_loss
    if floor_decided_on is None:
        return r_loss + kl_weight * ops.maximum(kl, hp.kl_tolerance)
    return r_loss + kl_weight * ops.where(floor_decided_on > hp.kl_tolerance, kl, ops.cast(hp.kl_tolerance, kl.dtype))


def compute_losses(strokes, outputs, hp: HParams, kl_weight, max_seq_len: int | None = None,
                   global_kl: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """The losses of one batch from the model's outputs.

    ``strokes``: ``[B, T+1, 5]`` stroke-5 with the start token (the model's input; the target is ``strokes[:, 1:]``);
    ``outputs``: ``(raw mixture, mu, logvar)`` (mu and logvar are ignored for unconditional models); ``max_seq_len``:
    N_max, the divisor of L_R (default ``hp.max_seq_len``); ``global_kl``: under replicas, the global L_KL from this
    slice's (the KL floor is decided on it). Returns ``loss`` (:func:`total_loss`), ``r_loss`` with its
    ``offset_loss`` and ``pen_loss`` parts, and ``kl_loss`` (0 for unconditional models).
    """
    raw, mu, logvar = outputs
    r_loss, offset_loss, pen_loss = reconstruction_loss(strokes[:, 1:, :], split_mixture(raw, hp.num_mixture),
                                                        hp.max_seq_len if max_seq_len is None else max_seq_len)
    kl = kl_loss(mu, logvar) if hp.conditional else ops.zeros((), dtype=r_loss.dtype)
    decided_on = global_kl(kl) if global_kl is not None and hp.conditional else None
    return {"loss": total_loss(r_loss, kl, kl_weight, hp, decided_on), "r_loss": r_loss,
            "offset_loss": offset_loss, "pen_loss": pen_loss, "kl_loss": kl}


INIT_FROM_WARMUP_STEPS = 200


def learning_rate_at(step, hp):
    """Exponential decay to a floor: (lr - min) * decay^step + min."""
    return (hp.learning_rate - hp.min_learning_rate) * ops.power(hp.decay_rate, step) + hp.min_learning_rate


def scheduled_learning_rate(iterations, offset, hp: HParams):
    """The learning rate of the update after ``iterations`` optimizer steps of a run that started ``offset`` steps
    into training. A run started from a model (offset > 0) ramps the rate up linearly over its first
    INIT_FROM_WARMUP_STEPS steps: its Adam moments start at zero, and Adam's first updates move every weight by about
    the full rate, which would undo part of the training the model brings."""
    iterations = ops.cast(iterations, "int64")
    lr = learning_rate_at(ops.cast(iterations + offset, "float32"), hp)
    ramp = ops.minimum(1.0, ops.cast(iterations + 1, "float32") / INIT_FROM_WARMUP_STEPS)
    return ops.where(offset > 0, lr * ramp, lr)


class LearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """``(lr - min_lr) * decay_rate^step + min_lr`` at the run's step: the optimizer's step counter plus ``offset``
    (a variable: the steps a model had trained before this run started from it with ``--init-from``), if any."""

    def __init__(self, hp: HParams, offset=None):
        self.hp = hp
        self.offset = offset

    def __call__(self, step):
        if self.offset is None:
            return learning_rate_at(ops.cast(step, "float32"), self.hp)
        return scheduled_learning_rate(step, self.offset, self.hp)

    def get_config(self) -> dict[str, Any]:
        return {"hp": self.hp.to_dict()}
