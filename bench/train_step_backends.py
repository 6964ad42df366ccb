"""CPU cost of one train step: the TensorFlow step (float32, and Keras's mixed_bfloat16 policy) beside the JAX step.

    python bench/train_step_backends.py [--steps 3] [--length 120] [--threads 1]

Default config, batch 100, aaron_sheep training sketches (``../shared/data``; generated ones of its lengths when it
is absent) padded to one length T (120: the mean padded length of the default length buckets). Each variant trains
from the same weights on the same batch:

- TensorFlow, float32: ``Trainer.train_step`` as training runs it (the fused LSTM loop);
- TensorFlow, mixed_bfloat16: the same trainer built under ``keras.mixed_precision`` (bf16 compute, float32
  weights), with the first step's losses beside float32's (a precision check, not a training run);
- JAX: ``training.jax_step.JaxTrainStep`` (jitted; its LSTMs run ``jax.lax.scan``), in a subprocess, since Keras picks
  its backend once per process.

Beside them, the product that dominates the step (the decoder's recurrent ``h W``: [100, 512] x [512, 2048]) in
float32 and bfloat16, which says whether bf16 can pay on this CPU at all (it needs AVX512_BF16 or AMX to be faster).

Every variant is limited to ``--threads`` threads (1: what a training run pinned to one core gets) and timed by
the CPU seconds of its process, which a shared machine disturbs far less than wall time; wall seconds are beside
them. The float32 TensorFlow step is timed before and after the JAX subprocess, as the baseline of the same run.
Writes the table to bench/results/train_step_backends.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
RESULTS = REPO / "bench" / "results" / "train_step_backends.md"

_JAX_SIDE = r"""
import json, os, sys, time
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np, keras
from sketchgen.config import HParams
from training.jax_step import JaxTrainStep
from training.model import SketchRNN

arrays = np.load(sys.argv[1])
model = SketchRNN(HParams())
for i, v in enumerate(model.trainable_variables):
    v.assign(arrays[f"w{i}"])
step = JaxTrainStep(model, HParams())
cpu = time.process_time()
first = step(arrays["strokes"], arrays["lengths"])  # compiles
compile_cpu = time.process_time() - cpu
times = []
for _ in range(int(sys.argv[2])):
    wall, cpu = time.perf_counter(), time.process_time()
    step(arrays["strokes"], arrays["lengths"])
    times.append((time.perf_counter() - wall, time.process_time() - cpu))
import jax
print("RESULT " + json.dumps({"first": first, "times": times, "compile_cpu": compile_cpu, "jax": jax.__version__}))
"""


def _thread_env(threads: int) -> dict[str, str]:
    return {"TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": str(threads),
            "OMP_NUM_THREADS": str(threads),
            "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                         f"intra_op_parallelism_threads={threads}"}


def time_matmul(dtype: str, repeats: int = 200) -> float:
    """CPU microseconds of one [100, 512] x [512, 2048] product in ``dtype`` (a compiled loop of ``repeats``)."""
    import tensorflow as tf

    h = tf.cast(tf.random.normal([100, 512]), dtype)
    w = tf.cast(tf.random.normal([512, 2048]) * 0.05, dtype)

    @tf.function
    def loop(h, w):
        def body(i, acc):
            return i + 1, acc + tf.reduce_sum(tf.cast(tf.matmul(h, w)[:1, :1], tf.float32))
        return tf.while_loop(lambda i, acc: i < repeats, body, (0, 0.0))[1]

    loop(h, w)
    best = float("inf")
    for _ in range(3):
        cpu = time.process_time()
        loop(h, w).numpy()
        best = min(best, time.process_time() - cpu)
    return best / repeats * 1e6


def cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
                return ", ".join(f for f in wanted if f in line.split()) or "none of avx2/avx512"
    except OSError:
        pass
    return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant")
    parser.add_argument("--length", type=int, default=120, help="padded length T of the batch")
    parser.add_argument("--threads", type=int, default=1, help="threads per variant")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    os.environ.update(_thread_env(args.threads))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import keras
    import numpy as np
    import tensorflow as tf
    from train_throughput import training_sketches

    from sketchgen.config import HParams
    from training.dataset import SketchData, make_batch
    from training.trainer import TrainOptions, Trainer

    sketches, source = training_sketches()
    hp = HParams()
    rng = np.random.default_rng(1)
    pool = [s for s in sketches if len(s) <= args.length]
    batch = make_batch([pool[i] for i in rng.integers(0, len(pool), hp.batch_size)], args.length)
    data = SketchData(splits={"train": sketches, "valid": sketches[:100], "test": sketches[:100]}, scale_factor=1.0,
                      max_seq_len=250, requested_max_seq_len=250)
    started = time.time()

    def trainer(policy: str) -> Trainer:
        keras.mixed_precision.set_global_policy(policy)
        try:
            return Trainer(hp, data, tempfile.mkdtemp(), TrainOptions(progress=False))
        finally:
            keras.mixed_precision.set_global_policy("float32")

    def failure(exc: Exception) -> str:
        """The first line of the error that says what went wrong (Keras wraps it in 'in user code:' lines)."""
        lines = [re.sub(r"\x1b\[[0-9;]*m", "", x).strip() for x in str(exc).splitlines() if x.strip()]
        said = [x for x in lines if "does not match" in x or "Error" in x] or lines or [""]
        return f"{type(exc).__name__}: {said[-1][:160]}".replace("|", "/")

    fp32 = trainer("float32")
    weights = [v.numpy() for v in fp32.model.trainable_variables]
    variants: dict[str, Trainer] = {"fp32": fp32}
    problems: dict[str, str] = {}
    try:
        bf16 = trainer("mixed_bfloat16")
        for v, w in zip(bf16.model.trainable_variables, weights):
            v.assign(w)
        variants["bf16"] = bf16
    except Exception as exc:  # reported in the table
        problems["bf16"] = failure(exc)

    samples: dict[str, list[tuple[float, float]]] = {"fp32": [], "fp32 after": [], "bf16": [], "jax": []}
    first: dict[str, dict[str, float]] = {}

    def timed(name: str, t: Trainer) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        t.train_step(batch.strokes, batch.lengths)
        samples[name].append((time.perf_counter() - wall, time.process_time() - cpu))

    for name, t in list(variants.items()):
        try:
            first[name] = t.train_step(batch.strokes, batch.lengths)  # traces; from the same weights
        except Exception as exc:  # reported in the table
            problems[name] = failure(exc)
            del variants[name]
    for _ in range(args.steps):
        for name, t in variants.items():
            timed(name, t)
        print("  " + ", ".join(f"{n} {s[-1][1]:.2f} s CPU" for n, s in samples.items() if s), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        case = Path(tmp) / "case.npz"
        np.savez(case, strokes=batch.strokes, lengths=batch.lengths, **{f"w{i}": w for i, w in enumerate(weights)})
        proc = subprocess.run([sys.executable, "-c", _JAX_SIDE, str(case), str(args.steps)], cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    jax_info: dict = {}
    if proc.returncode == 0:
        jax_info = json.loads([x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1][7:])
        samples["jax"] = [tuple(x) for x in jax_info["times"]]
        first["jax"] = jax_info["first"]
    else:
        problems["jax"] = proc.stderr.strip().splitlines()[-1][:200]
    for _ in range(args.steps):
        timed("fp32 after", fp32)
    matmul = {dtype: time_matmul(dtype) for dtype in ("float32", "bfloat16")}

    def median(name: str) -> tuple[float, float]:
        return tuple(np.median(np.array(samples[name]), axis=0)) if samples[name] else (float("nan"),) * 2

    base = float(np.median(np.array(samples["fp32"] + samples["fp32 after"]), axis=0)[1])
    labels = {"fp32": "TensorFlow float32 (the trainer's step), before", "fp32 after": "TensorFlow float32, after",
              "bf16": "TensorFlow mixed_bfloat16", "jax": "JAX (jitted JaxTrainStep)"}
    lines = [
        "# One train step: TensorFlow float32, TensorFlow mixed bf16, JAX",
        "",
        f"`python bench/train_step_backends.py --steps {args.steps} --length {args.length} --threads {args.threads}`"
        f"; default config, batch 100, padded length {args.length}; {source}; {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other work, {args.threads} thread(s) per variant; TensorFlow "
        f"{tf.__version__}, Keras {keras.__version__}, jax {jax_info.get('jax', '-')}; measured in "
        f"{(time.time() - started) / 60:.1f} min.",
        "",
        "CPU seconds per step are those of the variant's process (the median of the timed steps); the speed-up is "
        "against the float32 TensorFlow step, before and after together. First-step losses are from the same "
        "weights and batch (L_R differs by the z noise and dropout masks, which each backend draws its own).",
        "",
        "| step | CPU s/step | wall s/step | CPU speed-up | first L_R | first L_KL |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, label in labels.items():
        if name in problems:
            lines.append(f"| {label} | failed: {problems[name]} | | | | |")
            continue
        wall, cpu = median(name)
        f = first.get(name)
        losses = f"{f['r_loss']:.5f} | {f['kl_loss']:.5f}" if f else "- | -"
        lines.append(f"| {label} | {cpu:.2f} | {wall:.2f} | {base / cpu:.2f}x | {losses} |")
    lines += ["", f"The recurrent product [100, 512] x [512, 2048], one thread (CPU flags: {cpu_flags()}): float32 "
                  f"{matmul['float32']:.0f} us, bfloat16 {matmul['bfloat16']:.0f} us "
                  f"({matmul['float32'] / matmul['bfloat16']:.2f}x)."]
    if jax_info:
        lines += ["", f"The JAX step's first call (tracing and XLA compilation for this shape) took "
                      f"{jax_info['compile_cpu']:.1f} CPU s; with length buckets it compiles once per padded length."]
    table = "\n".join(lines) + "\n"
    print(table)
    from sketchgen.fileio import atomic_write
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out, mode="w") as fh:
        fh.write(table)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
