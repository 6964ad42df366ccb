"""Choosing among several drawings made for one request: those the model ended itself come first.

At low temperatures an early model often never chooses end-of-sketch and loops on until its last point (the
8700-step sheep at temperature 0.1: about 80% of prior samples; at 0.3, 44% of the continuations of 40% of a
sheep), most of them scribbled circles. Such a drawing is one the model never called done, so the app draws
several attempts in one batch (one ONNX Runtime call, a little slower than one) and shows the finished ones first.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["finished", "prefer_finished", "attempts_for"]

# the most attempts drawn for one request, and per wanted drawing: a batch of 24 continuations of a 250-point
# sheep takes ~63 ms on the 2-core CPU against ~29 ms for 4 (bench/continuation_length.py measures the effect)
MAX_ATTEMPTS = 24
ATTEMPTS_PER_DRAWING = 4


def finished(sketch: np.ndarray, max_len: int) -> bool:
    """Whether the model ended this drawing itself: it has points, and fewer than the ``max_len`` it may draw."""
    return 0 < len(sketch) < int(max_len)


def attempts_for(n: int, per_drawing: int = ATTEMPTS_PER_DRAWING) -> int:
    """How many drawings to make for ``n`` wanted: ``per_drawing`` each, at most MAX_ATTEMPTS in all, never fewer
    than n."""
    return max(int(n), min(int(per_drawing) * int(n), MAX_ATTEMPTS))


def prefer_finished(sketches: Sequence[np.ndarray], n: int, max_len: int) -> list[np.ndarray]:
    """``n`` of ``sketches``: first those the model ended itself, then those that ran out of points, then empty
    ones, each kind in its original order (so a seed still gives the same choice)."""
    done = [s for s in sketches if finished(s, max_len)]
    running = [s for s in sketches if len(s) >= int(max_len)]
    empty = [s for s in sketches if len(s) == 0]
    return (done + running + empty)[: int(n)]
