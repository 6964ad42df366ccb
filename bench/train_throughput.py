"""Training throughput (sketches per second) of the default config on this machine, against the original's batching.

    python bench/train_throughput.py [--steps 2] [--lengths 64,128,250] [--threads N]
    python bench/train_throughput.py --cells lstm,layer_norm,hyper [--steps 2] [--lengths 64,128]

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

``--cells`` instead times the train step of each decoder cell (``dec_model``) at the default sizes, each with the
LSTM implementation ``auto`` picks for it (the plain LSTM's fused loop; layer norm and HyperLSTM run
keras.layers.RNN), interleaved on the same batches, and writes bench/results/train_throughput_cells.md.
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

import numpy as np
import tensorflow as tf

from sketchgen.config import HParams
from training.dataset import (BatchingOptions, SketchData, TrainBatcher, load_sketch_data,
                              make_batch)
from training.trainer import TrainOptions, Trainer

DATA = REPO.parent / "shared" / "data" / "sketch-rnn-datasets"
RESULTS = REPO / "bench" / "results" / "train_throughput.md"
CELL_RESULTS = REPO / "bench" / "results" / "train_throughput_cells.md"
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


def time_steps(sketches: list[np.ndarray], lengths: list[int], steps: int,
               cells: list[str] | None = None) -> dict[str, dict[int, tuple]]:
    """implementation (or, with ``cells``, dec_model) -> T -> (median wall s, median CPU s) of a train step at
    padded length T."""
    data = SketchData(splits={"train": sketches, "valid": sketches[:100], "test": sketches[:100]},
                      scale_factor=1.0, max_seq_len=250, requested_max_seq_len=250)
    if cells:
        trainers = {cell: Trainer(HParams(dec_model=cell), data, tempfile.mkdtemp(), TrainOptions(progress=False))
                    for cell in cells}
    else:
        trainers = {name: Trainer(HParams(), data, tempfile.mkdtemp(),
                                  TrainOptions(progress=False, lstm_implementation=name)) for name in IMPLEMENTATIONS}
    hp = HParams()
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
    parser.add_argument("--cells", default="", metavar="lstm,hyper,...",
                        help="time these decoder cells (dec_model) side by side instead")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    lengths = sorted({int(t) for t in args.lengths.split(",")})
    sketches, source = training_sketches()
    if args.cells:
        return compare_cells(args, sketches, source, lengths)
    args.out = args.out or RESULTS
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
    write_table("\n".join(lines) + "\n", args.out)
    return 0


def compare_cells(args: argparse.Namespace, sketches: list[np.ndarray], source: str, lengths: list[int]) -> int:
    """Train-step time of each decoder cell at the default sizes, side by side; the first cell is the baseline."""
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    started = time.time()
    measured = time_steps(sketches, lengths, args.steps, cells)
    sizes = {cell: HParams(dec_model=cell).describe_decoder() for cell in cells}
    lines = [
        "# Training step time per decoder cell: default config, batch 100",
        "",
        f"`python bench/train_throughput.py --cells {args.cells} --steps {args.steps} --lengths {args.lengths}"
        f"{f' --threads {args.threads}' if args.threads else ''}`; {source}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared with other work: wall times "
        f"vary, CPU seconds less so); TensorFlow {tf.__version__}; measured in {(time.time() - started) / 60:.1f} min.",
        "",
        "One train step (forward, backward, Adam) of the whole model (encoder 256, z 128, 20 mixtures) with each "
        "decoder, on the same batches, interleaved; median of the timed steps, wall seconds / CPU seconds of all "
        f"threads, and the CPU time against {cells[0]}'s. Each cell runs the LSTM implementation `auto` picks for it.",
        "",
        "| T | " + " | ".join(f"{c}: {sizes[c]}" for c in cells) + " |",
        "|---:|" + "---:|" * len(cells),
    ]
    base = cells[0]
    for t in lengths:
        lines.append(f"| {t} | " + " | ".join(
            f"{measured[c][t][0]:.2f} / {measured[c][t][1]:.2f} ({measured[c][t][1] / measured[base][t][1]:.2f}x)"
            for c in cells) + " |")
    write_table("\n".join(lines) + "\n", args.out or CELL_RESULTS)
    return 0


def write_table(table: str, out: Path) -> None:
    print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(table, encoding="utf-8")
    os.replace(tmp, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
