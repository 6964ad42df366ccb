"""Test-set reconstruction loss L_R of exported graphs, to decide whether a reduced-precision decoder may ship.

Teacher-forced, exactly the quantity ``training.objective.reconstruction_loss`` computes (and ``training.evaluate``
reports): per sketch, the mixture negative log-likelihood of every real point plus the pen cross-entropy over all
N_max steps (padding rows predict end-of-sketch), divided by N_max, averaged over sketches. z is drawn from
q(z|x) with a fixed seed, the same draws for every precision. The int8 sampler is used only where
``|L_R(int8) - L_R(fp32)| <= 0.01`` nats on the test set with the fp32 encoder, the int8 encoder only where the
two together stay within it.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sketchgen.engine.sampling import START_TOKEN
from sketchgen.strokes import stroke3_to_stroke5

TOLERANCE_NATS = 0.01
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


def reconstruction_loss(sessions: dict[str, Any], sketches: Sequence[np.ndarray], max_seq_len: int,
                        conditional: bool, seed: int = 0, batch_size: int = 100) -> float:
    """Mean L_R over normalised stroke-3 ``sketches`` with the graphs in ``sessions``
    ("encoder", "decoder_init", "decoder_step": onnxruntime sessions, the step in the precision to measure)."""
    rng = np.random.default_rng(seed)
    total, count = 0.0, 0
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
        for t in range(max_seq_len):
            feeds = {"x": x, "h": h, "c": c}
            if z is not None:
                feeds["z"] = z
            out = dict(zip(names, step.run(None, feeds)))
            loss += step_loss(out, target[:, t])
            h, c, x = out["h_out"], out["c_out"], target[:, t]
        total += float((loss / max_seq_len).sum())
        count += batch
    return total / max(count, 1)


def compare_precisions(sessions: dict[str, Any], int8_sessions: dict[str, Any], sketches: Sequence[np.ndarray],
                       max_seq_len: int, conditional: bool, seed: int = 0, fp32: float | None = None) -> dict[str, Any]:
    """L_R with the fp32 graphs and with the int8 ones (``int8_sessions`` replaces entries of ``sessions``: the
    int8 "decoder_step" and, where there is one, the int8 "encoder") on the same sketches and z draws.
    ``fp32``: the fp32 L_R when already measured on these sketches with this seed."""
    if fp32 is None:
        fp32 = reconstruction_loss(sessions, sketches, max_seq_len, conditional, seed)
    int8 = reconstruction_loss({**sessions, **int8_sessions}, sketches, max_seq_len, conditional, seed)
    delta = int8 - fp32
    return {"test_L_R_fp32": fp32, "test_L_R_int8": int8, "delta_nats": delta, "sketches": len(sketches),
            "int8_graphs": sorted(int8_sessions), "tolerance_nats": TOLERANCE_NATS,
            "verified": bool(abs(delta) <= TOLERANCE_NATS)}


def choose_int8_layout(sessions: dict[str, Any], int8_encoder: Any | None, int8_step: Callable[[str], Any],
                       sketches: Sequence[np.ndarray], max_seq_len: int, conditional: bool,
                       seed: int = 0) -> dict[str, Any]:
    """The fastest int8 weight layout of the decoder whose test-set L_R stays within TOLERANCE_NATS of fp32, and
    whether the int8 encoder may join it.

    ``int8_step(scales)`` gives the int8 step session for a layout of ``sketchgen.graphs.INT8_SCALES``, tried in
    that order with the fp32 encoder: one scale for the whole weight matrix (ONNX Runtime's fast QGemm path), one
    scale per output column, the recurrent kernel only. The decoder is judged alone because the encoder's int8
    error is another matter (sheep at 8700 steps: int8 encoder +0.012 nats by itself, int8 decoder +0.003 with
    per-column scales): a bad int8 encoder must not keep the fast sampler out, nor a good sampler let a bad encoder
    in. The int8 encoder then ships only where both together stay within the tolerance. Returns compare_precisions'
    report for what ships (``int8_graphs``: the decoder step, plus the encoder when it passed; ``verified`` false
    when no decoder layout passed), its ``scales``, every decoder layout's ``delta_nats`` under ``tried``, and under
    ``encoder_int8`` the delta with the int8 encoder added and whether it ships."""
    from sketchgen.graphs import INT8_SCALES

    fp32 = reconstruction_loss(sessions, sketches, max_seq_len, conditional, seed)
    tried: dict[str, float] = {}
    report: dict[str, Any] = {}
    for scales in INT8_SCALES:
        report = compare_precisions(sessions, {"decoder_step": int8_step(scales)}, sketches, max_seq_len,
                                    conditional, seed, fp32=fp32)
        report["scales"] = scales
        tried[scales] = report["delta_nats"]
        if report["verified"]:
            break
    if int8_encoder is not None and report["verified"]:
        both = compare_precisions(sessions, {"decoder_step": int8_step(report["scales"]), "encoder": int8_encoder},
                                  sketches, max_seq_len, conditional, seed, fp32=fp32)
        report["encoder_int8"] = {"delta_nats_with_int8_decoder": both["delta_nats"], "shipped": both["verified"]}
        if both["verified"]:
            report.update(both)
    report["tried"] = tried
    return report
