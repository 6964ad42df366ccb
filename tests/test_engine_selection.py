"""Choosing among attempts: drawings the model ended itself first, then those that ran out of points, then empty
ones."""
from __future__ import annotations

import numpy as np

from sketchgen.engine.selection import MAX_ATTEMPTS, attempts_for, finished, prefer_finished


def _sketch(points: int) -> np.ndarray:
    s = np.zeros((points, 3), np.float32)
    s[:, 0] = np.arange(points)
    if points:
        s[-1, 2] = 1
    return s


def test_finished_means_ended_before_the_last_point() -> None:
    assert finished(_sketch(1), 250) and finished(_sketch(249), 250)
    assert not finished(_sketch(250), 250)  # ran out of points: the model never ended it
    assert not finished(_sketch(0), 250)  # ended before drawing anything


def test_finished_drawings_come_first_in_their_order() -> None:
    looping, empty, short, long_ = _sketch(250), _sketch(0), _sketch(5), _sketch(120)
    chosen = prefer_finished([looping, empty, short, looping, long_], 3, 250)
    assert [len(s) for s in chosen] == [5, 120, 250]
    assert chosen[0] is short and chosen[1] is long_
    assert [len(s) for s in prefer_finished([empty, looping], 2, 250)] == [250, 0]
    assert prefer_finished([short], 4, 250) == [short]  # never more than were drawn


def test_attempts_grow_with_the_request_up_to_a_cap() -> None:
    assert attempts_for(1) == 4 and attempts_for(4) == 16
    assert attempts_for(12) == MAX_ATTEMPTS
    assert attempts_for(40) == 40  # never fewer than asked for


def test_continuation_attempts_follow_the_models_measured_continuations() -> None:
    """Extra attempts only where the card's quality table saw continuations run on (or has no such table)."""
    from sketchgen.engine.selection import continuation_attempts, continuations_run_on

    def quality(never_end: tuple[float, float], rule: str = "js") -> dict:
        return {"temperature_rule": rule, "continuations": {"by_fraction": {
            "0.4": {"never_end": never_end[0]}, "0.7": {"never_end": never_end[1]}}}}

    assert continuations_run_on(quality((0.05, 0.0))) and continuation_attempts(4, quality((0.05, 0.0))) == 16
    assert not continuations_run_on(quality((0.0, 0.0))) and continuation_attempts(4, quality((0.0, 0.0))) == 4
    assert continuations_run_on(quality((0.0, 0.0)), rule="paper")  # measured under another rule: no evidence
    for unknown in (None, {}, {"temperature_rule": "js"}, {"temperature_rule": "js", "continuations": None},
                    {"temperature_rule": "js", "continuations": {"by_fraction": {}}}, "garbage"):
        assert continuations_run_on(unknown) and continuation_attempts(2, unknown) == 8
