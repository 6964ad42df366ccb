"""``sketchgen-export EXPERIMENT_DIR --out assets/models/NAME``: a trained experiment -> a checked model folder."""
from __future__ import annotations

import sys
from collections.abc import Sequence

from sketchgen.console import ArgumentParser, add_max_data_mb, apply_max_data_mb, console_main
from sketchgen.errors import ConfigError
from sketchgen.model_folder import OPSET, OPSET_RANGE, PARITY_TOLERANCE, ModelCard


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="sketchgen-export",
        description="Export a sketchgen-train experiment to a model folder of ONNX graphs (encoder.onnx, "
                    "decoder_init.onnx, decoder_step.onnx, the fused samplers, model.json). Every graph is checked "
                    f"against TensorFlow (max abs error <= {PARITY_TOLERANCE:g}) before anything is written.")
    parser.add_argument("experiment", help="experiment folder written by sketchgen-train (or one checkpoint folder), "
                                           "or a model folder to export again with this exporter")
    parser.add_argument("--out", required=True, help="model folder to write, e.g. assets/models/sheep")
    parser.add_argument("--checkpoint", choices=("best", "latest"), default="best",
                        help="which checkpoint to export (default: best, falling back to latest)")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding the training data files, when they moved since training (used for "
                             "parity on real sketches, the losses and the int8 check)")
    parser.add_argument("--no-int8", action="store_true", help="do not write the int8 graphs (encoder, sampler)")
    parser.add_argument("--opset", type=int, default=OPSET,
                        help=f"ONNX opset of the converted graphs ({OPSET_RANGE[0]}-{OPSET_RANGE[1]}; default {OPSET})")
    parser.add_argument("--force", action="store_true", help="replace an existing model folder")
    add_max_data_mb(parser)
    parser.add_argument("--format", choices=("folder", "sketch-rnn-js"), default="folder",
                        help="'sketch-rnn-js': write a MODEL FOLDER as the official JavaScript format instead (--out "
                             "NAME.gen.json for a decoder-only model, NAME.vae.json for a conditional one), for "
                             "@magenta/sketch, ml5 and the official demos")
    return parser


@console_main
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.format == "sketch-rnn-js":
        return _export_js(args)
    if not OPSET_RANGE[0] <= args.opset <= OPSET_RANGE[1]:
        raise ConfigError(f"--opset {args.opset}: use an opset from {OPSET_RANGE[0]} to {OPSET_RANGE[1]}")
    apply_max_data_mb(args)
    try:
        from export.onnx_export import export_experiment

        folder = export_experiment(args.experiment, args.out, which=args.checkpoint, data_dir=args.data_dir,
                                   int8=not args.no_int8, opset=args.opset, force=args.force)
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return 130
    card = ModelCard.read(folder)
    parity = card.export["parity"]["max_abs_error"]
    print(f"wrote {folder}: {', '.join(sorted(card.files))}")
    print(f"parity with TensorFlow: max abs error {max(parity.values()):.2e} (tolerance {PARITY_TOLERANCE:g})")
    if card.losses:
        print("losses: " + ", ".join(f"{k} {v:.4f}" for k, v in card.losses.items() if v is not None))
    else:
        print(f"losses: {card.losses_source}")
    int8 = card.precision.int8_report
    if int8:
        if "delta_nats" in int8:
            print(f"int8 graphs: test L_R {int8['test_L_R_int8']:.4f} vs fp32 {int8['test_L_R_fp32']:.4f} "
                  f"({int8['delta_nats']:+.4f} nats): "
                  f"{'used by default' if card.precision.int8_verified else 'not shipped'}")
        else:
            print(f"int8 graphs: {int8.get('note')}")
    for entry in card.datasets:
        print(f"data: {entry.name}: {entry.license or 'license unknown'}"
              + (f" ({entry.attribution})" if entry.attribution else ""))
    return 0


def _export_js(args) -> int:
    from export.js_export import export_js

    report = export_js(args.experiment, args.out, force=args.force)
    print(f"wrote {args.out}: {report['kind']} model, {report['units']} units"
          f"{', z size ' + str(report['z_size']) if report['z_size'] else ''}, {report['bytes']} bytes")
    print(f"layout: the official arithmetic on the weights matches the folder's graphs to "
          f"{max(report['layout_error'].values()):.2e}; after the format's int16 rounding (largest weight change "
          f"{report['largest_weight_rounding']:.1e}) to {max(report['rounded_error'].values()):.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
