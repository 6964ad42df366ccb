"""Checkpoint folders of a training run, written atomically, and loading a trained model back.

An experiment folder holds::

    config.json     the HParams of the run (max_seq_len is the N_max actually used)
    data.json       scale_factor, max_seq_len, the data files (names, paths, sha256) and filter counts
    metrics.jsonl   one JSON object per logged training step and per evaluation
    latest/         the newest checkpoint: ckpt.index + ckpt.data-*, state.json, config.json, data.json
    best/           the checkpoint with the lowest validation L_R + max(L_KL, kl_tolerance), same layout

A checkpoint folder is filled under a temporary name and then swapped in with two renames (old -> ``.NAME.old``,
new -> NAME); a process killed at any moment leaves either the new folder or the complete old one, and
:func:`checkpoint_dir` finds whichever survived. ``state.json`` holds the step, the data sampler's Generator state
and the best validation cost, so ``--resume`` continues the run exactly.
"""
from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sketchgen.errors import ModelError
from sketchgen.fileio import aside_name, atomic_dir, recover_dir

LATEST = "latest"
BEST = "best"
CKPT_PREFIX = "ckpt"
STATE_FILE = "state.json"
CONFIG_FILE = "config.json"
DATA_FILE = "data.json"
METRICS_FILE = "metrics.jsonl"
FORMAT_VERSION = 1


def recover(target: Path) -> None:
    """Finish a swap that a killed process left half done (only the writer of the experiment calls this)."""
    recover_dir(target)


def clean_stale_temporaries(experiment_dir: Path) -> None:
    """Remove half-written temporary checkpoint folders of a killed run."""
    for path in experiment_dir.glob(".*.tmp-*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def write_dir_atomically(target: Path, fill: Callable[[Path], None]) -> None:
    """Create ``target`` (replacing an existing one) with the files ``fill(temporary_folder)`` writes."""
    with atomic_dir(target) as tmp:
        fill(tmp)


def checkpoint_dir(path: str | Path, which: str = LATEST) -> Path | None:
    """The complete checkpoint folder ``which`` of an experiment, or None; read-only (never renames)."""
    experiment = Path(path)
    for candidate in (experiment / which, aside_name(experiment / which)):
        if (candidate / STATE_FILE).is_file() and (candidate / f"{CKPT_PREFIX}.index").is_file():
            return candidate
    return None


def read_json(path: Path, error_path: Path | None = None) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(error_path or path, "missing") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(error_path or path, f"cannot read ({exc})") from None
    if not isinstance(value, dict):
        raise ModelError(error_path or path, "expected a JSON object")
    return value


STATE_KEYS = ("step", "batcher")  # what --resume cannot go on without


def read_state(folder: Path) -> dict[str, Any]:
    """A checkpoint's state.json, checked for the keys a resume needs (a ModelError naming the file if not)."""
    path = folder / STATE_FILE
    state = read_json(path)
    missing = [key for key in STATE_KEYS if key not in state]
    if missing:
        raise ModelError(path, f"has no {', '.join(repr(k) for k in missing)}: not a complete checkpoint state")
    step = state["step"]
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise ModelError(path, f"'step' must be a whole number >= 0, found {step!r}")
    if not isinstance(state["batcher"], dict):
        raise ModelError(path, f"'batcher' must be a JSON object, found {type(state['batcher']).__name__}")
    return state


def read_data_info(experiment: Path) -> dict[str, Any]:
    """A run's data.json, checked for what ``--resume`` needs: the scale factor and the data files it used."""
    path = experiment / DATA_FILE
    info = read_json(path)
    scale = info.get("scale_factor")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise ModelError(path, f"'scale_factor' must be a positive number, found {scale!r}")
    sources = info.get("sources")
    if not isinstance(sources, list) or not sources or not all(
            isinstance(s, dict) and all(isinstance(s.get(key), str) for key in ("name", "path", "sha256"))
            for s in sources):
        raise ModelError(path, "'sources' must list the run's data files (name, path and sha256 of each)")
    return info


def verify_checkpoint(folder: Path) -> None:
    """Read every tensor of a checkpoint once (a truncated ``ckpt.data-*`` fails here, naming the folder), and check
    its state.json. Changes nothing: ``--resume`` calls it before it touches the run."""
    import tensorflow as tf

    read_state(folder)
    prefix = str(folder / CKPT_PREFIX)
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as exc:  # TensorFlow reports a damaged file as OpError, IndexError, ValueError ...
        raise ModelError(folder, f"the checkpoint is damaged or truncated and cannot be read "
                                 f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a run's ``metrics.jsonl``, in order. A partial last line (a run killed mid-write) is skipped;
    any other line that is not a JSON object is a ModelError naming the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ModelError(path, "missing: is this a training run's folder?") from None
    except OSError as exc:
        raise ModelError(path, f"cannot read ({exc})") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                continue
            raise ModelError(path, f"line {number} is not JSON") from None
        if not isinstance(record, dict):
            raise ModelError(path, f"line {number} is not a JSON object")
        records.append(record)
    return records


def write_json(path: Path, value: dict[str, Any]) -> None:
    from sketchgen.fileio import atomic_write
    with atomic_write(path, mode="w") as fh:
        fh.write(json.dumps(value, indent=2, sort_keys=True))


# --------------------------------------------------------------------------------------------------------------------
# loading a trained model (evaluate, export)

@dataclass
class TrainedModel:
    """A model restored from a checkpoint folder, with its config and the data facts it needs at inference."""

    model: Any            # training.model.SketchRNN
    hparams: Any          # sketchgen.config.HParams
    data: dict[str, Any]  # data.json: scale_factor, max_seq_len, data_sets, sources, ...
    state: dict[str, Any] # state.json: step, best validation numbers, ...
    directory: Path

    @property
    def step(self) -> int:
        return int(self.state["step"])

    @property
    def scale_factor(self) -> float:
        return float(self.data["scale_factor"])


def find_checkpoint(path: str | Path, which: str = BEST) -> Path:
    """``path`` is a checkpoint folder, or an experiment folder whose ``which`` (falling back to latest) is used."""
    path = Path(path)
    if (path / STATE_FILE).is_file():
        return path
    if not path.is_dir():
        raise ModelError(path, "no such experiment or checkpoint folder")
    found = checkpoint_dir(path, which) or (checkpoint_dir(path, LATEST) if which == BEST else None)
    if found is None:
        raise ModelError(path, f"holds no complete '{which}' checkpoint (is it a sketchgen-train experiment "
                               "folder, and has the run saved a checkpoint yet?)")
    return found


def load_trained_model(path: str | Path, which: str = BEST) -> TrainedModel:
    """Rebuild the SketchRNN of a checkpoint and read its weights (the optimizer state is ignored)."""
    import tensorflow as tf

    from sketchgen.config import HParams
    from training.model import SketchRNN

    folder = find_checkpoint(path, which)
    hp = HParams.from_json((folder / CONFIG_FILE).read_text(encoding="utf-8"), source=str(folder / CONFIG_FILE))
    data = read_json(folder / DATA_FILE)
    state = read_json(folder / STATE_FILE)
    model = SketchRNN(hp)
    try:
        status = tf.train.Checkpoint(model=model).read(str(folder / CKPT_PREFIX))
        status.assert_existing_objects_matched()
        status.expect_partial()  # the optimizer and seed states are only needed to resume training
    except Exception as exc:  # a damaged file: OpError, ValueError, AssertionError, IndexError (truncated data) ...
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ModelError(folder, f"cannot read the checkpoint, it may be damaged or truncated "
                                 f"({type(exc).__name__}: {first})") from None
    return TrainedModel(model=model, hparams=hp, data=data, state=state, directory=folder)
