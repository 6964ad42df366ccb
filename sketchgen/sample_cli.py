"""``sketchgen-sample --model NAME --out FILE.svg|png``: draw new sketches with an exported model.

    sketchgen-sample --model sheep --out sheep.png
    sketchgen-sample --model assets/models/sheep --n 9 --temperature 0.4 --seed 1 --out grid.svg
    sketchgen-sample --model sheep --n 8 --temperature 0.1 --finished --out calm.png
    sketchgen-sample --model sheep --n 9 --temperature 0.3 --rule paper --out paper.png

``--rule`` says how the temperature acts: ``js`` (default: the official demos' rule, a discrete temperature of
0.5 + 0.5 x temperature for the stroke and pen choices, sigma x sqrt(temperature)), ``paper`` (one temperature
for everything, sigma x sqrt(temperature)) or ``magenta`` (magenta's Python sampler: sigma x temperature).
``--discrete-temperature`` sets the choices' temperature directly.

``--finished`` keeps drawings the model ended itself, as the app does (at low temperatures an early model often
loops on to its last point instead): it draws four per wanted sketch and takes those first.

N > 1 draws a grid. Every user error prints ``error: <message>`` and exits with status 2.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from sketchgen.console import ArgumentParser, console_main
from sketchgen.engine.sampling import DEFAULT_RULE, TEMPERATURE_RULES
from sketchgen.errors import ConfigError, DataFileError
from sketchgen.fileio import atomic_write, check_writable_folder

__all__ = ["main", "build_parser", "grid_svg"]


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="sketchgen-sample", description="Draw new sketches with an exported sketch-rnn model.")
    parser.add_argument("--model", required=True, help="model folder, or a model name under assets/models/")
    parser.add_argument("--out", required=True, help="output file: .svg or .png (a grid when --n > 1)")
    parser.add_argument("--n", type=int, default=1, help="number of sketches (default 1)")
    parser.add_argument("--temperature", type=float, default=0.5,
                        help="randomness, as in sketch-rnn: 0 draws offsets at the means, 1 with the model's own "
                             "spread (default 0.5)")
    parser.add_argument("--rule", choices=TEMPERATURE_RULES, default=DEFAULT_RULE,
                        help="how the temperature acts (default js, as the official demos: stroke and pen choices at "
                             "0.5 + 0.5 x temperature); paper: one temperature for everything; magenta: magenta's "
                             "Python sampler")
    parser.add_argument("--discrete-temperature", type=float, default=None,
                        help="temperature of the stroke and pen choices, instead of the rule's (0: always the most "
                             "likely)")
    parser.add_argument("--seed", type=int, default=None, help="makes the drawing reproducible")
    parser.add_argument("--max-len", type=int, default=None, help="most points per sketch (default: the model's)")
    parser.add_argument("--greedy", action="store_true",
                        help="always the most likely choice, offsets at the means (no randomness)")
    parser.add_argument("--finished", action="store_true",
                        help="prefer sketches the model ended itself (draws 4 per sketch, as the app does)")
    parser.add_argument("--size", type=int, default=256, help="pixels per sketch (default 256)")
    parser.add_argument("--cols", type=int, default=None, help="grid columns (default: a square-ish grid)")
    parser.add_argument("--provider", choices=("auto", "cpu", "cuda"), default="auto",
                        help="ONNX Runtime provider (default auto: CUDA when available)")
    parser.add_argument("--precision", choices=("auto", "fp32", "int8"), default="auto",
                        help="sampler precision (default auto: int8 only where the export verified it)")
    return parser


def grid_svg(sketches: Sequence[np.ndarray], cols: int, cell: int) -> str:
    """One SVG with each sketch fitted into a ``cell`` square, ``cols`` per row (nested <svg> elements)."""
    from sketchgen.render import sketch_svg

    rows = -(-len(sketches) // cols)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{cols * cell}" '
             f'height="{rows * cell}" viewBox="0 0 {cols * cell} {rows * cell}">',
             f'<rect width="{cols * cell}" height="{rows * cell}" fill={quoteattr("#fff")}/>']
    for i, sketch in enumerate(sketches):
        r, c = divmod(i, cols)
        inner = sketch_svg(sketch, size=cell) if len(sketch) else (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{cell}" height="{cell}"></svg>')
        inner = inner.replace("<svg ", f'<svg x="{c * cell}" y="{r * cell}" ', 1)  # sized to fit the cell
        parts.append(inner.strip())
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _write(out: Path, sketches: list[np.ndarray], size: int, cols: int | None) -> None:
    from sketchgen.render import grid_png, sketch_png, sketch_svg

    suffix = out.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise ConfigError(f"{out}: the output must end in .svg or .png")
    if not out.parent.is_dir():
        raise ConfigError(f"{out.parent}: folder does not exist")
    cols = cols or max(1, math.ceil(math.sqrt(len(sketches))))
    if suffix == ".png":
        data = sketch_png(sketches[0], size=size) if len(sketches) == 1 else grid_png(sketches, cols, cell=size)
        with atomic_write(out, "wb") as fh:
            fh.write(data)
    else:
        text = sketch_svg(sketches[0], size=size) if len(sketches) == 1 else grid_svg(sketches, cols, size)
        with atomic_write(out, "w") as fh:
            fh.write(text)


MAX_SIZE = 4096  # pixels per sketch
MAX_SKETCHES = 10_000  # a 100 x 100 grid
MAX_IMAGE_PIXELS = 8192 * 8192  # a whole grid (an RGB image this big is 200 MB in memory)


def _check_out(out: Path) -> None:
    """Fail before any sampling when ``out`` cannot be written."""
    if out.suffix.lower() not in (".svg", ".png"):
        raise ConfigError(f"{out}: the output must end in .svg or .png")
    if out.is_dir():
        raise ConfigError(f"{out}: is a folder; give a file name ending in .svg or .png")
    folder = out.parent
    if not folder.is_dir():
        raise ConfigError(f"{folder}: folder does not exist")
    check_writable_folder(folder)


def _check_size(n: int, size: int, cols: int | None) -> None:
    if not 16 <= size <= MAX_SIZE:
        raise ConfigError(f"--size must be from 16 to {MAX_SIZE} pixels, got {size}")
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = -(-n // cols)
    if cols * size * rows * size > MAX_IMAGE_PIXELS:
        raise ConfigError(f"a grid of {rows}x{cols} sketches of {size} pixels is {cols * size}x{rows * size} pixels, "
                          f"over the limit of {MAX_IMAGE_PIXELS // 1_000_000} megapixels: lower --size or --n")


def _rule_words(args) -> str:
    if args.greedy:
        return "greedy"
    words = f"temperature {args.temperature:g} ({args.rule} rule"
    return words + (f", discrete temperature {args.discrete_temperature:g})" if args.discrete_temperature is not None
                    else ")")


@console_main
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 1 <= args.n <= MAX_SKETCHES:
        raise ConfigError(f"--n must be from 1 to {MAX_SKETCHES}, got {args.n}")
    if args.cols is not None and args.cols < 1:
        raise ConfigError(f"--cols must be at least 1, got {args.cols}")
    _check_size(args.n, args.size, args.cols)
    out = Path(args.out)
    _check_out(out)
    from sketchgen.engine import load_model

    model = load_model(args.model, provider=args.provider, precision=args.precision)
    from sketchgen.engine.selection import ATTEMPTS_PER_DRAWING, finished, prefer_finished

    limit = args.max_len or model.max_seq_len
    drawn = args.n * (ATTEMPTS_PER_DRAWING if args.finished else 1)
    sketches = model.sample(n=drawn, temperature=args.temperature, max_len=args.max_len, greedy=args.greedy,
                            seed=args.seed, temperature_rule=args.rule, discrete_temperature=args.discrete_temperature)
    sketches = prefer_finished(sketches, args.n, limit) if args.finished else sketches
    try:
        _write(out, sketches, args.size, args.cols)
    except OSError as exc:
        raise DataFileError(out, f"cannot write ({exc.strerror or exc})") from None
    points = sum(len(s) for s in sketches)
    ended = sum(finished(s, limit) for s in sketches)
    rest = f", the rest ran to {limit} points" if ended < len(sketches) else ""
    print(f"wrote {out}: {len(sketches)} sketch{'es' if len(sketches) > 1 else ''} ({ended} ended by the model{rest}), "
          f"{points} points, {_rule_words(args)}, "
          f"{model.provider.removesuffix('ExecutionProvider')}, {model.sampler}/{model.precision} sampler")
    return 0


if __name__ == "__main__":
    sys.exit(main())
