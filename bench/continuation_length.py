"""How far each model carries a user's unfinished drawing: the app's live completion, measured.

The app continues a drawing from z = encode(prefix) (conditional models). A more informative latent can describe the
unfinished drawing so exactly that the decoder ends it at once; a model at a low temperature may instead never end
it and loop on to its last point. Per model and prefix length this prints the median number of new points, the share
of continuations that stop within 3 points, the share that never end (all max_seq_len points drawn) and the share of
prefixes where all of the suggestions are empty, over test-set sketches: for single continuations (the engine's
``continue_``) and for the suggestions as the app shows them (several attempts in one batch, those the model ended
itself first: ``sketchgen.engine.selection``), beside what the people who drew them added after the same prefix.
The defaults are the app's: 4 suggestions at temperature 0.5.

    python bench/continuation_length.py [MODEL ...] [--sketches 60] [--n 4] [--temperature 0.5]

Writes the table to bench/results/continuation_length.md (unless --no-write).
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sketchgen.datafiles import load_npz  # noqa: E402
from sketchgen.engine import load_model  # noqa: E402
from sketchgen.engine.selection import attempts_for, prefer_finished  # noqa: E402
from sketchgen.fileio import atomic_write  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "sketch-rnn-datasets" / "aaron_sheep.npz"
FRACTIONS = (0.4, 0.7)
STOP_POINTS = 3


def continuation_lengths(model, sketches: list[np.ndarray], fraction: float, n: int, temperature: float,
                         as_app: bool) -> np.ndarray:
    """[sketches, n]: new points of n continuations of each sketch's first ``fraction`` of points (seeded per
    sketch, one call per prefix as in the app); ``as_app``: n chosen from the app's attempts, finished first."""
    lengths = []
    for i, sketch in enumerate(sketches):
        prefix = sketch[: max(2, int(len(sketch) * fraction))]
        if as_app:
            drawn = model.continue_(prefix, n=attempts_for(n), temperature=temperature, seed=i)
            drawn = prefer_finished(drawn, n, model.max_seq_len)
        else:
            drawn = model.continue_(prefix, n=n, temperature=temperature, seed=i)
        lengths.append([len(c) for c in drawn])
    return np.asarray(lengths)


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
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if not Path(args.data).is_file():
        if args.data == str(DATA):  # `make bench` on a clone without ../shared: nothing to measure, not a failure
            print(f"skipped: {DATA} is not here (pass --data with a sketch-rnn .npz)")
            return 0
        print(f"{args.data}: no such data file", file=sys.stderr)
        return 2
    sketches = [np.asarray(s) for s in load_npz(Path(args.data))["test"][: args.sketches]]
    header = "| model | steps | KL_min | KL weight | test L_R / L_KL | continuations | " + " | ".join(
        f"first {f:.0%} of the points: median new points, stops within {STOP_POINTS}, never end, all {args.n} empty"
        for f in FRACTIONS) + " |"
    rows = [header, "|---|---:|---:|---:|---|---|" + "---:|" * len(FRACTIONS),
            "| the people who drew them (the rest of each test sketch) | | | | | | "
            + " | ".join(cell(human_remainders(sketches, f), None) for f in FRACTIONS) + " |"]
    for folder in args.models:
        model = load_model(folder)
        card = model.card
        losses = card.losses or {}
        facts = (f"| `{folder}` | {card.steps_trained} | {card.config.kl_tolerance} | {card.config.kl_weight} | "
                 f"{losses.get('test_L_R') or float('nan'):.3f} / {losses.get('test_L_KL') or float('nan'):.3f} | ")
        for as_app, kind in ((False, "single (engine)"), (True, f"as the app shows them ({attempts_for(args.n)} "
                                                                 "attempts, finished first)")):
            cells = [cell(continuation_lengths(model, sketches, f, args.n, args.temperature, as_app),
                          model.max_seq_len) for f in FRACTIONS]
            rows.append(facts + kind + " | " + " | ".join(cells) + " |")
    text = "\n".join([
        "# How far a model carries an unfinished drawing", "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; the first {len(sketches)} test sketches of "
        f"`{Path(args.data).name}`, {args.n} continuations each at temperature {args.temperature}, "
        "z = encode(prefix) as in the app.", "", *rows, ""])
    print(text)
    if not args.no_write:
        out = REPO / "bench" / "results" / "continuation_length.md"
        with atomic_write(out, "w") as f:
            f.write(text)
        print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
