"""How the official sketch-rnn models draw once imported: the same figures as the shipped models' (docs/models.md).

Every ``.gen.json`` in ../shared/data/sketch-rnn-js-models/ is imported (``sketchgen.official.convert``, int8 check
included) into a temporary folder, never into the repository (their weights carry no license file), and measured
with ``sketchgen-quality``'s prior-sample measure (100 samples per temperature, seed 0) under the official JS
sampling rule, at its temperatures 0.1, 0.3, 0.5 and at 1.0: the share of samples the model ended itself and
their median length, beside the category's median length where its human drawings are at hand (the QuickDraw files
are not). Also the import's parity error and int8 verdict.

    python bench/official_quality.py [--only sheep rabbit]

Writes docs/official_models.md (unless --no-write).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sketchgen import quality
from sketchgen.engine import load_model
from sketchgen.official.convert import import_js_model
from sketchgen.official.jsformat import read_js_model
from bench_report import publish

SHARED = REPO.parent / "shared" / "data"
MODELS = SHARED / "sketch-rnn-js-models"
RAW = SHARED / "quickdraw-raw-mini"
RULE = "js"
EXTRA_TEMPERATURE = 1.0
SEED = 0


def category_median(category: str, max_len: int) -> tuple[float, int] | None:
    """Median points of the category's human drawings at hand (QuickDraw raw, preprocessed as Google does)."""
    path = RAW / f"{category}.ndjson"
    if not path.is_file():
        return None
    from sketchgen.quickdraw import load_ndjson

    sketches, _ = load_ndjson(path)
    lengths = [len(s.strokes) for s in sketches if len(s.strokes) <= max_len]
    return (float(np.median(lengths)), len(lengths)) if lengths else None


def measure(path: Path, tmp: Path) -> dict:
    js = read_js_model(path)
    folder = import_js_model(js, tmp / path.stem)
    card = json.loads((folder / "model.json").read_text())
    model = load_model(folder, provider="cpu")
    report = quality.measure(model, None, seed=SEED, rule=RULE)
    by = dict(report["prior_samples"]["by_temperature"])
    drawn = model.sample(n=quality.PRIOR_SAMPLES, temperature=EXTRA_TEMPERATURE, seed=SEED, temperature_rule=RULE)
    by[f"{EXTRA_TEMPERATURE:g}"] = {"ended": float(np.mean([0 < len(s) < model.max_seq_len for s in drawn])),
                                   "median_points": float(np.median([len(s) for s in drawn]))}
    int8 = card["precision"].get("int8") or {}
    parity = card["export"]["parity"]["max_abs_error"]
    return {"name": js.name, "max_seq_len": js.max_seq_len, "by": by, "sampler": report["sampler"],
            "category": category_median(js.name, js.max_seq_len), "parity": max(parity.values()),
            "int8_delta": int8.get("delta_nats"), "int8_verified": bool(int8.get("verified")),
            "import_s": card["export"]["seconds"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="categories to measure (default: every file)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    files = sorted(MODELS.glob("*.gen.json"))
    if args.only:
        files = [f for f in files if f.name.split(".")[0] in args.only]
    if not files:
        print(f"no official models at {MODELS}")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="official-quality-"))
    rows = []
    try:
        for path in files:
            rows.append(measure(path, tmp))
            r = rows[-1]
            print(r["name"], {t: (f"{v['ended']:.0%}", v["median_points"]) for t, v in r["by"].items()}, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    temps = [f"{t:g}" for t in (*quality.TEMPERATURES, EXTRA_TEMPERATURE)]
    lines = [
        "# The official sketch-rnn models, imported", "",
        "The decoder-only (`.gen.json`) models the sketch-rnn authors published for the official JS demos, converted "
        "by `sketchgen-import` (the app's *Model > Get official models...*) and measured like the shipped models "
        "(`sketchgen-quality`'s prior samples: 100 per temperature, seed 0, under the official JS sampling rule: sigma "
        "scaled by sqrt(tau), the mixture and pen choices at 0.5 + 0.5 tau). Made by `python bench/official_quality.py`"
        f" ({datetime.now(timezone.utc):%Y-%m-%d}) from the 24 files in `../shared/data/sketch-rnn-js-models/`. The "
        "weights carry no license file and are never part of this repository; their data is QuickDraw (CC BY 4.0, "
        "Google).", "",
        "Each cell: the share of samples the model ended itself (before its `max_seq_len` points), then their median "
        "length in points. *Category*: the median length of the category's human drawings where some are at hand "
        "(`quickdraw-raw-mini`, preprocessed as Google does). *Parity*: the largest difference the import's checks "
        "found (each graph against the numpy copy of the official loader's arithmetic, within 1e-5; the primer against "
        "the step graph, within 1e-4). *int8*: the change of teacher-forced L_R (nats) with the "
        "int8 sampler, on sketches the model drew itself; written only within 0.01 nats.", "",
        "| model | max_seq_len | category | " + " | ".join(f"tau {t}" for t in temps) + " | parity | int8 |",
        "|---|---:|---:|" + "---:|" * len(temps) + "---:|---|"]
    for r in rows:
        cat = f"{r['category'][0]:.0f} ({r['category'][1]} drawings)" if r["category"] else "-"
        cells = [f"{r['by'][t]['ended']:.0%}, {r['by'][t]['median_points']:.0f}" for t in temps]
        verdict = "used" if r["int8_verified"] else "not written"
        int8 = "-" if r["int8_delta"] is None else f"{r['int8_delta']:+.3f} ({verdict})"
        lines.append(f"| `{r['name']}` | {r['max_seq_len']} | {cat} | " + " | ".join(cells)
                     + f" | {r['parity']:.1e} | {int8} |")
    ended = {t: float(np.mean([r["by"][t]["ended"] for r in rows])) for t in temps}
    lines += ["", "Over all models, the share of samples ended by the model: "
              + ", ".join(f"{ended[t]:.0%} at tau {t}" for t in temps) + ".", ""]
    text = "\n".join(lines)
    publish(text, REPO / "docs" / "official_models.md", write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
