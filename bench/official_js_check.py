"""The official JavaScript loader itself, run on node, against SketchGen: both directions of the format.

``bench/js/official_loader_pdf.js`` loads a ``.gen.json`` with the official ``sketch_rnn.js`` (and its numjs),
unchanged, and prints ``get_pdf`` at every step of a real drawing. Compared here, per quantity (mixture weights,
means, sigmas, correlations, pen probabilities; largest difference, relative above magnitude 1, over the whole
drawing, each side running its own state):

- official files imported by ``sketchgen-import``: the JS loader on the file against the imported folder;
- ``sheep_uncond`` exported by ``sketchgen-export --format sketch-rnn-js``: the JS loader on the written file against
  the shipped folder (the format's int16 rounding) and against the file imported back.

The official library is not part of this repository: pass its folder (``sketch-rnn-js/lib`` of
magenta/magenta-demos, holding ``sketch_rnn.js`` and ``numjs.js``).

    python bench/official_js_check.py --js-lib PATH/TO/sketch-rnn-js/lib [--models bear sheep]

Writes bench/results/official_js_loader.md (unless --no-write).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from export.js_export import export_js
from sketchgen.datafiles import load_npz
from sketchgen.engine import load_model
from sketchgen.official.convert import import_js_model
from sketchgen.official.jsformat import read_js_model
from sketchgen.official.reference import softmax
from bench_report import publish

SHARED = REPO.parent / "shared" / "data"
KEYS = ("pi", "mu_x", "mu_y", "sigma_x", "sigma_y", "rho", "pen")


def inputs_for(sketch: np.ndarray, scale: float) -> np.ndarray:
    rows = np.zeros((len(sketch) + 1, 5), np.float32)
    rows[0, 2] = 1.0
    rows[1:, 0:2] = sketch[:, 0:2] / np.float32(scale)
    rows[1:, 3], rows[1:, 2] = sketch[:, 2], 1 - sketch[:, 2]
    return rows


def js_pdf(lib: Path, model_file: Path, rows: np.ndarray, tmp: Path) -> list[dict[str, np.ndarray]]:
    path = tmp / "inputs.json"
    path.write_text(json.dumps(rows.tolist()))
    script = REPO / "bench" / "js" / "official_loader_pdf.js"
    done = subprocess.run(["node", str(script), str(lib), str(model_file), str(path)], capture_output=True,
                          text=True, check=True)
    return [dict(zip(KEYS, (np.array(a) for a in step))) for step in json.loads(done.stdout)]


def engine_pdf(folder: Path, rows: np.ndarray) -> list[dict[str, np.ndarray]]:
    engine = load_model(folder, provider="cpu", precision="fp32", sampler="loop")
    h, c = engine._initial_state(None, 1)
    out = []
    for t in range(len(rows)):
        o = engine._step(rows[None, t], None, h, c)
        h, c = o["h_out"], o["c_out"]
        out.append({**{k: o[k][0] for k in KEYS}, "pi": softmax(o["pi"][0]), "pen": softmax(o["pen"][0])})
    return out


def worst(js: list[dict[str, np.ndarray]], ours: list[dict[str, np.ndarray]]) -> float:
    return max(float(np.max(np.abs(a[k] - b[k]) / np.maximum(1.0, np.abs(a[k])))) for a, b in zip(js, ours)
               for k in KEYS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--js-lib", required=True, help="sketch-rnn-js/lib of magenta/magenta-demos")
    parser.add_argument("--models", nargs="*", default=["bear", "sheep", "rabbit"])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    lib = Path(args.js_lib)
    sheep = [np.asarray(s, np.float32) for s in load_npz(SHARED / "sketch-rnn-datasets" / "aaron_sheep.npz")["test"]]
    tmp = Path(tempfile.mkdtemp(prefix="official-js-"))
    rows_out = []
    try:
        for name in args.models:
            path = SHARED / "sketch-rnn-js-models" / f"{name}.gen.json"
            js = read_js_model(path)
            folder = import_js_model(js, tmp / name, int8=False)
            rows = inputs_for(sheep[0], js.scale_factor)
            rows_out.append((f"official `{name}.gen.json` (header mode {js.info.get('mode')!r}, version "
                             f"{js.info.get('version')})", "the folder `sketchgen-import` made",
                             len(rows), worst(js_pdf(lib, path, rows, tmp), engine_pdf(folder, rows))))
        written = tmp / "sheep_uncond.gen.json"
        export_js(REPO / "assets" / "models" / "sheep_uncond", written)
        rows = inputs_for(sheep[0], read_js_model(written).scale_factor)
        js_out = js_pdf(lib, written, rows, tmp)
        back = import_js_model(written, tmp / "back", int8=False)
        rows_out.append(("`sheep_uncond` written by `sketchgen-export --format sketch-rnn-js`", "the shipped folder",
                         len(rows), worst(js_out, engine_pdf(REPO / "assets" / "models" / "sheep_uncond", rows))))
        rows_out.append(("the same file", "the file imported back", len(rows), worst(js_out, engine_pdf(back, rows))))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = ["# The official JS loader (node) against SketchGen", "",
             f"`python bench/official_js_check.py`, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: the official "
             "`sketch_rnn.js` + `numjs.js` (magenta/magenta-demos), unchanged, on node; `get_pdf` at every step of "
             "the first aaron_sheep test sketch, each side on its own state; largest difference of the mixture "
             "weights, means, sigmas, correlations and pen probabilities (relative above magnitude 1).", "",
             "| file the JS loader read | compared with | steps | largest difference |", "|---|---|---:|---:|"]
    lines += [f"| {a} | {b} | {n} | {e:.1e} |" for a, b, n, e in rows_out]
    text = "\n".join(lines) + "\n"
    publish(text, REPO / "bench" / "results" / "official_js_loader.md", write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
