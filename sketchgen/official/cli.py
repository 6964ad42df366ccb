"""``sketchgen-import SOURCE --out FOLDER``: an official sketch-rnn model (a file, a URL or a name) -> a model
folder."""
from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from sketchgen.console import ArgumentParser, console_main


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="sketchgen-import",
        description="Convert an official sketch-rnn model (the sketch-rnn-js JSON format: NAME.gen.json, decoder "
                    "only; NAME.vae.json, encoder and decoder) into a SketchGen model folder. The graphs are built "
                    "from the weights and checked against the official arithmetic before anything is written.")
    parser.add_argument("source", nargs="?",
                        help="a .gen.json / .vae.json file, an http(s) URL, or an official model name ('cat', "
                             "'cat.vae'; see --list)")
    parser.add_argument("--out", help="model folder to write (default: ./NAME, e.g. ./cat.gen)")
    parser.add_argument("--base-url", default=None,
                        help="where official names are downloaded from (default: $SKETCHGEN_OFFICIAL_URL, else "
                             "the official storage)")
    parser.add_argument("--cache", default=None, help="folder for downloaded files (default: ~/.cache/sketchgen/"
                                                      "official)")
    parser.add_argument("--no-int8", action="store_true", help="do not measure or write the int8 sampler")
    parser.add_argument("--force", action="store_true", help="replace an existing model folder")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument("--list", action="store_true", help="list the official models and exit")
    return parser


@console_main
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from sketchgen.official.catalogue import catalogue, resolve_source

    if args.list:
        for model in catalogue():
            print(model.name)
        return 0
    if not args.source:
        build_parser().error("give a SOURCE (a file, a URL or an official name), or --list")
    from sketchgen.official.convert import import_js_model
    from sketchgen.official.fetch import default_cache_dir, fetch_model
    from sketchgen.official.jsformat import read_js_model

    source = resolve_source(args.source, args.base_url)
    if source.path is not None:
        model = read_js_model(source.path)
        origin = str(source.path.resolve())
    else:
        if not args.quiet:
            print(f"downloading {source.url}", file=sys.stderr)
        _, model = fetch_model(source.url, source.file_name, args.cache or default_cache_dir(),
                               progress=not args.quiet)
        origin = source.url
    out = Path(args.out) if args.out else Path(source.file_name.removesuffix(".json"))
    say = (lambda _m: None) if args.quiet else (lambda m: print(f"{m}...", file=sys.stderr))
    try:
        folder = import_js_model(model, out, force=args.force, int8=not args.no_int8, origin=origin, progress=say)
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return 130
    import json

    card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    parity = card["export"]["parity"]["max_abs_error"]
    print(f"wrote {folder}: {model.kind} model '{model.name}', {model.units} units, "
          f"{'z size ' + str(model.z_size) + ', ' if model.conditional else ''}max_seq_len {model.max_seq_len}, "
          f"scale factor {model.scale_factor:g}")
    print(f"parity with the official arithmetic: max error {max(parity.values()):.2e} (tolerance "
          f"{card['export']['parity']['tolerance']:g})")
    int8 = card["precision"].get("int8")
    if int8:
        print(f"int8 sampler: L_R {int8['delta_nats']:+.4f} nats against fp32 on sketches the model drew: "
              f"{'written, used by default' if int8['verified'] else 'not written'}")
    note = " (no license file: do not redistribute)" if card["official"]["official_model"] else ""
    print(f"data: {card['data']}; weights: {card['provenance']}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
