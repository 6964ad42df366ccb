"""A run's segments: every start or ``--resume`` of training is one segment, with its steps, hardware and wall time.

state.json and the model card describe the run whole: a run resumed on another machine, or pinned to fewer cores for
a while, names each machine with the steps it trained, and its wall time adds up across resumes (the time between two
``train`` calls of one process is not counted).
"""
from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sketchgen.errors import SketchGenError
from training import checkpoint as ckpt


class RunSegments:
    """The closed segments of a run and the open one (from ``first_step``, started at ``started``)."""

    def __init__(self) -> None:
        self.closed: list[dict[str, Any]] = []
        self.wall_time_before = 0.0  # the closed segments' training time
        self.first_step = 0
        self.started = time.perf_counter()

    def begin(self, step: int) -> None:
        """The open segment starts now, at ``step``."""
        self.started = time.perf_counter()
        self.first_step = step

    def close(self, step: int) -> None:
        """At the end of a ``train`` call: its steps and time join the closed ones (if it trained any)."""
        if step > self.first_step:
            self.closed.append(self._open(step))
            self.wall_time_before += time.perf_counter() - self.started
        self.begin(step)

    def _open(self, step: int) -> dict[str, Any]:
        return {"steps": [self.first_step, step], "hardware": describe_hardware(),
                "wall_time_s": round(time.perf_counter() - self.started, 1)}

    def record(self, step: int) -> dict[str, Any]:
        """What state.json keeps at ``step``: ``segments``, the one-line ``hardware`` summary and ``wall_time_s``."""
        segments = [*self.closed]
        if step > self.first_step or not segments:
            segments.append(self._open(step))
        return {"hardware": summarize_hardware(segments), "segments": segments,
                "wall_time_s": round(self.wall_time_before + time.perf_counter() - self.started, 1)}

    def continue_model(self, steps_trained: int, wall_time_s: float) -> None:
        """A fresh run started from an exported model (``--init-from``): its steps and training time count."""
        self.wall_time_before = wall_time_s
        self.first_step = steps_trained

    def restore(self, state: dict[str, Any], first_step: int, metrics_path: Path) -> None:
        """A resumed run's segments from its state.json; ``first_step``: where the run began (its --init-from steps)."""
        step = int(state["step"])
        self.wall_time_before = float(state.get("wall_time_s") or _wall_time_from_metrics(metrics_path, step))
        self.closed = list(state.get("segments") or [])
        if not self.closed and state.get("hardware"):  # a state.json with one hardware line and no segments
            self.closed = [{"steps": [first_step, step], "hardware": state["hardware"], "wall_time_s": None,
                            "note": "recorded as one segment"}]
        self.begin(step)


def describe_hardware() -> str:
    """What the run trains on, for the model card: the GPUs TensorFlow sees, else the CPU model and core count."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
        return f"{len(gpus)} x GPU ({', '.join(sorted(set(names)))})"
    cpu = "CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    total = os.cpu_count() or 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else total
    cores = f"{usable} of {total} cores" if usable < total else f"{total} cores"  # e.g. pinned with taskset
    return f"{cores} ({cpu}), no GPU"


def summarize_hardware(segments: Sequence[dict[str, Any]]) -> str:
    """One line for the model card: the hardware, or each different one with the steps it trained."""
    kinds: dict[str, list[str]] = {}
    for seg in segments:
        first, last = seg.get("steps") or (None, None)
        kinds.setdefault(str(seg.get("hardware")), []).append(f"{first}-{last}")
    if len(kinds) == 1:
        return next(iter(kinds))
    return "; ".join(f"{hardware} (steps {', '.join(spans)})" for hardware, spans in kinds.items())


def _wall_time_from_metrics(path: Path, step: int) -> float:
    """Estimate the training time of a checkpoint that recorded none: the sum of the gaps between consecutive logged
    steps up to ``step`` (gaps over 10 minutes, a stopped run, are left out)."""
    try:
        times = [r["time"] for r in ckpt.read_metrics(path) if r.get("step", 0) <= step and "time" in r]
    except SketchGenError:
        return 0.0
    return float(sum(b - a for a, b in zip(times, times[1:]) if 0 < b - a < 600))
