"""Choosing among several drawings made for one request: those the model ended itself come first.

A model sometimes never chooses end-of-sketch and loops on until its last point, most often in scribbled circles.
Such a drawing is one the model never called done, so the app draws several attempts in one batch (one ONNX Runtime
call, slower than one) and shows the finished ones first. The temperature rule of the official demos (the engine's
default) ends far more drawings than one temperature for everything, so this is kept only where it still helps
(docs/engine.md has the measurements): for a Random sample always, and for continuations where the model's own
measured continuations (its card's ``quality`` table, from ``sketchgen-quality``) ran on to their last point.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .sampling import DEFAULT_RULE

__all__ = ["finished", "prefer_finished", "attempts_for", "continuations_run_on", "continuation_attempts"]

# the most attempts drawn for one request, and per wanted drawing (bench/continuation_length.py measures the effect
# and the cost; two per drawing still left 1-2% of the sheep's suggestions running on at temperature 0.3)
MAX_ATTEMPTS = 24
ATTEMPTS_PER_DRAWING = 4


def finished(sketch: np.ndarray, max_len: int) -> bool:
    """Whether the model ended this drawing itself: it has points, and fewer than the ``max_len`` it may draw."""
    return 0 < len(sketch) < int(max_len)


def attempts_for(n: int, per_drawing: int = ATTEMPTS_PER_DRAWING) -> int:
    """How many drawings to make for ``n`` wanted: ``per_drawing`` each, at most MAX_ATTEMPTS in all, never fewer
    than n."""
    return max(int(n), min(int(per_drawing) * int(n), MAX_ATTEMPTS))


def continuations_run_on(quality: Mapping[str, Any] | None, rule: str = DEFAULT_RULE) -> bool:
    """Whether a model's continuations may loop on to their last point, by its card's quality table: False only
    where it measured continuations under ``rule`` and none of them ran on; True without such a table."""
    try:
        if quality["temperature_rule"] != rule:  # type: ignore[index]
            return True
        by_fraction = quality["continuations"]["by_fraction"]  # type: ignore[index]
        return any(float(v["never_end"]) > 0 for v in by_fraction.values()) or not by_fraction
    except (KeyError, TypeError, AttributeError, ValueError):
        return True


def continuation_attempts(n: int, quality: Mapping[str, Any] | None, rule: str = DEFAULT_RULE) -> int:
    """Attempts to draw for ``n`` suggestions: :func:`attempts_for` where :func:`continuations_run_on`, else n."""
    return attempts_for(n) if continuations_run_on(quality, rule) else max(int(n), 1)


def prefer_finished(sketches: Sequence[np.ndarray], n: int, max_len: int) -> list[np.ndarray]:
    """``n`` of ``sketches``: first those the model ended itself, then those that ran out of points, then empty
    ones, each kind in its original order (so a seed still gives the same choice)."""
    done = [s for s in sketches if finished(s, max_len)]
    running = [s for s in sketches if len(s) >= int(max_len)]
    empty = [s for s in sketches if len(s) == 0]
    return (done + running + empty)[: int(n)]
