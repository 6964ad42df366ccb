"""How long importing one official 512-unit model takes (goal: under 2 s on this CPU, int8 check included).

Phases, each the median of REPEATS runs in this one process (imports of Python modules done before timing):
reading and checking the file; the whole import without the int8 check; the whole import with it (what
``sketchgen-import`` and the app do); and, as the baseline in the same run, loading the finished folder with the
engine (what any model costs to open). Wall and CPU seconds: the machine is shared, CPU seconds say what the
import itself costs.

    python bench/official_import.py [FILE.gen.json]

Writes the table to bench/results/official_import.md (unless --no-write).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sketchgen.engine import load_model
from sketchgen.official.convert import import_js_model
from sketchgen.official.jsformat import read_js_model
from bench_report import publish

DEFAULT = REPO.parent / "shared" / "data" / "sketch-rnn-js-models" / "sheep.gen.json"
REPEATS = 3


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=str(DEFAULT))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    path = Path(args.file)
    if not path.is_file():
        print(f"no such file: {path} (the official models live in ../shared/data/sketch-rnn-js-models/)")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="official-bench-"))
    try:
        model = read_js_model(path)
        import_js_model(model, tmp / "warm-up", int8=False)  # first session creation, module imports
        phases = {
            "read and check the file": lambda: read_js_model(path),
            "import without the int8 check": lambda: import_js_model(path, tmp / "fp32", int8=False, force=True),
            "import with the int8 check (default)": lambda: import_js_model(path, tmp / "full", force=True),
            "baseline: load the finished folder": lambda: load_model(tmp / "full", provider="cpu"),
        }
        rows = []
        for name, fn in phases.items():
            runs = [timed(fn) for _ in range(REPEATS)]
            rows.append((name, float(np.median([w for w, _ in runs])), float(np.median([c for _, c in runs]))))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cpu = platform.processor() or platform.machine()
    lines = [f"# Importing an official model ({path.name}: {model.units} units, max_seq_len {model.max_seq_len})", "",
             f"`python bench/official_import.py`, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu}, "
             f"{os.cpu_count()} cores (shared: compare rows of one run only), median of {REPEATS} runs. "
             "Goal: the whole import under 2 s.", "",
             "| phase | wall s | CPU s |", "|---|---:|---:|"]
    lines += [f"| {name} | {wall:.2f} | {cpu_s:.2f} |" for name, wall, cpu_s in rows]
    text = "\n".join(lines) + "\n"
    publish(text, REPO / "bench" / "results" / "official_import.md", write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
