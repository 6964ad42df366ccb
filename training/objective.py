"""sketch-rnn's loss: reconstruction L_R (mixture NLL + pen cross-entropy) and the KL term with its floor.

L_R is normalised by N_max (the paper's `1/N_max` sum over all N_max steps): the mixture term counts only real
points, the pen term counts every step up to N_max. Batches may be padded only to their longest sketch: the steps
beyond it are not computed, the divisor stays N_max.
"""
from __future__ import annotations

import math

from keras import ops

from training.model import MixtureParams

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

def learning_rate_at(step, hp):
    """Exponential decay to a floor: (lr - min) * decay^step + min."""
    return (hp.learning_rate - hp.min_learning_rate) * ops.power(hp.decay_rate, step) + hp.min_learning_rate

def total_loss(r_loss, kl, kl_weight, kl_tolerance: float):
    return r_loss + kl_weight * ops.maximum(kl, kl_tolerance)
