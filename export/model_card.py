"""What the export adds to a model card: the data sets' licenses and the tool versions.

The card itself (its fields, how it is read, checked and written) is :mod:`sketchgen.model_folder`'s. A model
trained on a data set is bound by its license, so every data set is recorded with it; an unknown one is ``null``
with a note saying why, never guessed.
"""
from __future__ import annotations

import platform
import re
from importlib import metadata
from pathlib import Path
from typing import Any

_KANJI = ("CC BY-SA 3.0", "KanjiVG, Copyright (c) 2009-2015 Ulrich Apel", "https://kanjivg.tagaini.net/")
KNOWN_DATASETS: dict[str, tuple[str, str, str]] = {
    # name: (license, attribution, source)
    "aaron_sheep": ("CC BY-NC 4.0", "Copyright (c) 2006 Aaron Koblin (The Sheep Market); non-commercial use only",
                    "https://github.com/hardmaru/sketch-rnn-datasets/tree/master/aaron_sheep"),
    "short_kanji": _KANJI,
    "kanji": _KANJI,
    "omniglot": ("MIT", "Copyright (c) 2015 Brenden Lake (Omniglot)", "https://github.com/brendenlake/omniglot"),
}
QUICKDRAW = ("CC BY 4.0", "Quick, Draw! dataset, Google", "https://github.com/googlecreativelab/quickdraw-dataset")
_QUICKDRAW_NAME = re.compile(r"^[a-z][a-z0-9 \-]*$")
TOOLS = ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime")


def dataset_base_name(name: str) -> str:
    """'kanji.rdp100.npz' -> 'kanji', 'cat.mini25' -> 'cat', '/data/aaron_sheep.npz' -> 'aaron_sheep'."""
    base = Path(str(name)).name
    base = base.removesuffix(".npz").removeprefix("sketchrnn_")
    return base.split(".")[0]


def dataset_entry(name: str, sha256: str | None = None) -> dict[str, Any]:
    """One data set with its license: from the table of known sets, else a QuickDraw category, else unknown."""
    base = dataset_base_name(name)
    entry: dict[str, Any] = {"name": base, "file": Path(str(name)).name}
    if base in KNOWN_DATASETS:
        license_, attribution, source = KNOWN_DATASETS[base]
        basis = "known data set"
    elif _QUICKDRAW_NAME.match(base):
        license_, attribution, source = QUICKDRAW
        basis = "QuickDraw category (not one of the sketch-rnn-datasets sets)"
    else:
        license_, attribution, source = None, None, None
        basis = "unknown data set: check its license before using or sharing this model"
    entry.update(license=license_, attribution=attribution, source=source, license_basis=basis)
    if sha256:
        entry["sha256"] = sha256
    return entry


def tool_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for tool in TOOLS:
        try:
            versions[tool] = metadata.version(tool)
        except metadata.PackageNotFoundError:
            versions[tool] = None
    if versions.get("onnxruntime") is None:
        try:
            versions["onnxruntime"] = metadata.version("onnxruntime-gpu")
        except metadata.PackageNotFoundError:
            pass
    return versions
