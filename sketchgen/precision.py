"""Test-set reconstruction loss L_R of exported graphs, to decide whether a reduced-precision decoder may ship.

Teacher-forced, exactly the quantity ``training.objective.reconstruction_loss`` computes (the core's
``sketchgen.engine.likelihood``, over ONNX Runtime sessions), with z drawn from q(z|x) with a fixed seed, the same
draws for every precision. The int8 sampler is used only where
``|L_R(int8) - L_R(fp32)| <= 0.01`` nats on the test set with the fp32 encoder, the int8 encoder only where the
two together stay within it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sketchgen.engine.likelihood import reconstruction_loss, step_loss
from sketchgen.model_folder import PRECISION_TOLERANCE_NATS

__all__ = ["compare_precisions", "choose_int8_layout", "reconstruction_loss", "step_loss"]


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
            "int8_graphs": sorted(int8_sessions), "tolerance_nats": PRECISION_TOLERANCE_NATS,
            "verified": bool(abs(delta) <= PRECISION_TOLERANCE_NATS)}


def choose_int8_layout(sessions: dict[str, Any], int8_encoder: Any | None, int8_step: Callable[[str], Any],
                       sketches: Sequence[np.ndarray], max_seq_len: int, conditional: bool,
                       seed: int = 0) -> dict[str, Any]:
    """The fastest int8 weight layout of the decoder whose test-set L_R stays within the tolerance of fp32, and
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
