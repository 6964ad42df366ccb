"""Training throughput (sketches per second) of the default config on this machine, against the original's batching.

    python bench/train_throughput.py [--steps 2] [--lengths 64,128,250] [--threads N]

Default config, batch 100, the aaron_sheep training set (``../shared/data``; lengths drawn to match its
distribution when it is absent). Two things decide the speed of a train step: how the LSTMs run and how many steps
every batch is padded to. So the benchmark

1. times real train steps (``Trainer.train_step``, forward + backward + Adam) of both LSTM implementations at a few
   padded lengths T, interleaved so that both see the same load, and fits ``seconds = a + b T`` to each (the
   recurrence makes a step linear in T);
2. plans one epoch of batches with each batching (nothing trained: ``TrainBatcher`` only) and takes its padded
   lengths;
3. reports, per combination, the epoch's mean padded length, the seconds per step the fit predicts over that
   epoch's lengths, and sketches per second, beside the baseline: the phase-1 model (keras.layers.RNN) padded to
   N_max = 250 for every batch, as the original sketch-rnn trains.

The CPU is usually shared: wall times are medians, and the CPU seconds (all threads) are given beside them.
Writes the table to bench/results/train_throughput.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from sketchgen.config import HParams  # noqa: E402
from training.dataset import (BatchingOptions, SketchData, TrainBatcher, load_sketch_data,  # noqa: E402
                              make_batch)
from training.trainer import TrainOptions, Trainer  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "sketch-rnn-datasets"
RESULTS = REPO / "bench" / "results" / "train_throughput.md"
# aaron_sheep training lengths: quantiles (0, 10, 25, 50, 75, 90, 100 %) for when the file is absent
SHEEP_QUANTILES = ([0, 0.10, 0.25, 0.50, 0.75, 0.90, 1.0], [20, 65, 87, 118, 159, 200, 250])
BATCHINGS = {  # name -> BatchingOptions
    "padded to N_max (the original)": BatchingOptions(bucketing=False),
    "phase-1 buckets (pools of 10 batches, stored length, multiple of 8)": BatchingOptions(**{
        "bucketing": True, **BatchingOptions.LEGACY}),
    "default buckets (whole epoch, augmented length)": BatchingOptions(),
}
IMPLEMENTATIONS = {"reference": "keras.layers.RNN (phase 1)", "fused": "fused TF loop + z projected once"}


def training_sketches() -> tuple[list[np.ndarray], str]:
    if (DATA / "aaron_sheep.npz").is_file():
        data = load_sketch_data(["aaron_sheep"], DATA, 250)
        return data.splits["train"], "aaron_sheep (7400 training sketches)"
    rng = np.random.default_rng(0)
    lengths = np.interp(rng.random(7400), *SHEEP_QUANTILES).astype(int)
    sketches = []
    for n in lengths:
        s = np.zeros((n, 3), np.float32)
        s[:, :2] = rng.normal(size=(n, 2))
        s[rng.random(n) < 0.1, 2] = 1
        s[-1, 2] = 1
        sketches.append(s)
    return sketches, "generated sketches with aaron_sheep's length distribution (data file absent)"


def epoch_lengths(sketches: list[np.ndarray], options: BatchingOptions, hp: HParams) -> np.ndarray:
    batcher = TrainBatcher(sketches, hp.batch_size, 250, hp.seed, hp.random_scale_factor, hp.augment_stroke_prob,
                           options)
    return np.array([batcher.next_batch().strokes.shape[1] - 1 for _ in range(batcher.batches_per_epoch)])


def time_steps(sketches: list[np.ndarray], lengths: list[int], steps: int) -> dict[str, dict[int, tuple]]:
    """implementation -> T -> (median wall s, median CPU s) of a train step at padded length T."""
    hp = HParams()
    data = SketchData(splits={"train": sketches, "valid": sketches[:100], "test": sketches[:100]},
                      scale_factor=1.0, max_seq_len=250, requested_max_seq_len=250)
    trainers = {name: Trainer(hp, data, tempfile.mkdtemp(), TrainOptions(progress=False, lstm_implementation=name))
                for name in IMPLEMENTATIONS}
    rng = np.random.default_rng(1)
    results: dict[str, dict[int, tuple]] = {name: {} for name in trainers}
    for t in lengths:
        pool = [s for s in sketches if len(s) <= t] or [sketches[0][:t]]
        chosen = [pool[i] for i in rng.integers(0, len(pool), hp.batch_size)]
        batch = make_batch(chosen, t)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in trainers}
        for name, trainer in trainers.items():
            trainer.train_step(batch.strokes, batch.lengths)  # warm-up (traces once; shapes are dynamic)
        for _ in range(steps):
            for name, trainer in trainers.items():
                wall, cpu = time.perf_counter(), time.process_time()
                trainer.train_step(batch.strokes, batch.lengths)
                samples[name].append((time.perf_counter() - wall, time.process_time() - cpu))
        for name, values in samples.items():
            results[name][t] = tuple(np.median(np.array(values), axis=0))
            print(f"  T={t:3d} {name:9s} {results[name][t][0]:6.2f} s/step wall, {results[name][t][1]:6.2f} s CPU",
                  flush=True)
    return results


def fit(points: dict[int, tuple], column: int) -> tuple[float, float]:
    ts = np.array(sorted(points))
    return tuple(np.polyfit(ts, [points[t][column] for t in ts], 1)[::-1])  # (a, b)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2, help="timed steps per implementation and length")
    parser.add_argument("--lengths", default="64,128,250", help="padded lengths T to time")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0: all cores)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    lengths = sorted({int(t) for t in args.lengths.split(",")})
    sketches, source = training_sketches()
    hp = HParams()
    print(f"data: {source}", flush=True)
    epochs = {name: epoch_lengths(sketches, options, hp) for name, options in BATCHINGS.items()}
    started = time.time()
    measured = time_steps(sketches, lengths, args.steps)
    fits = {name: (fit(points, 0), fit(points, 1)) for name, points in measured.items()}

    def predicted(name: str, batching: str, column: int) -> float:
        a, b = fits[name][column]
        return float(np.mean(a + b * epochs[batching]))

    baseline_name, baseline_batching = "reference", "padded to N_max (the original)"
    base_wall = predicted(baseline_name, baseline_batching, 0)
    base_cpu = predicted(baseline_name, baseline_batching, 1)
    rows = []
    for name, label in IMPLEMENTATIONS.items():
        for batching in BATCHINGS:
            wall, cpu = predicted(name, batching, 0), predicted(name, batching, 1)
            rows.append((label, batching, float(epochs[batching].mean()), wall, hp.batch_size / wall,
                         base_wall / wall, cpu, base_cpu / cpu))
    lines = [
        "# Training throughput: default config, batch 100",
        "",
        f"`python bench/train_throughput.py --steps {args.steps} --lengths {args.lengths}`; {source}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared with other work: wall "
        f"times vary, CPU seconds less so); TensorFlow {tf.__version__}; measured in "
        f"{(time.time() - started) / 60:.1f} min.",
        "",
        "Seconds per step are the fitted `a + b T` of the measured steps below, averaged over one epoch's padded "
        "lengths T of each batching. Baseline: the phase-1 model padded to N_max = 250 for every batch.",
        "",
        "| LSTM | batching | mean padded T | s/step | sketches/s | speed-up | CPU s/step | CPU speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, batching, mean_t, wall, rate, speedup, cpu, cpu_speedup in rows:
        lines.append(f"| {label} | {batching} | {mean_t:.1f} | {wall:.2f} | {rate:.1f} | {speedup:.2f}x | "
                     f"{cpu:.2f} | {cpu_speedup:.2f}x |")
    lines += ["", "Measured train steps (median of the timed steps; wall seconds / CPU seconds of all threads):", "",
              "| T | " + " | ".join(IMPLEMENTATIONS.values()) + " |", "|---:|" + "---:|" * len(IMPLEMENTATIONS)]
    for t in lengths:
        lines.append(f"| {t} | " + " | ".join(f"{measured[n][t][0]:.2f} / {measured[n][t][1]:.2f}"
                                               for n in IMPLEMENTATIONS) + " |")
    table = "\n".join(lines) + "\n"
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    tmp.write_text(table, encoding="utf-8")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
