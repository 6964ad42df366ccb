"""docs/models.md: each shipped model's numbers, its quality table, samples at three temperatures and test-set
reconstructions.

Rerun after exporting a model and measuring it (`sketchgen-quality MODEL --data FILE` writes the quality table into
model.json): `python -m export.gallery` (or `make models-doc`). Uses only the engine (ONNX Runtime, its default
temperature rule) and the shared renderer, so what it shows is what the engine draws (the app's Random sample keeps
the first of 8 that the model ended itself: sketchgen.engine.selection). Seeds are fixed: reruns give the same
pictures for the same model files.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sketchgen.datafiles import load_npz
from sketchgen.engine import load_model
from sketchgen.engine.sampling import DEFAULT_RULE
from sketchgen.errors import SketchGenError
from sketchgen.fileio import atomic_write
from sketchgen.model_folder import ModelCard, shipped_models
from sketchgen.quality import markdown as quality_markdown
from sketchgen.render import grid_png
from training.compare import latent_nats_per_step

REPO = Path(__file__).resolve().parents[1]
TEMPERATURES = (0.1, 0.5, 1.0)
SAMPLES_PER_TEMPERATURE = 8
RECONSTRUCTIONS = 8


def _data_file(card: ModelCard, data_dirs: list[Path]) -> Path | None:
    """The model's first data file, looked up by name in the given folders (recursively, one level)."""
    if not card.datasets or not card.datasets[0].file:
        return None
    name = card.datasets[0].file
    for folder in data_dirs:
        for candidate in (folder / name, *folder.glob(f"*/{name}")):
            if candidate.is_file():
                return candidate
    return None


def _write_png(path: Path, data: bytes) -> None:
    with atomic_write(path, mode="wb") as fh:
        fh.write(data)


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "n/a"


def model_section(model_dir: Path, out_dir: Path, data_dirs: list[Path]) -> str:
    """Render one model's pictures into out_dir and return its Markdown section."""
    model = load_model(model_dir)
    card = model.card
    name = model_dir.name
    rel = out_dir.relative_to(REPO / "docs") if out_dir.is_relative_to(REPO / "docs") else out_dir
    losses = card.losses or {}
    wall = card.wall_time_s
    data = card.datasets[0] if card.datasets else None
    lines = [
        f"## `{name}`",
        "",
        f"{'Conditional VAE (encoder + decoder)' if model.conditional else 'Unconditional (decoder only)'}, "
        f"trained on **{data.name if data else '?'}** ({(data and data.license) or 'license unknown'}; "
        f"{(data and data.attribution) or ''}).",
        "",
        "| steps | hardware | wall time | valid L_R | valid L_KL | test L_R | test L_KL |",
        "|---:|---|---:|---:|---:|---:|---:|",
        f"| {card.steps_trained if card.steps_trained is not None else 'n/a'} | {card.hardware or 'n/a'} | "
        f"{f'{wall / 3600:.1f} h' if wall is not None else 'n/a'} | {_fmt(losses.get('valid_L_R'))} | "
        f"{_fmt(losses.get('valid_L_KL'))} | {_fmt(losses.get('test_L_R'))} | {_fmt(losses.get('test_L_KL'))} |",
        "",
    ]
    quality = card.raw.get("quality")
    lines += ["### How it draws", ""]
    lines += ([quality_markdown(name, quality)] if isinstance(quality, dict) else
              [f"(Not measured yet: `sketchgen-quality {model_dir} --data FILE.npz` writes the table into its card.)",
               ""])
    for t in TEMPERATURES:
        sketches = model.sample(n=SAMPLES_PER_TEMPERATURE, temperature=t, seed=7)
        png = out_dir / f"{name}-samples-t{t}.png"
        _write_png(png, grid_png(sketches, cols=SAMPLES_PER_TEMPERATURE, cell=112))
        lines += [f"Samples at temperature {t} (`{DEFAULT_RULE}` rule, the app's default):", "",
                  f"![{name} samples, temperature {t}]({rel}/{png.name})", ""]
    data_file = _data_file(card, data_dirs)
    if model.conditional and data_file is not None:
        test = load_npz(data_file)["test"][:RECONSTRUCTIONS]
        recon = [model.reconstruct(s, temperature=0.2, seed=i) for i, s in enumerate(test)]
        png = out_dir / f"{name}-reconstructions.png"
        _write_png(png, grid_png([*test, *recon], cols=RECONSTRUCTIONS, cell=112))
        lines += [f"Test-set sketches of `{data_file.name}` (top) and the model's reconstructions at temperature 0.2 "
                  "(bottom):", "", f"![{name} reconstructions]({rel}/{png.name})", ""]
    elif model.conditional:
        lines += ["(Reconstructions skipped: the data file was not found; pass --data-dir.)", ""]
    return "\n".join(lines)


def latent_comparison(cards: dict[str, ModelCard]) -> str:
    """What z adds: each unconditional model beside the conditional models trained on the same data, by test L_R.

    In the paper the conditional models' L_R is far below the decoder-only models'; here the gap is measured on the
    shipped files (positive: the latent vector carries part of the drawing), with L_KL against KL_min (a conditional
    model whose L_KL sits at KL_min has collapsed to the decoder-only model)."""
    rows = []
    def data_of(card: ModelCard) -> list[str | None]:
        return sorted(d.sha256 or d.file for d in card.datasets)

    for u_name, u in sorted(cards.items()):
        if u.conditional:
            continue
        for c_name, c in sorted(cards.items()):
            if not c.conditional or data_of(c) != data_of(u):
                continue
            cl, ul = c.losses or {}, u.losses or {}
            if cl.get("test_L_R") is None or ul.get("test_L_R") is None:
                continue
            kl_min, kl = c.config.kl_tolerance, cl.get("test_L_KL")
            z_nats = latent_nats_per_step(kl, c.config.z_size, c.max_seq_len)
            steps = lambda card: "?" if card.steps_trained is None else card.steps_trained  # noqa: E731
            rows.append(f"| `{c_name}` ({steps(c)} steps) | `{u_name}` ({steps(u)} "
                        f"steps) | {_fmt(cl['test_L_R'])} | {_fmt(ul['test_L_R'])} | "
                        f"**{ul['test_L_R'] - cl['test_L_R']:.3f}** | {_fmt(kl)} | {_fmt(kl_min)} | {_fmt(z_nats)} | "
                        f"{_fmt(None if z_nats is None else cl['test_L_R'] + z_nats)} |")
    if not rows:
        return ""
    return "\n".join([
        "## What the latent vector adds", "",
        "Test-set L_R of each conditional model beside the decoder-only model trained on the same data (lower is "
        "better; the gap is the unconditional L_R minus the conditional one), with the conditional model's L_KL "
        "against KL_min (above it: the encoder's z carries information, no posterior collapse).", "",
        "| conditional | unconditional | test L_R (cond.) | test L_R (uncond.) | gap (nats) | test L_KL (cond.) "
        "| KL_min | z's nats per step | cond. bound on -log p(x) per step |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|", *rows, "",
        "What z can buy is bounded: L_KL is a mean over z's N_z dimensions and L_R a mean over the N_max steps, so z "
        "carries L_KL N_z / N_max nats per step ('z's nats per step'). By the evidence lower bound the conditional "
        "model's -log p(x) per step is at most its L_R plus that ('cond. bound'); a decoder-only model that models the "
        "data as well as the conditional one has its L_R at or below that bound, so its gap to the conditional model "
        "exceeds z's nats per step only as far as it is the worse density model.", ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export.gallery", description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help="model folders (default: every one in assets/models)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "models.md")
    parser.add_argument("--data-dir", type=Path, action="append", default=[],
                        help="where the models' data files are (default: ../shared/data and data/)")
    args = parser.parse_args(argv)
    models = args.models or list(shipped_models().values())
    data_dirs = args.data_dir or [REPO.parent / "shared" / "data", REPO / "data"]
    out_md = args.out.resolve()
    pictures = out_md.parent / "models"
    pictures.mkdir(parents=True, exist_ok=True)
    try:
        sections = [model_section(Path(m).resolve(), pictures, data_dirs) for m in models]
    except SketchGenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not sections:
        print("error: no model folders found", file=sys.stderr)
        return 2
    cards = {Path(m).resolve().name: ModelCard.read(Path(m).resolve()) for m in models}
    text = ("# The shipped models\n\nMade by `python -m export.gallery` from the model folders in `assets/models/`: "
            "the numbers come from each `model.json` (measured by `sketchgen-train evaluate` at export), the "
            "pictures from the ONNX models through the engine, with fixed seeds. The official sketch-rnn models "
            "(imported with `sketchgen-import`, never shipped) are measured the same way in "
            "[official_models.md](official_models.md).\n\n" + latent_comparison(cards)
            + "\n".join(sections))
    with atomic_write(out_md, mode="w") as fh:
        fh.write(text)
    print(f"wrote {out_md} and {len(list(pictures.glob('*.png')))} pictures in {pictures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
