"""``sketchgen-quality MODEL_FOLDER [--data FILE.npz]``: how a model draws, measured as a user meets it.

    sketchgen-quality assets/models/sheep --data ../shared/data/sketch-rnn-datasets/aaron_sheep.npz
    sketchgen-quality ~/models/official_cat                 # no test set: the measures that need none

A loss says how well a model predicts people's next point; users see whole drawings. This command measures those,
with the engine (ONNX Runtime, no TensorFlow) exactly as the app and ``sketchgen-sample`` call it (the default
sampler and precision, the chosen temperature rule), every figure from one fixed seed:

- **ends by itself**: of 100 prior samples at temperatures 0.1, 0.3 and 0.5, the share the model ended before its
  ``max_seq_len`` points, and their median length beside the test set's (a model that never calls a drawing done
  scribbles on to its last point);
- **reconstruction identifies its source** (conditional models): the first 300 test sketches are encoded (z = mu)
  and decoded at 0.1 and 0.3; each reconstruction is encoded again and its source ranked among the 300 latents by
  distance: top-1 and top-5 shares, and the share of reconstructions that ended (what makes Reconstruct and the
  morph's end frames look like their inputs);
- **test L_R** teacher-forced, per N_max (as training reports it) and per real point (comparable across data sets);
- **continuations**: 4 continuations at 0.5 (the app's defaults) of the first 40% and 70% of the first 60 test
  sketches: median new points beside what the people who drew them added, the shares that stop within 3 points and
  that never end, and the share of prefixes whose 4 suggestions are all empty.

Without ``--data`` only the first measure is taken (with no test-set length): the path for imported official
models. The table is printed and written into the model card (``model.json``'s ``quality``; the card's checksums
guard the other files, so the model still loads) unless ``--no-write``; ``make models-doc`` shows it in
docs/models.md.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from sketchgen.console import ArgumentParser, console_main
from sketchgen.engine.sampling import DEFAULT_RULE, TEMPERATURE_RULES
from sketchgen.errors import DataFileError, ModelError
from sketchgen.fileio import sha256_file

__all__ = ["main", "measure", "markdown", "write_card", "QUALITY_VERSION"]

QUALITY_VERSION = 1
TEMPERATURES = (0.1, 0.3, 0.5)
PRIOR_SAMPLES = 100
RECONSTRUCTION_TEMPERATURES = (0.1, 0.3)
RECONSTRUCTION_SKETCHES = 300
TOP_K = 5
CONTINUATION_SKETCHES = 60
CONTINUATION_FRACTIONS = (0.4, 0.7)
CONTINUATIONS = 4               # the app's default number of suggestions
CONTINUATION_TEMPERATURE = 0.5  # and its default temperature
STOP_POINTS = 3                 # a continuation this short reads as "the model would end here"
OFFSET_LIMIT = 1000.0           # magenta's DataLoader clamps larger offsets, as training does


def _finished(sketch: np.ndarray, max_len: int) -> bool:
    return 0 < len(sketch) < max_len


def load_test_split(path: Path, max_seq_len: int) -> tuple[list[np.ndarray], int]:
    """The test split as the model saw it in training (at most max_seq_len points, offsets clamped): (sketches in
    pixels, how many the file holds)."""
    from sketchgen.datafiles import load_npz
    from sketchgen.strokes import clamp, filter_by_length

    test = load_npz(path)["test"]
    kept, _ = filter_by_length(test, min_len=1, max_len=max_seq_len)
    sketches = [clamp(s, OFFSET_LIMIT) if np.abs(s[:, 0:2]).max() > OFFSET_LIMIT else np.asarray(s, np.float32)
                for s in kept]
    if not sketches:
        raise DataFileError(path, f"its test split has no sketch of at most {max_seq_len} points (the model's limit)")
    return sketches, len(test)


def prior_samples(model, seed: int, rule: str) -> dict[str, Any]:
    out = {}
    for tau in TEMPERATURES:
        drawn = model.sample(n=PRIOR_SAMPLES, temperature=tau, seed=seed, temperature_rule=rule)
        out[f"{tau:g}"] = {"ended": float(np.mean([_finished(s, model.max_seq_len) for s in drawn])),
                           "median_points": float(np.median([len(s) for s in drawn]))}
    return out


def source_ranks(latents: np.ndarray, again: np.ndarray, sources: Sequence[int]) -> np.ndarray:
    """For each row j of ``again`` (the encoding of a reconstruction of sketch ``sources[j]``): how many of the
    ``latents`` lie nearer to it than its own source's (0: the source is the nearest)."""
    d = np.linalg.norm(again[:, None, :].astype(np.float64) - latents[None, :, :].astype(np.float64), axis=2)
    own = d[np.arange(len(again)), np.asarray(sources)]
    return (d < own[:, None]).sum(axis=1)


def reconstruction(model, sketches: Sequence[np.ndarray], seed: int, rule: str) -> dict[str, Any]:
    sources = list(sketches[:RECONSTRUCTION_SKETCHES])
    mu = model.encode(sources)
    out: dict[str, Any] = {}
    for tau in RECONSTRUCTION_TEMPERATURES:
        drawn = model.sample(z=mu, n=1, temperature=tau, seed=seed, temperature_rule=rule)
        drawable = [i for i, s in enumerate(drawn) if len(s)]
        ranks = np.full(len(drawn), len(drawn))  # an empty reconstruction identifies nothing
        if drawable:
            ranks[drawable] = source_ranks(mu, model.encode([drawn[i] for i in drawable]), drawable)
        out[f"{tau:g}"] = {"top1": float(np.mean(ranks < 1)), f"top{TOP_K}": float(np.mean(ranks < TOP_K)),
                           "ended": float(np.mean([_finished(s, model.max_seq_len) for s in drawn]))}
    return {"sketches": len(sources), "by_temperature": out}


def prefix_of(sketch: np.ndarray, fraction: float) -> np.ndarray:
    """The first ``fraction`` of a sketch's points (at least 2), as bench/continuation_length.py cuts them."""
    return sketch[: max(2, int(len(sketch) * fraction))]


def continuations(model, sketches: Sequence[np.ndarray], seed: int, rule: str) -> dict[str, Any]:
    """Continuations of test-sketch prefixes, all in one batch per fraction, beside what people drew after them."""
    chosen = list(sketches[:CONTINUATION_SKETCHES])
    out: dict[str, Any] = {}
    for fraction in CONTINUATION_FRACTIONS:
        prefixes = [prefix_of(s, fraction) for s in chosen]
        drawn = model.continue_(prefixes, n=CONTINUATIONS, temperature=CONTINUATION_TEMPERATURE, seed=seed,
                                temperature_rule=rule)
        lengths = np.array([len(c) for c in drawn]).reshape(len(chosen), CONTINUATIONS)
        people = np.array([len(s) - len(p) for s, p in zip(chosen, prefixes)])
        out[f"{fraction:g}"] = {
            "median_new_points": float(np.median(lengths)), "people_median_new_points": float(np.median(people)),
            "stop_within_3": float(np.mean(lengths <= STOP_POINTS)),
            "never_end": float(np.mean(lengths >= model.max_seq_len)),
            "all_empty": float(np.mean((lengths == 0).all(axis=1)))}
    return {"sketches": len(chosen), "per_prefix": CONTINUATIONS, "temperature": CONTINUATION_TEMPERATURE,
            "by_fraction": out}


def measure(model, data: Path | None = None, seed: int = 0, rule: str = DEFAULT_RULE) -> dict[str, Any]:
    """Every measure this model and data allow, as the ``quality`` section of a model card."""
    import onnxruntime

    report: dict[str, Any] = {
        "measured_by": "sketchgen-quality", "version": QUALITY_VERSION,
        "created": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "seed": int(seed), "temperature_rule": rule,
        "sampler": f"{model.sampler}/{model.precision}", "onnxruntime": onnxruntime.__version__,
        "max_seq_len": model.max_seq_len, "data": None, "prior_samples": None, "reconstruction": None,
        "test_L_R": None, "continuations": None}
    sketches: list[np.ndarray] = []
    if data is not None:
        sketches, stored = load_test_split(data, model.max_seq_len)
        report["data"] = {"file": data.name, "sha256": sha256_file(data), "test_sketches": stored,
                          "used": len(sketches), "median_points": float(np.median([len(s) for s in sketches]))}
    report["prior_samples"] = {"samples": PRIOR_SAMPLES, "by_temperature": prior_samples(model, seed, rule)}
    if not sketches:
        return report
    if model.conditional:
        report["reconstruction"] = reconstruction(model, sketches, seed, rule)
    losses = model.reconstruction_losses(sketches, seed=seed)
    report["test_L_R"] = {"per_n_max": losses.per_n_max, "per_point": losses.per_point, "sketches": losses.sketches,
                          "points": losses.points}
    report["continuations"] = continuations(model, sketches, seed, rule)
    return report


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def markdown(name: str, q: dict[str, Any]) -> str:
    """The quality section of a card as Markdown: one line naming how it was measured, then one table."""
    data = q.get("data")
    source = (f"the test split of `{data['file']}` ({data['used']} sketches of at most {q['max_seq_len']} points, "
              f"median {data['median_points']:.0f})" if data else "no test set")
    lines = [f"Measured by `sketchgen-quality` (seed {q['seed']}, `{q['temperature_rule']}` temperature rule, "
             f"{q['sampler']} sampler) on {source}.", "",
             "| measure | " + " | ".join(f"tau {t:g}" for t in TEMPERATURES) + " |",
             "|---|" + "---:|" * len(TEMPERATURES)]
    prior = q["prior_samples"]["by_temperature"]
    lines.append(f"| {q['prior_samples']['samples']} prior samples: ended by the model | "
                 + " | ".join(_pct(prior[f"{t:g}"]["ended"]) for t in TEMPERATURES) + " |")
    test_median = f" (test set: {data['median_points']:.0f})" if data else ""
    lines.append(f"| median points{test_median} | "
                 + " | ".join(f"{prior[f'{t:g}']['median_points']:.0f}" for t in TEMPERATURES) + " |")
    recon = q.get("reconstruction")
    if recon:
        by = recon["by_temperature"]
        for key, words in (("top1", f"reconstruction of {recon['sketches']} test sketches: source ranked first"),
                           (f"top{TOP_K}", f"... source in the top {TOP_K}"), ("ended", "... reconstruction ended")):
            lines.append(f"| {words} | " + " | ".join(_pct(by[f"{t:g}"][key]) if f"{t:g}" in by else "-"
                                                     for t in TEMPERATURES) + " |")
    cont = q.get("continuations")
    if q.get("test_L_R"):
        lr = q["test_L_R"]
        lines += ["", f"Test L_R (teacher-forced, {lr['sketches']} sketches): **{lr['per_point']:.3f} nats per real "
                      f"point**, {lr['per_n_max']:.3f} per N_max = {q['max_seq_len']} steps (the training figure)."]
    if cont:
        by = cont["by_fraction"]
        fractions = list(by)
        lines += ["", f"| {cont['per_prefix']} continuations at tau {cont['temperature']:g} of the first "
                      f"{cont['sketches']} test sketches | "
                  + " | ".join(f"after {float(f):.0%}" for f in fractions) + " |",
                  "|---|" + "---:|" * len(fractions),
                  "| median new points (people's) | " + " | ".join(
                      f"{by[f]['median_new_points']:.0f} ({by[f]['people_median_new_points']:.0f})" for f in fractions)
                  + " |",
                  f"| stop within {STOP_POINTS} points | " + " | ".join(_pct(by[f]["stop_within_3"]) for f in fractions)
                  + " |",
                  "| never end | " + " | ".join(_pct(by[f]["never_end"]) for f in fractions) + " |",
                  f"| all {cont['per_prefix']} empty | " + " | ".join(_pct(by[f]["all_empty"]) for f in fractions)
                  + " |"]
    return "\n".join(lines) + "\n"


def write_card(folder: Path, quality: dict[str, Any]) -> Path:
    """Put ``quality`` into the folder's model.json (replacing an earlier one), every other entry as it was. The
    card lists the sha256 of the graphs, not of itself, so the model loads and verifies as before."""
    from sketchgen.model_folder import ModelCard, write_card as write_model_card

    card = ModelCard.read(folder)
    updated: dict[str, Any] = {}
    for key, value in card.raw.items():
        if key == "quality":
            continue
        if key in ("graphs", "files") and "quality" not in updated:
            updated["quality"] = quality
        updated[key] = value
    updated.setdefault("quality", quality)
    try:
        return write_model_card(folder, updated).path
    except OSError as exc:
        raise ModelError(card.path, f"cannot write the quality table into it ({exc.strerror or exc}); "
                                    "use --no-write") from None


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="sketchgen-quality", description="Measure how a model draws (ONNX Runtime only) "
                            "and write the table into its model card.")
    parser.add_argument("model", help="model folder, or a model name under assets/models/")
    parser.add_argument("--data", type=Path, default=None,
                        help="a sketch-rnn .npz whose test split the model is measured on (without it: only how "
                             "often prior samples end)")
    parser.add_argument("--seed", type=int, default=0, help="the one seed every figure comes from (default 0)")
    parser.add_argument("--rule", choices=TEMPERATURE_RULES, default=DEFAULT_RULE,
                        help="temperature rule to sample with (default js, as the app)")
    parser.add_argument("--no-write", action="store_true", help="print the table only; leave model.json as it is")
    return parser


@console_main
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.data is not None and not args.data.is_file():
        raise DataFileError(args.data, "no such data file")
    from sketchgen.engine import load_model

    model = load_model(args.model)
    quality = measure(model, args.data, args.seed, args.rule)
    print(f"## {model.path.name}\n\n{markdown(model.path.name, quality)}")
    if not args.no_write:
        print(f"wrote the table into {write_card(model.path, quality)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
