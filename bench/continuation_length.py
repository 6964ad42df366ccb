"""How far each model carries a user's unfinished drawing: the app's live completion, measured.

The app continues a drawing from z = encode(prefix) (conditional models). A more informative latent can describe the
unfinished drawing so exactly that the decoder ends it at once; a model at a low temperature may instead never end
it and loop on to its last point. Per model and prefix length this prints the median number of new points, the share
of continuations that stop within 3 points, the share that never end (all max_seq_len points drawn) and the share of
prefixes where all of the suggestions are empty, over test-set sketches: for single continuations (the engine's
``continue_``) and for the suggestions as the app shows them (several attempts in one batch, those the model ended
itself first: ``sketchgen.engine.selection``), beside what the people who drew them added after the same prefix.
The defaults are the app's: 4 suggestions at temperature 0.5 under the engine's default temperature rule. Each row
also gives the median time of one request (one engine call), and a second table the app's *Random sample*: the share
of seeds whose sample the model ended itself, one draw against the first finished of 8 (SAMPLE_ATTEMPTS).

    python bench/continuation_length.py [MODEL ...] [--sketches 60] [--n 4] [--temperature 0.5] [--rule js]

Writes the table to bench/results/continuation_length.md (unless --no-write).
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sketchgen.datafiles import load_npz
from sketchgen.engine import load_model
from sketchgen.engine.sampling import DEFAULT_RULE, TEMPERATURE_RULES
from sketchgen.engine.selection import ATTEMPTS_PER_DRAWING, attempts_for, finished, prefer_finished
from sketchgen.fileio import atomic_write

DATA = REPO.parent / "shared" / "data" / "sketch-rnn-datasets" / "aaron_sheep.npz"
FRACTIONS = (0.4, 0.7)
STOP_POINTS = 3
SAMPLE_ATTEMPTS = 8  # desktop.inference.SAMPLE_ATTEMPTS (bench/ does not import the app)
SAMPLE_SEEDS = 40


def continuation_lengths(model, sketches: list[np.ndarray], fraction: float, n: int, temperature: float,
                         as_app: bool, rule: str, per_drawing: int = 4) -> tuple[np.ndarray, float]:
    """([sketches, n] new points of n continuations of each sketch's first ``fraction`` of points, median ms per
    request): seeded per sketch, one call per prefix as in the app; ``as_app``: n chosen from the app's attempts,
    finished first."""
    lengths, times = [], []
    for i, sketch in enumerate(sketches):
        prefix = sketch[: max(2, int(len(sketch) * fraction))]
        start = time.perf_counter()
        if as_app:
            drawn = model.continue_(prefix, n=attempts_for(n, per_drawing), temperature=temperature, seed=i,
                                    temperature_rule=rule)
            drawn = prefer_finished(drawn, n, model.max_seq_len)
        else:
            drawn = model.continue_(prefix, n=n, temperature=temperature, seed=i, temperature_rule=rule)
        times.append(time.perf_counter() - start)
        lengths.append([len(c) for c in drawn])
    return np.asarray(lengths), 1000.0 * float(np.median(times))


def random_samples(model, temperature: float, attempts: int, rule: str) -> tuple[float, float]:
    """(share of SAMPLE_SEEDS seeds whose Random sample the model ended itself, median ms per request): the first
    finished of ``attempts`` drawn in one batch, as the app does (1: a plain draw)."""
    ended, times = [], []
    for seed in range(SAMPLE_SEEDS):
        start = time.perf_counter()
        drawn = model.sample(n=attempts, temperature=temperature, seed=seed, temperature_rule=rule)
        chosen = prefer_finished(drawn, 1, model.max_seq_len)[0]
        times.append(time.perf_counter() - start)
        ended.append(finished(chosen, model.max_seq_len))
    return float(np.mean(ended)), 1000.0 * float(np.median(times))


def human_remainders(sketches: list[np.ndarray], fraction: float) -> np.ndarray:
    """The points each person still drew after the same prefix: the reference a completion is judged against."""
    return np.asarray([len(s) - max(2, int(len(s) * fraction)) for s in sketches])


def cell(lengths: np.ndarray, max_len: int | None) -> str:
    """Median new points, the shares that stop within STOP_POINTS and that never end, and (for [sketches, n]) the
    share of prefixes whose n suggestions are all empty: the app then says 'the model would end the drawing here'."""
    text = f"{np.median(lengths):.0f}, {np.mean(lengths <= STOP_POINTS):.0%}"
    text += f", {np.mean(lengths >= max_len):.0%}" if max_len else ", -"
    return text + (f", {np.mean((lengths == 0).all(axis=1)):.0%}" if lengths.ndim == 2 else ", -")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=[str(REPO / "assets" / "models" / "sheep")],
                        help="model folders or names (default: assets/models/sheep)")
    parser.add_argument("--data", default=str(DATA), help="an .npz whose test split gives the prefixes")
    parser.add_argument("--sketches", type=int, default=60, help="test sketches (the first N)")
    parser.add_argument("--n", type=int, default=4, help="continuations per prefix (the app's default)")
    parser.add_argument("--temperature", type=float, default=0.5, help="sampling temperature (the app's default)")
    parser.add_argument("--rule", choices=TEMPERATURE_RULES, default=DEFAULT_RULE,
                        help="temperature rule (default: the engine's and the app's)")
    parser.add_argument("--per-drawing", type=int, action="append", default=None,
                        help="attempts per suggestion as the app draws them (repeat to compare; default: the app's)")
    parser.add_argument("--sample-attempts", type=int, action="append", default=None,
                        help="prior samples per Random sample to compare (repeat; default: 1 and the app's 16)")
    parser.add_argument("--samples-only", action="store_true", help="only the Random sample table")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "continuation_length.md"),
                        help="where the table goes")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if not Path(args.data).is_file():
        if args.data == str(DATA):  # `make bench` on a clone without ../shared: nothing to measure, not a failure
            print(f"skipped: {DATA} is not here (pass --data with a sketch-rnn .npz)")
            return 0
        print(f"{args.data}: no such data file", file=sys.stderr)
        return 2
    per_drawing = args.per_drawing or [ATTEMPTS_PER_DRAWING]
    sketches = [np.asarray(s) for s in load_npz(Path(args.data))["test"][: args.sketches]]
    header = "| model | steps | KL_min | KL weight | test L_R / L_KL | continuations | " + " | ".join(
        f"first {f:.0%} of the points: median new points, stops within {STOP_POINTS}, never end, all {args.n} empty"
        for f in FRACTIONS) + " | ms per request |"
    rows = [header, "|---|---:|---:|---:|---|---|" + "---:|" * len(FRACTIONS) + "---:|",
            "| the people who drew them (the rest of each test sketch) | | | | | | "
            + " | ".join(cell(human_remainders(sketches, f), None) for f in FRACTIONS) + " | |"]
    samples = ["| model | Random sample | ended by the model (of " + f"{SAMPLE_SEEDS} seeds) | ms per request |",
               "|---|---|---:|---:|"]
    for folder in args.models:
        model = load_model(folder)
        card = model.card
        losses = card.losses or {}
        facts = (f"| `{folder}` | {card.steps_trained} | {card.config.kl_tolerance} | {card.config.kl_weight} | "
                 f"{losses.get('test_L_R') or float('nan'):.3f} / {losses.get('test_L_KL') or float('nan'):.3f} | ")
        modes = [(False, 1, "single (engine)")] + [
            (True, k, f"{'as the app shows them' if k == ATTEMPTS_PER_DRAWING else 'the app would show'} "
                      f"({attempts_for(args.n, k)} attempts, finished first)") for k in per_drawing]
        for as_app, k, kind in modes if not args.samples_only else []:
            measured = [continuation_lengths(model, sketches, f, args.n, args.temperature, as_app, args.rule, k)
                        for f in FRACTIONS]
            cells = [cell(lengths, model.max_seq_len) for lengths, _ in measured]
            ms = np.mean([t for _, t in measured])
            rows.append(facts + kind + " | " + " | ".join(cells) + f" | {ms:.0f} |")
        for attempts in args.sample_attempts or (1, SAMPLE_ATTEMPTS):
            share, ms = random_samples(model, args.temperature, attempts, args.rule)
            kind = "one draw" if attempts == 1 else (f"the first finished of {attempts}"
                                                     + (" (as the app)" if attempts == SAMPLE_ATTEMPTS else ""))
            samples.append(f"| `{folder}` | {kind} | {share:.0%} | {ms:.0f} |")
    text = "\n".join([
        "# How far a model carries an unfinished drawing", "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; the first {len(sketches)} test sketches of "
        f"`{Path(args.data).name}`, {args.n} continuations each at temperature {args.temperature} "
        f"(`{args.rule}` temperature rule), z = encode(prefix) as in the app.", "", *rows, "",
        f"Random samples at temperature {args.temperature} (`{args.rule}` rule), seeds 0-{SAMPLE_SEEDS - 1}:", "",
        *samples, ""])
    print(text)
    if not args.no_write:
        out = Path(args.out)
        with atomic_write(out, "w") as f:
            f.write(text)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
