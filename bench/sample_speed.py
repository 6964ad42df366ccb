"""How fast the engine draws: prints a table and writes bench/results/sample_speed.md.

    python bench/sample_speed.py                 # assets/models/sheep when shipped, else the default sketch-rnn
                                                 # size (dec 512, z 128, M 20) exported with random weights
    python bench/sample_speed.py --model DIR     # any model folder (or name under assets/models/)
    python bench/sample_speed.py --random        # always the random default-size model

Measured in one run, each configuration in turn, in several interleaved rounds (a burst of background load then
hits every column alike); a cell is the median over the rounds of each round's median call time:

- one 250-step sketch at batch 1, end-of-sketch ignored (every call draws all 250 points);
- nine continuations of one 30-point prefix in one batch, against one continuation (same call, n=1);
- encoding one 250-point sketch;
- ten interpolation frames decoded in one batch from their latents (250 steps each, end ignored: the worst case),
  as the app's morph view does with the latents it keeps; and the whole ``interpolate(a, b)``, which first encodes
  both sketches;
- the baseline: the plain Python loop over decoder_step.onnx (the engine's ``sampler="loop"``), same calls;
- the engine's int8 sampler with 2 intra-op threads (the engine's default is 1);
- int8's change of test-set L_R against fp32, as the export measured it on the model's test set (model.json).

The CPU may be shared with other work: the load average before and after is printed with the table. Close other
work (or pause it) before quoting absolute numbers.
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
METRICS = ("one", "cont1", "cont9", "encode", "frames", "interp")
CONFIGS = {  # column key: (heading, load_model keyword arguments)
    "int8": ("engine int8", dict(precision="int8", sampler="fused")),
    "int8_t2": ("engine int8, 2 threads", dict(precision="int8", sampler="fused", intra_op_threads=2)),
    "fp32": ("engine fp32", dict(precision="fp32", sampler="fused")),
    "loop": ("baseline loop", dict(precision="fp32", sampler="loop")),
    "loop_t2": ("baseline loop, 2 threads", dict(precision="fp32", sampler="loop", intra_op_threads=2)),
}


def call_times_ms(call: Callable[[], object], repeats: int, warmup_s: float = 0.15) -> list[float]:
    """Wall times of ``repeats`` calls, after warm-up calls for at least ``warmup_s`` (caches, and a CPU that
    idled or ran another configuration a moment ago)."""
    started = time.perf_counter()
    for done in range(1000):
        call()
        if done >= 1 and time.perf_counter() - started >= warmup_s:
            break
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def default_model_folder(work: Path, test_sketches: list[np.ndarray] | None, scale: float) -> Path:
    """Export the default-size sketch-rnn (random weights) with the real export code."""
    import keras

    from export.onnx_export import export_model
    from sketchgen.config import HParams
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


def measure(folder: Path, prompts: list[np.ndarray], repeats: int, rounds: int,
            configs: list[str]) -> dict[str, dict[str, list[float]]]:
    """{config: {metric: [per-round median ms]}}, the configurations interleaved round by round."""
    from sketchgen.engine import load_model

    engines = {}
    for key in configs:
        try:
            engines[key] = load_model(folder, provider="cpu", **CONFIGS[key][1])
        except Exception as exc:  # a folder without the int8 graphs
            print(f"({key} not available: {exc})")
    sketch = max(prompts, key=len)
    sketch250 = np.concatenate([sketch] * (STEPS // len(sketch) + 1))[:STEPS]
    prefix = sketch[:30]
    a, b = prompts[0], prompts[1]
    calls = {
        "one": lambda m: m.sample(n=1, temperature=0.5, seed=1, max_len=STEPS, stop_at_end=False),
        "cont1": lambda m: m.continue_(prefix, n=1, temperature=0.5, seed=1, max_len=STEPS, stop_at_end=False),
        "cont9": lambda m: m.continue_(prefix, n=9, temperature=0.5, seed=1, max_len=STEPS, stop_at_end=False),
        "encode": lambda m: m.encode(sketch250),
        "frames": lambda m: m.decode_z(frames, temperature=0.1, seed=1, stop_at_end=False),
        "interp": lambda m: m.interpolate(a, b, n=10, temperature=0.1, seed=1, stop_at_end=False),
    }
    # a decoder-only model has no encoder: nothing to encode or interpolate between
    needs_z = ("encode", "frames", "interp")
    metrics = [mt for mt in METRICS if mt not in needs_z or all(m.conditional for m in engines.values())]
    first = next(iter(engines.values()))  # the ten latents between a and b, encoded once (the morph view keeps them)
    frames = first.interpolate_z(*first.encode([a, b]), 10) if first.conditional else None
    rows: dict[str, dict[str, list[float]]] = {k: {metric: [] for metric in metrics} for k in engines}
    for _ in range(rounds):
        for key, m in engines.items():
            time.sleep(0.2)  # the 2-thread sessions' worker threads spin for a while after a call: let them stop
            reps = max(3, repeats // 4) if key.startswith("loop") else repeats
            for metric in metrics:
                rows[key][metric].append(float(np.median(call_times_ms(lambda: calls[metric](m), reps))))
    return rows


def precision_row(folder: Path) -> str:
    from sketchgen.model_folder import ModelCard

    int8 = ModelCard.read(folder).precision.int8_report
    if "delta_nats" not in int8:
        return "not measured (no test sketches)"
    layout = ", int8 weights: " + {"tensor": "one scale per matrix", "column": "one scale per column",
                                   "gates": "recurrent kernel int8 (one scale per column), output head fp32"}.get(
        int8.get("scales", "tensor"), str(int8.get("scales")))
    encoder = int8.get("encoder_int8")
    if encoder and not encoder.get("shipped"):
        layout += (f"; encoder fp32: the int8 one with the int8 decoder moved L_R by "
                   f"{encoder['delta_nats_with_int8_decoder']:+.4f} nats")
    elif "encoder" in int8.get("int8_graphs", []):
        layout += "; encoder int8"
    return (f"{int8['delta_nats']:+.4f} nats (fp32 {int8['test_L_R_fp32']:.4f}, int8 {int8['test_L_R_int8']:.4f}, "
            f"{int8['sketches']} test sketches{layout})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a model folder or name (default: assets/models/sheep if "
                                                      "present, else the default-size model with random weights)")
    parser.add_argument("--random", action="store_true", help="use the default-size model with random weights")
    parser.add_argument("--repeats", type=int, default=20, help="calls per measurement and round (loops: a quarter)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each cell is their median")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"columns to measure ({', '.join(CONFIGS)})")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--append", action="store_true", help="add this table to the results file (another run)")
    args = parser.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown configs: {', '.join(unknown)}")
    load_before = os.getloadavg()
    test, scale, pixels = load_test_sketches(300)
    with tempfile.TemporaryDirectory() as work:
        from sketchgen.model_folder import ModelCard, resolve_model, shipped_models

        if args.model is None and not args.random and "sheep" in shipped_models():
            args.model = "sheep"
        if args.model and not args.random:
            folder = resolve_model(args.model)
            card = ModelCard.read(folder)
            cfg = card.config
            what = (f"model {folder.name} (enc {cfg.enc_rnn_size}, dec {cfg.dec_rnn_size}, z {cfg.z_size}, "
                    f"M {cfg.num_mixture}, {card.steps_trained} steps trained)")
        else:
            started = time.perf_counter()
            folder = default_model_folder(Path(work), test, scale)
            what = (f"default sketch-rnn size (enc 256, dec 512, z 128, M 20), random weights, exported in "
                    f"{time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        rows = measure(folder, pixels, args.repeats, args.rounds, configs)
        seconds = time.perf_counter() - started
        quality = precision_row(folder)
    load_after = os.getloadavg()
    text = render(rows, what, quality, load_before, load_after, args.rounds, seconds)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        from sketchgen.fileio import atomic_write

        previous = RESULTS.read_text(encoding="utf-8") + "\n" if args.append and RESULTS.is_file() else ""
        with atomic_write(RESULTS, "w") as fh:
            fh.write(previous + (text.replace("# Sampling speed", "## Another run", 1) if previous else text))
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


def render(rows: dict[str, dict[str, list[float]]], what: str, quality: str, load_before: tuple[float, ...],
           load_after: tuple[float, ...], rounds: int, seconds: float) -> str:
    def med(key: str, metric: str) -> float | None:
        values = rows.get(key, {}).get(metric)
        return float(np.median(values)) if values else None

    def cell(key: str, metric: str) -> str:
        values = rows.get(key, {}).get(metric)
        if not values:
            return "n/a"
        spread = f" ({min(values):.2f}-{max(values):.2f})" if len(values) > 1 else ""
        return f"{np.median(values):.2f}{spread}"

    def ratio(key: str) -> str:
        one, nine = med(key, "cont1"), med(key, "cont9")
        return "n/a" if one is None or nine is None else f"{nine / one:.2f}x"

    best = "int8" if "int8" in rows else "fp32"
    verdict = {
        "one": med(best, "one") is not None and med(best, "one") <= 8.0,
        "cont9": (med(best, "cont9") or 1e9) <= 2 * (med(best, "cont1") or 0),
        "encode": None if med(best, "encode") is None else med(best, "encode") <= 4.0,
        "frames": None if med(best, "frames") is None else med(best, "frames") <= 30.0,
    }
    checks = [
        ("one 250-step sketch, batch 1 (ms)", "one", "<= 8 ms (aim 5)"),
        ("one continuation of a 30-point prefix, 250 steps (ms)", "cont1", ""),
        ("nine continuations in one batch (ms)", "cont9", "<= 2x one"),
        ("encode one 250-point sketch (ms)", "encode", "<= 4 ms"),
        ("ten interpolation frames decoded in one batch from their latents, 250 steps (ms)", "frames", "<= 30 ms"),
        ("interpolate(a, b, n=10): encode both sketches, then the ten frames (ms)", "interp", ""),
    ]
    keys = [k for k in CONFIGS if k in rows]
    lines = [
        "# Sampling speed",
        "",
        f"{what}; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, ONNX Runtime "
        f"{__import__('onnxruntime').__version__}; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        f"Load average (1 min) before/after: {load_before[0]:.2f} / {load_after[0]:.2f}; {rounds} interleaved rounds "
        f"in {seconds:.0f} s.",
        "",
        "Milliseconds per call: the median over the rounds of each round's median (the range of the round medians "
        "in brackets), end-of-sketch ignored so every call draws all its steps. int8 and fp32 are the engine's "
        "fused sampler (the whole loop in one ONNX Loop; 1 intra-op thread unless the heading says 2); the "
        "baseline is the plain Python loop over decoder_step.onnx.",
        "",
        "| measurement | " + " | ".join(CONFIGS[k][0] for k in keys) + " | target | int8 meets it |",
        "|---|" + "---|" * len(keys) + "---|---|",
    ]
    for label, metric, target in checks:
        ok = verdict.get(metric)
        lines.append(f"| {label} | " + " | ".join(cell(k, metric) for k in keys) +
                     f" | {target} | {'' if ok is None else ('yes' if ok else 'NO')} |")
    lines.append("| nine / one continuation | " + " | ".join(ratio(k) for k in keys) + " | <= 2x | |")
    lines.append("| one sketch: microseconds per decoder step | " +
                 " | ".join(f"{med(k, 'one') * 1e3 / STEPS:.0f}" if med(k, "one") else "n/a" for k in keys) + " | | |")
    if "loop" in rows:
        lines.append("| one sketch: speed-up over the baseline loop | " +
                     " | ".join(f"{med('loop', 'one') / med(k, 'one'):.1f}x" for k in keys) + " | | |")
    lines.append(f"| int8 change of test-set L_R vs fp32 (measured by the export) | {quality} | " +
                 " | " * (len(keys) - 1) + "<= 0.01 nats | |")
    lines += ["", "Encoding: the int8 columns use encoder_int8.onnx (one DynamicQuantizeLSTM op) where the model ships "
              "it (the int8 row says), otherwise, like the other columns, encoder.onnx (two native ONNX LSTM ops, "
              "fp32). A continuation also primes the decoder with the prefix (decoder_prime.onnx, fp32, once per "
              "prefix whatever n)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
