"""How fast the engine draws: prints a table and writes bench/results/sample_speed.md.

    python bench/sample_speed.py                 # assets/models/sheep when shipped, else the default sketch-rnn
                                                 # size (dec 512, z 128, M 20) exported with random weights
    python bench/sample_speed.py --model DIR     # any model folder (or name under assets/models/)
    python bench/sample_speed.py --random        # always the random default-size model

Measured, each as the median of repeated calls on this machine, in one run:

- one 250-step sketch at batch 1, end-of-sketch ignored (every call draws all 250 points);
- nine continuations of one 30-point prefix in one batch, against one continuation (same call, n=1);
- encoding one 250-point sketch;
- ten interpolation frames decoded in one batch (250 steps each, end ignored: the worst case);
- the baseline: the plain Python loop over decoder_step.onnx (the engine's ``sampler="loop"``), same calls;
- int8's change of test-set L_R against fp32 where test sketches are at hand (on random weights the L_R values
  themselves mean nothing; the difference still measures what the quantisation does to this network).

The CPU may be shared with other work; the load average before and after is printed with the table.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RESULTS = ROOT / "bench" / "results" / "sample_speed.md"
SHEEP = ROOT.parent / "shared" / "data" / "sketch-rnn-datasets" / "aaron_sheep.npz"
STEPS = 250


def median_ms(call: Callable[[], object], repeats: int, warmup: int = 3) -> tuple[float, float]:
    """(median, min) wall time of ``call`` in milliseconds."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3), float(np.min(times) * 1e3)


def default_model_folder(work: Path, test_sketches: list[np.ndarray] | None, scale: float) -> Path:
    """Export the default-size sketch-rnn (random weights) with the real export code."""
    import keras

    from export.onnx_export import export_model
    from training.config import HParams
    from training.model import SketchRNN

    keras.utils.set_random_seed(0)
    hp = HParams()  # dec_rnn_size 512, enc_rnn_size 256, z_size 128, num_mixture 20, max_seq_len 250
    model = SketchRNN(hp)
    return export_model(model, work / "default_random", scale_factor=scale, real_sketches=test_sketches,
                        data_sets=hp.data_set, force=True)


def load_test_sketches(limit: int) -> tuple[list[np.ndarray] | None, float, list[np.ndarray]]:
    """(normalised test sketches or None, scale factor, pixel sketches for prompts)."""
    from sketchgen.strokes import normalize, scale_factor

    if SHEEP.is_file():
        from sketchgen.datafiles import load_npz

        splits = load_npz(SHEEP)
        scale = scale_factor(splits["train"])
        test = [s for s in splits["test"] if len(s) <= STEPS][:limit]
        return [normalize(s, scale) for s in test], scale, test
    rng = np.random.default_rng(0)
    fake = []
    for _ in range(4):
        s = np.zeros((STEPS, 3), np.float32)
        s[:, :2] = rng.normal(0, 20, (STEPS, 2)).round()
        s[rng.random(STEPS) < 0.1, 2] = 1
        s[-1, 2] = 1
        fake.append(s)
    return None, 20.0, fake


def measure(folder: Path, prompts: list[np.ndarray], repeats: int, threads: int) -> dict[str, dict[str, tuple]]:
    from sketchgen.engine import load_model

    engines = {}
    for key, kwargs in (("int8", dict(precision="int8", sampler="fused", intra_op_threads=threads)),
                        ("fp32", dict(precision="fp32", sampler="fused", intra_op_threads=threads)),
                        ("loop", dict(precision="fp32", sampler="loop", intra_op_threads=threads)),
                        ("loop2", dict(precision="fp32", sampler="loop", intra_op_threads=2))):
        try:
            engines[key] = load_model(folder, provider="cpu", **kwargs)
        except Exception as exc:  # a folder without the int8 graphs
            print(f"({key} sampler not available: {exc})")
    sketch = max(prompts, key=len)
    sketch250 = np.concatenate([sketch] * (STEPS // len(sketch) + 1))[:STEPS]
    prefix = sketch[:30]
    a, b = prompts[0], prompts[1]
    rows: dict[str, dict[str, tuple]] = {k: {} for k in engines}
    for key, m in engines.items():
        loop = key.startswith("loop")
        reps = max(3, repeats // 4) if loop else repeats
        rows[key]["one"] = median_ms(lambda: m.sample(n=1, temperature=0.5, seed=1, max_len=STEPS,
                                                      stop_at_end=False), reps)
        rows[key]["cont1"] = median_ms(lambda: m.continue_(prefix, n=1, temperature=0.5, seed=1, max_len=STEPS,
                                                           stop_at_end=False), reps)
        rows[key]["cont9"] = median_ms(lambda: m.continue_(prefix, n=9, temperature=0.5, seed=1, max_len=STEPS,
                                                           stop_at_end=False), reps)
        rows[key]["interp"] = median_ms(lambda: m.interpolate(a, b, n=10, temperature=0.1, seed=1,
                                                              stop_at_end=False), reps)
        rows[key]["encode"] = median_ms(lambda: m.encode(sketch250), repeats)
    return rows


def precision_row(folder: Path) -> str:
    import json

    card = json.loads((folder / "model.json").read_text())
    int8 = card.get("precision", {}).get("int8") or {}
    if "delta_nats" not in int8:
        return "not measured (no test sketches)"
    return (f"{int8['delta_nats']:+.4f} nats (fp32 {int8['test_L_R_fp32']:.4f}, int8 {int8['test_L_R_int8']:.4f}, "
            f"{int8['sketches']} test sketches)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a model folder or name (default: assets/models/sheep if "
                                                      "present, else the default-size model with random weights)")
    parser.add_argument("--random", action="store_true", help="use the default-size model with random weights")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (engine default 1)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--append", action="store_true", help="add this table to the results file (another model)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    test, scale, pixels = load_test_sketches(300)
    with tempfile.TemporaryDirectory() as work:
        from sketchgen.engine.runtime import MODELS_DIR, resolve_model_path

        if args.model is None and not args.random and (MODELS_DIR / "sheep" / "model.json").is_file():
            args.model = "sheep"
        if args.model and not args.random:
            folder = resolve_model_path(args.model)
            card = __import__("json").loads((folder / "model.json").read_text())
            cfg = card["config"]
            what = (f"model {folder.name} (enc {cfg['enc_rnn_size']}, dec {cfg['dec_rnn_size']}, z {cfg['z_size']}, "
                    f"M {cfg['num_mixture']}, {card.get('steps_trained')} steps trained)")
        else:
            started = time.perf_counter()
            folder = default_model_folder(Path(work), test, scale)
            what = (f"default sketch-rnn size (enc 256, dec 512, z 128, M 20), random weights, exported in "
                    f"{time.perf_counter() - started:.0f} s")
        rows = measure(folder, pixels, args.repeats, args.threads)
        quality = precision_row(folder)
    load_after = os.getloadavg()

    def cell(key: str, metric: str) -> str:
        if metric not in rows.get(key, {}):
            return "n/a"
        med, low = rows[key][metric]
        return f"{med:.2f} (min {low:.2f})"

    def ratio(key: str) -> str:
        if "cont9" not in rows.get(key, {}):
            return "n/a"
        return f"{rows[key]['cont9'][0] / rows[key]['cont1'][0]:.2f}x"

    best = "int8" if "int8" in rows else "fp32"
    checks = [
        ("one 250-step sketch, batch 1 (ms)", "one", "<= 8 ms (aim 5)", rows[best]["one"][0] <= 8.0),
        ("one continuation of a 30-point prefix, 250 steps (ms)", "cont1", "", None),
        ("nine continuations in one batch (ms)", "cont9", "<= 2x one", rows[best]["cont9"][0]
         <= 2 * rows[best]["cont1"][0]),
        ("encode one 250-point sketch (ms)", "encode", "<= 4 ms", rows[best]["encode"][0] <= 4.0),
        ("ten interpolation frames, one batch, 250 steps (ms)", "interp", "<= 30 ms", rows[best]["interp"][0] <= 30.0),
    ]
    lines = [
        "# Sampling speed",
        "",
        f"{what}; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, ONNX Runtime "
        f"{__import__('onnxruntime').__version__}, {args.threads} intra-op thread(s); "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        f"Load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f} (the CPU may be shared: compare "
        "columns of one run, not runs).",
        "",
        "Median of repeated calls (min in brackets), milliseconds, end-of-sketch ignored so every call draws all "
        "its steps. int8 and fp32 are the engine's fused sampler (the whole loop in one ONNX Loop); the baseline is "
        "the plain Python loop over decoder_step.onnx.",
        "",
        "| measurement | engine int8 | engine fp32 | baseline loop | baseline loop, 2 threads | target "
        "| int8 meets it |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, metric, target, ok in checks:
        lines.append(f"| {label} | {cell('int8', metric)} | {cell('fp32', metric)} | {cell('loop', metric)} | "
                     f"{cell('loop2', metric)} | {target} | {'' if ok is None else ('yes' if ok else 'NO')} |")
    lines.append(f"| nine / one continuation | {ratio('int8')} | {ratio('fp32')} | {ratio('loop')} | {ratio('loop2')} "
                 "| <= 2x | |")
    if "int8" in rows and "loop" in rows:
        lines.append(f"| one sketch: speed-up over the baseline loop | "
                     f"{rows['loop']['one'][0] / rows['int8']['one'][0]:.1f}x | "
                     f"{rows['loop']['one'][0] / rows['fp32']['one'][0]:.1f}x | 1x | "
                     f"{rows['loop']['one'][0] / rows['loop2']['one'][0]:.1f}x | | |")
    lines.append(f"| int8 change of test-set L_R vs fp32 | {quality} | | | | <= 0.01 nats | |")
    lines += ["", "Encoding: the int8 column uses encoder_int8.onnx (one DynamicQuantizeLSTM op), the others "
              "encoder.onnx (two native ONNX LSTM ops, fp32)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        from sketchgen.fileio import atomic_write

        previous = RESULTS.read_text(encoding="utf-8") + "\n" if args.append and RESULTS.is_file() else ""
        with atomic_write(RESULTS, "w") as fh:
            fh.write(previous + (text.replace("# Sampling speed", "## Another model", 1) if previous else text))
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
