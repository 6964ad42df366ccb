"""Training data for sketch-rnn: load, combine, filter, normalise, and cut into padded stroke-5 batches.

Follows magenta's ``sketch_rnn_train.load_dataset`` and ``utils.DataLoader``: the splits of several data files are
concatenated; offsets are clamped to +-1000 (the original's ``limit``); sketches longer than ``max_seq_len`` are
dropped (and counted, never cut); ``max_seq_len`` then shrinks to the longest sketch kept (the original overwrites
it with the data's longest sketch, and it is the ``N_max`` that divides L_R); the scale factor is the std of every
dx, dy of the training split and normalises every split. Training batches are augmented per sketch in the
original's order: normalised data -> random per-axis scale -> random point dropping -> stroke-5.

Unlike the original (which pads every batch to N_max), training batches are *length-bucketed*: sketches of similar
length share a batch and the batch is padded only to its longest sketch plus one end-of-sketch row (rounded up to a
multiple of ``pad_multiple`` so the compiled step sees few shapes). Evaluation batches are padded to N_max exactly
as the original, so validation and test numbers compare with the reference.

All randomness comes from one explicit numpy Generator whose state (with the epoch and position) is saved in every
checkpoint, so a resumed run sees exactly the batches an uninterrupted run would.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sketchgen.fileio import sha256_file
from sketchgen.datafiles import SPLITS, load_npz
from sketchgen.errors import ConfigError, DataFileError, SketchError
from sketchgen.model_folder import START_TOKEN
from sketchgen.strokes import (augment_drop_points, augment_random_scale, clamp, filter_by_length, normalize,
                               scale_factor, stroke3_to_stroke5)

OFFSET_LIMIT = 1000.0  # magenta's DataLoader `limit`: larger |dx|, |dy| are clamped ("removes large gaps")


# --------------------------------------------------------------------------------------------------------------------
# locating data files

def resolve_data_file(entry: str, data_dir: str | Path | None) -> Path:
    """<data_dir>/<entry>[.npz] when that exists ("cat", "aaron_sheep.npz"), else ``entry`` as a path.

    A missing file is a DataFileError; for a plain name it says that ``sketchgen-data download`` fetches it.
    """
    file_name = entry if entry.endswith(".npz") else f"{entry}.npz"
    if data_dir is not None:
        in_dir = Path(data_dir).expanduser() / file_name
        if in_dir.is_file():
            return in_dir
    as_path = Path(entry).expanduser()
    if as_path.is_file():
        return as_path
    plain_name = Path(entry).name == entry
    category = file_name.removesuffix(".npz")
    hint = ""
    if plain_name:
        out_dir = f" --out-dir {data_dir}" if data_dir is not None else ""
        hint = f"; if {category} is a QuickDraw category, `sketchgen-data download {category}{out_dir}` fetches it"
    if data_dir is not None and plain_name:
        folder = Path(data_dir).expanduser()
        if not folder.is_dir():
            raise DataFileError(folder, f"data folder does not exist (looking for {file_name}){hint}")
        raise DataFileError(folder / file_name, f"no such data file{hint}")
    raise DataFileError(as_path, f"no such data file{hint}")




# --------------------------------------------------------------------------------------------------------------------
# the loaded data

@dataclass
class DataSource:
    """One data file that went into the run (recorded in data.json for the export's model card)."""

    name: str
    path: str
    sha256: str
    sketches: dict[str, int]   # per split, as stored in the file
    filtered: dict[str, int]   # per split, dropped for being longer than max_seq_len


@dataclass
class SketchData:
    """Normalised stroke-3 sketches per split plus what is needed to reproduce the normalisation."""

    splits: dict[str, list[np.ndarray]]
    scale_factor: float
    max_seq_len: int                  # N_max: the longest kept sketch, <= the requested max_seq_len
    requested_max_seq_len: int
    sources: list[DataSource] = field(default_factory=list)
    clamped_sketches: int = 0         # sketches with an offset beyond +-OFFSET_LIMIT (clamped, as the original)

    @property
    def filtered(self) -> dict[str, int]:
        return {split: sum(s.filtered[split] for s in self.sources) for split in SPLITS}

    def info(self) -> dict[str, Any]:
        """What data.json records: enough to normalise new sketches and to cite the data."""
        return {
            "scale_factor": self.scale_factor,
            "max_seq_len": self.max_seq_len,
            "requested_max_seq_len": self.requested_max_seq_len,
            "data_sets": [s.name for s in self.sources],
            "sources": [vars(s) for s in self.sources],
            "sketches": {split: len(v) for split, v in self.splits.items()},
            "filtered_too_long": self.filtered,
            "clamped_sketches": self.clamped_sketches,
            "offset_limit": OFFSET_LIMIT,
        }

    def summary(self) -> str:
        counts = "/".join(str(len(self.splits[s])) for s in SPLITS)
        lines = [f"data: {', '.join(s.name for s in self.sources)}: {counts} train/valid/test sketches, "
                 f"scale factor {self.scale_factor:.4f}, max_seq_len {self.max_seq_len}"]
        dropped = self.filtered
        if any(dropped.values()):
            lines.append("data: dropped " + ", ".join(f"{n} {s}" for s, n in dropped.items() if n)
                         + f" sketches longer than max_seq_len={self.requested_max_seq_len}")
        if self.max_seq_len < self.requested_max_seq_len:
            lines.append(f"data: max_seq_len {self.requested_max_seq_len} -> {self.max_seq_len} "
                         "(the longest sketch; sketch-rnn uses the data's longest sketch as N_max)")
        if self.clamped_sketches:
            lines.append(f"data: {self.clamped_sketches} sketches had offsets beyond +-{OFFSET_LIMIT:g}, clamped")
        return "\n".join(lines)


def load_sketch_data(entries: Sequence[str], data_dir: str | Path | None, max_seq_len: int,
                     scale: float | None = None, expected_sha256: dict[str, str] | None = None) -> SketchData:
    """Load, combine, clamp, filter and normalise one or several data files.

    ``scale`` (from a run being resumed or evaluated) replaces the computed scale factor; ``expected_sha256`` maps
    a source name to the checksum recorded when the run started, so a changed file is an error, not a silent drift.
    """
    if not entries:
        raise ConfigError("no data set given (use --data NAME or a data_set hyperparameter)")
    splits: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    sources: list[DataSource] = []
    clamped = 0
    for entry in entries:
        path = resolve_data_file(entry, data_dir)
        name = path.name
        digest = sha256_file(path)
        if expected_sha256 and name in expected_sha256 and expected_sha256[name] != digest:
            raise DataFileError(path, "this file changed since the run started (sha256 differs from data.json); "
                                      "resuming on different data would not continue the same run")
        data = load_npz(path)
        stored = {s: len(data[s]) for s in SPLITS}
        filtered = {}
        for split in SPLITS:
            kept, dropped = filter_by_length(data[split], min_len=1, max_len=max_seq_len)
            filtered[split] = dropped
            for sketch in kept:
                if np.abs(sketch[:, 0:2]).max() > OFFSET_LIMIT:
                    clamped += 1
                    sketch = clamp(sketch, OFFSET_LIMIT)
                splits[split].append(sketch)
        sources.append(DataSource(name=name, path=str(path.resolve()), sha256=digest, sketches=stored,
                                  filtered=filtered))
    if not splits["train"]:
        raise DataFileError(Path(entries[0]), f"no training sketches of at most max_seq_len={max_seq_len} points")
    for split in ("valid", "test"):
        if not splits[split]:
            raise DataFileError(Path(entries[0]), f"the {split} split is empty (after dropping sketches longer "
                                                  f"than max_seq_len={max_seq_len}); evaluation needs it")
    try:
        factor = scale_factor(splits["train"]) if scale is None else float(scale)
    except SketchError as exc:  # every offset zero: name the file(s), not just the problem
        named = sources[0].path if len(sources) == 1 else ", ".join(s.path for s in sources)
        raise DataFileError(named, f"training split: {str(exc).removeprefix('scale_factor: ')}") from None
    splits = {split: [normalize(s, factor) for s in sketches] for split, sketches in splits.items()}
    longest = max(len(s) for sketches in splits.values() for s in sketches)
    return SketchData(splits=splits, scale_factor=factor, max_seq_len=min(longest, max_seq_len),
                      requested_max_seq_len=max_seq_len, sources=sources, clamped_sketches=clamped)


# --------------------------------------------------------------------------------------------------------------------
# batches

@dataclass
class Batch:
    """strokes: float32 [B, T+1, 5], start token first; lengths: int32 [B] (points of each sketch, <= T)."""

    strokes: np.ndarray
    lengths: np.ndarray

    @property
    def size(self) -> int:
        return int(self.lengths.shape[0])


def make_batch(sketches: Sequence[np.ndarray], pad_to: int) -> Batch:
    """stroke-3 sketches -> stroke-5 padded with end-of-sketch rows to ``pad_to`` steps, start token prepended."""
    strokes = np.empty((len(sketches), pad_to + 1, 5), dtype=np.float32)
    strokes[:, 0] = START_TOKEN
    for i, sketch in enumerate(sketches):
        strokes[i, 1:] = stroke3_to_stroke5(sketch, pad_to)
    return Batch(strokes, np.array([len(s) for s in sketches], dtype=np.int32))


def bucket_length(longest: int, max_seq_len: int, pad_multiple: int) -> int:
    """Steps to pad a batch to: its longest sketch + one end-of-sketch row, rounded up, at most N_max."""
    steps = -(-(longest + 1) // pad_multiple) * pad_multiple
    return min(steps, max_seq_len)


def evaluation_batches(sketches: Sequence[np.ndarray], batch_size: int, max_seq_len: int) -> Iterator[Batch]:
    """Every sketch once, in order, padded to N_max like the original's evaluation (the last batch may be short)."""
    for start in range(0, len(sketches), batch_size):
        yield make_batch(sketches[start:start + batch_size], max_seq_len)


@dataclass
class BatchingOptions:
    """How training batches are formed (saved with each checkpoint: a resumed run must batch the same way)."""

    bucketing: bool = True       # False: uniform random batches padded to N_max, exactly as the original
    pool_batches: int = 0        # bucketing sorts pools of this many batches by length (0: the whole epoch)
    pad_multiple: int = 1        # bucket lengths are multiples of this (8 for XLA: fewer shapes to compile)
    sort_augmented: bool = True  # sort by the length after augmentation (the epoch is augmented when planned)

    # what a checkpoint written before an option existed used: a resumed run keeps its data order
    LEGACY: ClassVar[dict[str, Any]] = {"pool_batches": 10, "pad_multiple": 8, "sort_augmented": False}

    def __post_init__(self) -> None:
        if self.pool_batches < 0 or self.pad_multiple < 1:
            raise ConfigError("pool_batches must be >= 0 and pad_multiple >= 1")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "BatchingOptions":
        """Options saved in a checkpoint's state.json; keys it lacks take the values of the code that wrote it."""
        known = {f.name for f in fields(cls)}
        return cls(**{**cls.LEGACY, **{k: v for k, v in values.items() if k in known}})


class TrainBatcher:
    """Endless augmented training batches, epoch by epoch, from one numpy Generator; ``state()`` resumes exactly.

    An epoch shuffles the training sketches and uses ``len // batch_size`` full batches (the rest waits for the next
    epoch's shuffle). With bucketing, each pool of ``pool_batches`` batches (0: the whole epoch) is sorted by length
    before it is cut, and the order of the epoch's batches is shuffled, so batches hold similar lengths but every
    sketch is still seen once per epoch. With ``sort_augmented`` the epoch's sketches are augmented when the epoch
    is planned and sorted by their augmented length (point dropping shortens each sketch by a random amount, so
    sorting by the stored length leaves about 10 % padding in every batch); otherwise each batch is augmented
    when it is drawn (the original's order, and the one of runs started before this option).
    """

    def __init__(self, sketches: Sequence[np.ndarray], batch_size: int, max_seq_len: int, seed: int,
                 random_scale_factor: float, augment_stroke_prob: float, options: BatchingOptions | None = None):
        if len(sketches) < batch_size:
            raise ConfigError(f"batch_size={batch_size} is larger than the {len(sketches)} training sketches")
        self.sketches = list(sketches)
        self.lengths = np.array([len(s) for s in sketches])
        self.batch_size = batch_size
        self.max_seq_len = max_seq_len
        self.random_scale_factor = random_scale_factor
        self.augment_stroke_prob = augment_stroke_prob
        self.options = options or BatchingOptions()
        self.rng = np.random.default_rng(seed)
        self.epoch = 0
        self.position = 0
        self._epoch_start_state = copy.deepcopy(self.rng.bit_generator.state)
        self._augmented: dict[int, np.ndarray] = {}
        self._plan = self._plan_epoch()

    @property
    def batches_per_epoch(self) -> int:
        return len(self.sketches) // self.batch_size

    def _plan_epoch(self) -> list[np.ndarray]:
        order = self.rng.permutation(len(self.sketches))[: self.batches_per_epoch * self.batch_size]
        self._augmented = {}
        if not self.options.bucketing:
            return list(order.reshape(-1, self.batch_size))
        lengths = self.lengths
        if self.options.sort_augmented:
            self._augmented = {int(i): self.augment(self.sketches[i]) for i in order}
            lengths = np.zeros(len(self.sketches), dtype=np.int64)
            lengths[order] = [len(self._augmented[int(i)]) for i in order]
        batches: list[np.ndarray] = []
        pool_size = (self.options.pool_batches or self.batches_per_epoch) * self.batch_size
        for start in range(0, len(order), pool_size):
            pool = order[start:start + pool_size]
            pool = pool[np.argsort(lengths[pool], kind="stable")]
            batches.extend(pool.reshape(-1, self.batch_size))
        return [batches[i] for i in self.rng.permutation(len(batches))]

    def _next_indices(self) -> np.ndarray:
        if self.position >= len(self._plan):
            self.epoch += 1
            self.position = 0
            self._epoch_start_state = copy.deepcopy(self.rng.bit_generator.state)
            self._plan = self._plan_epoch()
        indices = self._plan[self.position]
        self.position += 1
        return indices

    def augment(self, sketch: np.ndarray) -> np.ndarray:
        """The original's order: random per-axis scale, then random point dropping."""
        out = augment_random_scale(sketch, self.rng, self.random_scale_factor)
        if self.augment_stroke_prob > 0:
            out = augment_drop_points(out, self.rng, self.augment_stroke_prob)
        return out

    def next_batch(self) -> Batch:
        indices = self._next_indices()
        if self._augmented:  # augmented when the epoch was planned
            sketches = [self._augmented.pop(int(i)) for i in indices]
        else:
            sketches = [self.augment(self.sketches[i]) for i in indices]
        longest = max(len(s) for s in sketches)
        pad_to = (bucket_length(longest, self.max_seq_len, self.options.pad_multiple) if self.options.bucketing
                  else self.max_seq_len)
        return make_batch(sketches, pad_to)

    # -- exact resume ----------------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """JSON-able: the generator now, the generator at the start of this epoch (to rebuild its plan), position."""
        return {"epoch": self.epoch, "position": self.position,
                "epoch_start_rng": copy.deepcopy(self._epoch_start_state),
                "rng": copy.deepcopy(self.rng.bit_generator.state),
                "train_sketches": len(self.sketches)}

    def restore(self, state: dict[str, Any]) -> None:
        if state.get("train_sketches") != len(self.sketches):
            raise ConfigError(f"the checkpoint was trained on {state.get('train_sketches')} training sketches, "
                              f"the data now has {len(self.sketches)}; resuming needs the same data")
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self.rng.bit_generator.state = copy.deepcopy(state["epoch_start_rng"])
        self._epoch_start_state = copy.deepcopy(state["epoch_start_rng"])
        self._plan = self._plan_epoch()
        for used in self._plan[:self.position]:  # batches of this epoch that were trained before the checkpoint
            for i in used:
                self._augmented.pop(int(i), None)
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])


BatchSource = Callable[[], Batch]
