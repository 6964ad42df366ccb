"""``sketchgen-data``: inspect, convert and download sketch data sets.

    sketchgen-data info FILE [--max-data-mb MB]   split sizes, lengths, scale factor, largest offsets, stored dtype
    sketchgen-data convert IN.ndjson... --out OUT.npz [--max-len N] [--seed S] [--split 0.9,0.05,0.05]
    sketchgen-data download CATEGORY... [--out-dir DIR] [--base-url URL] [--max-data-mb MB]

Every user error prints ``error: <file>: <problem>`` and exits with status 2, never a traceback
(:mod:`sketchgen.console`). ``--max-data-mb`` raises the limit on what an ``.npz`` may cost (:mod:`sketchgen.safe_npz`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sketchgen.console import ArgumentParser, add_max_data_mb, apply_max_data_mb, console_main
from sketchgen.datafiles import SPLITS, read_npz_splits, save_npz
from sketchgen.download import BASE_URL_ENV, DEFAULT_BASE_URL, download_category
from sketchgen.errors import ConfigError, DataFileError, SketchError, SketchGenError
from sketchgen.quickdraw import load_ndjson
from sketchgen.strokes import scale_factor

__all__ = ["main", "build_parser", "parse_split", "split_counts"]

_MAX_PROBLEMS_SHOWN = 20


# --------------------------------------------------------------------------------------------------------------------
# split specification


def parse_split(spec: str) -> tuple[str, tuple[float, float, float]]:
    """``"0.9,0.05,0.05"`` -> ("fractions", ...); ``"70000,2500,2500"`` -> ("counts", ...).

    Values with a decimal point are fractions of the drawings (they must add up to 1); whole numbers are counts.
    """
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) != 3 or not all(parts):
        raise ConfigError(
            f"--split needs three values train,valid,test (e.g. 0.9,0.05,0.05 or 70000,2500,2500), got {spec!r}"
        )
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ConfigError(f"--split values must be numbers, got {spec!r}") from None
    if any(not np.isfinite(v) or v < 0 for v in values):
        raise ConfigError(f"--split values must be >= 0, got {spec!r}")
    if any("." in p or "e" in p.lower() for p in parts):
        if abs(sum(values) - 1.0) > 1e-6:
            raise ConfigError(f"--split fractions must add up to 1, {spec!r} adds up to {sum(values):g}")
        return "fractions", values  # type: ignore[return-value]
    return "counts", values  # type: ignore[return-value]


def split_counts(spec: str, available: int) -> tuple[int, int, int]:
    """How many drawings go to train, valid and test; counts asking for more than there are raise ConfigError."""
    kind, values = parse_split(spec)
    if kind == "counts":
        train, valid, test = (int(v) for v in values)
        if train + valid + test > available:
            raise ConfigError(
                f"--split asks for {train}+{valid}+{test} = {train + valid + test} drawings but only {available} "
                "are available"
            )
        return train, valid, test
    valid = min(int(available * values[1] + 0.5), available)
    test = min(int(available * values[2] + 0.5), available - valid)
    return available - valid - test, valid, test


# --------------------------------------------------------------------------------------------------------------------
# info


def _length_row(name: str, sketches: Sequence[np.ndarray]) -> str:
    if not sketches:
        return f"  {name:<6} {0:>8}  {'-':>6} {'-':>8} {'-':>8} {'-':>6}"
    lengths = np.array([len(s) for s in sketches])
    return (
        f"  {name:<6} {len(sketches):>8}  {lengths.min():>6} {lengths.mean():>8.1f} "
        f"{np.median(lengths):>8.1f} {lengths.max():>6}"
    )


def _describe(splits: dict[str, list[np.ndarray]]) -> list[str]:
    lines = [f"  {'split':<6} {'sketches':>8}  {'min':>6} {'mean':>8} {'median':>8} {'max':>6}   (points per sketch)"]
    for key, sketches in splits.items():
        lines.append(_length_row(key, sketches))
    everything = [s for sketches in splits.values() for s in sketches]
    if len(splits) > 1:
        lines.append(_length_row("all", everything))
    if not everything:
        return lines
    basis_name = "train" if splits.get("train") else "all"
    basis = splits["train"] if splits.get("train") else everything
    try:
        lines.append(f"scale factor (std of {basis_name} dx, dy): {scale_factor(basis):.4f}")
    except SketchError as exc:
        lines.append(f"scale factor: n/a ({exc})")
    for column, axis in ((0, "dx"), (1, "dy")):
        best = (-1.0, "", 0, 0)  # |value|, split, sketch, row
        for key, sketches in splits.items():
            for index, sketch in enumerate(sketches):
                row = int(np.abs(sketch[:, column]).argmax())
                value = abs(float(sketch[row, column]))
                if value > best[0]:
                    best = (value, key, index, row)
        lines.append(f"largest |{axis}|: {best[0]:g} ({best[1]} sketch {best[2]}, row {best[3]})")
    strokes = np.array([int(s[:, 2].sum()) for s in everything])
    lines.append(f"strokes per sketch: min {strokes.min()} / mean {strokes.mean():.1f} / max {strokes.max()}")
    return lines


def _cmd_info(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.suffix.lower() == ".ndjson":
        sketches, problems = load_ndjson(path)
        print(f"{path}: QuickDraw ndjson, {len(sketches)} drawings, {len(problems)} bad lines skipped")
        _print_problems(path, problems)
        forms = sorted({str(s.metadata.get("quickdraw_form")) for s in sketches})
        if forms:
            print(f"form: {', '.join(forms)}")
        for line in _describe({"all": [s.strokes for s in sketches]}):
            print(line)
        return 0
    contents = read_npz_splits(path)
    dtypes = sorted({d for ds in contents.stored_dtypes.values() for d in ds})
    print(f"{path}: sketch-rnn .npz, stored dtype {', '.join(dtypes) or 'n/a (no sketches)'}")
    for line in _describe(contents.splits):
        print(line)
    return 0


# --------------------------------------------------------------------------------------------------------------------
# convert


def _print_problems(path: Path, problems: list[tuple[int, str]]) -> None:
    for line_no, problem in problems[:_MAX_PROBLEMS_SHOWN]:
        print(f"  skipped {path.name} line {line_no}: {problem}", file=sys.stderr)
    if len(problems) > _MAX_PROBLEMS_SHOWN:
        print(f"  ... and {len(problems) - _MAX_PROBLEMS_SHOWN} more bad lines in {path.name}", file=sys.stderr)


def _cmd_convert(args: argparse.Namespace) -> int:
    parse_split(args.split)  # a bad --split fails before any reading
    if args.max_len is not None and args.max_len < 1:
        raise ConfigError(f"--max-len must be at least 1, got {args.max_len}")
    drawings: list[np.ndarray] = []
    for name in args.inputs:
        path = Path(name)
        sketches, problems = load_ndjson(path)
        print(f"read {path}: {len(sketches)} drawings, {len(problems)} bad lines skipped")
        _print_problems(path, problems)
        drawings.extend(s.strokes for s in sketches)
    if args.max_len is not None:
        kept = [s for s in drawings if len(s) <= args.max_len]
        dropped = len(drawings) - len(kept)
        print(f"dropped {dropped} drawings longer than --max-len {args.max_len} points (kept {len(kept)})")
        drawings = kept
    if not drawings:
        raise DataFileError(", ".join(args.inputs), "no drawings to write: every input line was bad or too long")
    n_train, n_valid, n_test = split_counts(args.split, len(drawings))
    order = np.random.default_rng(args.seed).permutation(len(drawings))
    shuffled = [drawings[i] for i in order]
    splits = {
        "train": shuffled[:n_train],
        "valid": shuffled[n_train : n_train + n_valid],
        "test": shuffled[n_train + n_valid : n_train + n_valid + n_test],
    }
    unused = len(drawings) - n_train - n_valid - n_test
    dtype = save_npz(args.out, splits)
    print(
        f"wrote {args.out}: train {n_train} / valid {n_valid} / test {n_test} sketches, {dtype}, "
        f"shuffled with seed {args.seed}"
    )
    if unused:
        print(f"note: {unused} drawings not used: --split {args.split} asks for fewer than the {len(drawings)} read")
    return 0


# --------------------------------------------------------------------------------------------------------------------
# download


def _cmd_download(args: argparse.Namespace) -> int:
    failed = 0
    for category in args.categories:
        try:
            result = download_category(
                category, args.out_dir, base_url=args.base_url, progress=not args.quiet, force=args.force
            )
        except SketchGenError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if result.skipped:
            sizes = " / ".join(f"{key} {result.split_sizes[key]}" for key in SPLITS) if result.split_sizes else ""
            print(f"{category}: {result.path} already exists, skipped (it loads: {sizes} sketches; --force "
                  "downloads it again)")
            continue
        sizes = " / ".join(f"{key} {result.split_sizes[key]}" for key in SPLITS) if result.split_sizes else ""
        resumed = f", resumed after {result.resumed_from} bytes" if result.resumed_from else ""
        print(f"{category}: saved {result.path} ({result.size} bytes{resumed}; {sizes} sketches)")
    if failed:
        print(f"error: {failed} of {len(args.categories)} downloads failed", file=sys.stderr)
        return 2
    return 0


# --------------------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="sketchgen-data", description="Inspect, convert and download sketch-rnn data sets.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=ArgumentParser)

    info = commands.add_parser("info", help="show split sizes, lengths, scale factor and largest offsets of a file")
    info.add_argument("file", help="a sketch-rnn .npz file or a QuickDraw .ndjson file")
    add_max_data_mb(info)
    info.set_defaults(run=_cmd_info)

    convert = commands.add_parser("convert", help="turn QuickDraw ndjson files into a sketch-rnn .npz")
    convert.add_argument("inputs", nargs="+", metavar="IN.ndjson", help="simplified or raw QuickDraw ndjson files")
    convert.add_argument("--out", required=True, metavar="OUT.npz", help="the .npz file to write")
    convert.add_argument("--max-len", type=int, default=None, metavar="N",
                         help="drop drawings with more than N points (the count is reported)")
    convert.add_argument("--seed", type=int, default=0, help="seed of the shuffle before splitting (default 0)")
    convert.add_argument("--split", default="0.9,0.05,0.05", metavar="TRAIN,VALID,TEST",
                         help="fractions (0.9,0.05,0.05, the default) or counts (70000,2500,2500)")
    convert.set_defaults(run=_cmd_convert)

    download = commands.add_parser("download", help="download official QuickDraw sketchrnn .npz files")
    download.add_argument("categories", nargs="+", metavar="CATEGORY", help="e.g. cat, 'hot dog'")
    download.add_argument("--out-dir", default="data", metavar="DIR", help="where to put <category>.npz (default data)")
    download.add_argument("--base-url", default=None, metavar="URL",
                          help=f"folder to download from (default ${BASE_URL_ENV} or {DEFAULT_BASE_URL})")
    download.add_argument("--force", action="store_true", help="download again even if <category>.npz exists")
    download.add_argument("--quiet", action="store_true", help="no progress bar")
    add_max_data_mb(download)
    download.set_defaults(run=_cmd_download)
    return parser


@console_main
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sketchgen-data``; returns the exit status (0 ok, 2 error)."""
    args = build_parser().parse_args(argv)
    apply_max_data_mb(args)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
