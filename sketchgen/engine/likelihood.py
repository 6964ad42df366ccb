"""Teacher-forced reconstruction loss L_R of a model folder's ONNX graphs (numpy + onnxruntime only).

Exactly the quantity ``training.objective.reconstruction_loss`` computes (and ``training.evaluate`` reports): per
sketch, the mixture negative log-likelihood of every real point plus the pen cross-entropy over all N_max steps
(padding rows predict end-of-sketch), divided by N_max, averaged over sketches. That figure mixes in the steps after
a sketch's end, which every model predicts almost for free, so it shrinks as N_max grows past the sketches' length:
:func:`reconstruction_losses` also gives the same loss per real point (each sketch's points and the end step after
them, pooled over the sketches and divided by their points), which compares across data sets and N_max.

z is drawn from q(z|x) with a fixed seed (conditional models), so two graphs measured with one seed see the same
draws: the export compares its int8 decoder against fp32 this way (``sketchgen/precision.py``), and
``sketchgen-quality`` reports both figures for any model folder.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sketchgen.model_folder import START_TOKEN
from sketchgen.strokes import stroke3_to_stroke5

__all__ = ["Losses", "step_loss", "reconstruction_loss", "reconstruction_losses"]

_LOG_EPS = math.log(1e-6)
_LOG_2PI = math.log(2.0 * math.pi)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def step_loss(out: dict[str, np.ndarray], target: np.ndarray) -> np.ndarray:
    """Per-row loss of one step: mixture NLL (real points only) + pen cross-entropy. target [B, 5]."""
    dx, dy = target[:, 0:1].astype(np.float64), target[:, 1:2].astype(np.float64)
    sx, sy, rho = (out[k].astype(np.float64) for k in ("sigma_x", "sigma_y", "rho"))
    nx, ny = (dx - out["mu_x"]) / sx, (dy - out["mu_y"]) / sy
    one_minus = np.maximum(1.0 - rho * rho, 1e-6)  # training.objective's floor (|rho| = 1 on padding steps)
    log_n = (-(nx * nx + ny * ny - 2.0 * rho * nx * ny) / (2.0 * one_minus) - _LOG_2PI - np.log(sx) - np.log(sy)
             - 0.5 * np.log(one_minus))
    log_mix = np.logaddexp(np.logaddexp.reduce(_log_softmax(out["pi"].astype(np.float64)) + log_n, axis=1),
                           _LOG_EPS)
    with np.errstate(invalid="ignore"):
        offset = np.where(target[:, 4] == 0, -log_mix, 0.0)
    pen = -(target[:, 2:5] * _log_softmax(out["pen"].astype(np.float64))).sum(axis=1)
    return offset + pen


@dataclass(frozen=True)
class Losses:
    """Test-set L_R two ways: ``per_n_max`` (the training objective's, the figure model cards report) and
    ``per_point`` (nats per real point), over ``sketches`` sketches with ``points`` points in all."""

    per_n_max: float
    per_point: float
    sketches: int
    points: int


def reconstruction_losses(sessions: dict[str, Any], sketches: Sequence[np.ndarray], max_seq_len: int,
                          conditional: bool, seed: int = 0, batch_size: int = 100) -> Losses:
    """L_R over normalised stroke-3 ``sketches`` (each at most ``max_seq_len`` points) with the graphs in
    ``sessions`` ("encoder" for conditional models, "decoder_init", "decoder_step": onnxruntime sessions)."""
    rng = np.random.default_rng(seed)
    total, own, points, count = 0.0, 0.0, 0, 0
    for start in range(0, len(sketches), batch_size):
        chunk = sketches[start:start + batch_size]
        target = np.stack([stroke3_to_stroke5(s, max_seq_len) for s in chunk])        # [B, N_max, 5]
        lengths = np.array([len(s) for s in chunk], np.int32)
        batch = len(chunk)
        if conditional:
            mu, logvar = sessions["encoder"].run(["mu", "logvar"], {"strokes": target, "lengths": lengths})
            eps = rng.standard_normal(mu.shape).astype(np.float32)
            z = (mu + np.exp(logvar / 2.0) * eps).astype(np.float32)
            h, c = sessions["decoder_init"].run(["h", "c"], {"z": z})
        else:
            z = None
            h, c = sessions["decoder_init"].run(["h", "c"], {"batch": np.array(batch, np.int64)})
        step = sessions["decoder_step"]
        names = [o.name for o in step.get_outputs()]
        x = np.tile(START_TOKEN, (batch, 1))
        loss = np.zeros(batch)
        loss_own = np.zeros(batch)
        for t in range(max_seq_len):
            feeds = {"x": x, "h": h, "c": c}
            if z is not None:
                feeds["z"] = z
            out = dict(zip(names, step.run(None, feeds)))
            step_nats = step_loss(out, target[:, t])
            loss += step_nats
            loss_own += np.where(t <= lengths, step_nats, 0.0)  # the sketch's points and the end step after them
            h, c, x = out["h_out"], out["c_out"], target[:, t]
        total += float((loss / max_seq_len).sum())
        own += float(loss_own.sum())
        points += int(lengths.sum())
        count += batch
    return Losses(per_n_max=total / max(count, 1), per_point=own / max(points, 1), sketches=count, points=points)


def reconstruction_loss(sessions: dict[str, Any], sketches: Sequence[np.ndarray], max_seq_len: int,
                        conditional: bool, seed: int = 0, batch_size: int = 100) -> float:
    """Mean L_R per N_max (the training objective's figure): see :func:`reconstruction_losses`."""
    return reconstruction_losses(sessions, sketches, max_seq_len, conditional, seed, batch_size).per_n_max
