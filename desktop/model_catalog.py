"""Which model folders exist (shipped under assets/models/ and added by the user) and what their cards say.

Reading a card is plain JSON, no ONNX Runtime, so the picker can list models instantly at start-up; loading the
model itself happens later on the worker thread (:mod:`desktop.inference`). The folder and its card are the core's
(:mod:`sketchgen.model_folder`); this module adds the user's folders and the picker's wording.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sketchgen.model_folder import MODELS_DIR, ModelCard, is_model_folder, resolve_model as _resolve, shipped_models

__all__ = [
    "SHIPPED_MODELS_DIR",
    "DEFAULT_MODEL_NAME",
    "ModelEntry",
    "is_model_folder",
    "discover_models",
    "default_model",
    "resolve_model",
    "read_card",
    "card_facts",
    "card_license",
]

SHIPPED_MODELS_DIR = MODELS_DIR
DEFAULT_MODEL_NAME = "sheep"


@dataclass(frozen=True)
class ModelEntry:
    """A model folder: where it is, the name shown in the picker, and whether it ships with SketchGen."""

    path: Path
    name: str
    shipped: bool


def _folders_in(root: Path) -> list[Path]:
    """``root`` itself when it is a model folder, else its model sub-folders (sorted)."""
    if is_model_folder(root):
        return [root]
    return list(shipped_models(root).values())


def discover_models(user_folders: Iterable[str | os.PathLike[str]] = (),
                    shipped_dir: Path | None = None) -> list[ModelEntry]:
    """Shipped models first (sorted by name), then the user's folders in the order they were added, no duplicates."""
    entries: list[ModelEntry] = []
    seen: set[Path] = set()
    for path in _folders_in(shipped_dir or SHIPPED_MODELS_DIR):
        seen.add(path.resolve())
        entries.append(ModelEntry(path, path.name, True))
    for folder in user_folders:
        for path in _folders_in(Path(folder)):
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            entries.append(ModelEntry(path, path.name, False))
    return entries


def default_model(entries: list[ModelEntry]) -> ModelEntry | None:
    """The shipped ``sheep`` model if it exists, else the first shipped one, else the first at all, else None."""
    shipped = [e for e in entries if e.shipped]
    for entry in shipped:
        if entry.name == DEFAULT_MODEL_NAME:
            return entry
    return (shipped or entries or [None])[0]


def resolve_model(spec: str, entries: list[ModelEntry]) -> Path:
    """``--model`` argument -> folder: an existing path, else the name of a known model; ModelError otherwise."""
    known: dict[str, Path] = {}
    for entry in entries:
        known.setdefault(entry.name, entry.path)
    return _resolve(spec, known)


def read_card(folder: str | os.PathLike[str]) -> ModelCard:
    """The folder's model.json, checked; ModelError naming the file and the field for anything wrong."""
    return ModelCard.read(folder)


def _format_value(value: Any) -> str:
    """Numbers to 4 significant digits; nested dicts as "part: k v, k v; part: ..."."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping):
        flat = ", ".join(f"{k} {_format_value(v)}" for k, v in value.items() if not isinstance(v, (Mapping, list)))
        nested = "; ".join(f"{k}: {_format_value(v)}" for k, v in value.items() if isinstance(v, Mapping))
        return "; ".join(part for part in (flat, nested) if part)
    if isinstance(value, list):
        return ", ".join(_format_value(v) for v in value)
    return str(value)


def card_license(card: ModelCard) -> str:
    """Every data set's license (and attribution) as one line each; the model's use is bound by them."""
    lines = [f"{d.name}: {d.license or 'license not stated'}" + (f" ({d.attribution})" if d.attribution else "")
             for d in card.datasets]
    return "\n".join(lines) or "license not stated in model.json"


_SPLIT_LOSS = re.compile(r"^(train|valid|test)_(.+)$")


def _split_losses(losses: Any, conditional: bool = True) -> str | None:
    """The exporter's flat ``{"valid_L_R": .., "test_L_R": .., ...}`` as one line per loss:
    ``L_R: valid 0.7613, test 0.7441``; None for any other layout. A decoder-only model has no latent, so its
    L_KL is not a measured 0 but does not exist: shown as "-"."""
    if not isinstance(losses, Mapping) or not losses:
        return None
    grouped: dict[str, list[str]] = {}
    for key, value in losses.items():
        match = _SPLIT_LOSS.match(str(key))
        if match is None or isinstance(value, (Mapping, list)):
            return None
        shown = "-" if match.group(2) == "L_KL" and not conditional else _format_value(value)
        grouped.setdefault(match.group(2), []).append(f"{match.group(1)} {shown}")
    return "\n".join(f"{name}: {', '.join(parts)}" for name, parts in grouped.items())


def _size(card: ModelCard) -> str:
    """The network's size from the card's config."""
    config = card.config
    parts = []
    if config.conditional:
        parts.append(f"encoder {config.enc_model.upper()} {config.enc_rnn_size}")
    parts.append(f"decoder {config.dec_model.upper()} {config.dec_rnn_size}")
    if config.conditional:
        parts.append(f"z {config.z_size}")
    parts.append(f"{config.num_mixture} mixtures")
    return ", ".join(parts)


def card_facts(card: ModelCard) -> list[tuple[str, str]]:
    """(label, text) rows for the model picker: data set, license, losses, steps trained, model kind and size."""
    facts: list[tuple[str, str]] = []
    if card.datasets:
        facts.append(("Data set", ", ".join(d.name for d in card.datasets)))
    facts.append(("License", card_license(card)))
    if isinstance(card.raw.get("provenance"), str):  # models imported from the sketch-rnn-js format
        facts.append(("Provenance", card.raw["provenance"]))
    losses = (_split_losses(card.losses, card.conditional)
              or (_format_value(dict(card.losses)) if card.losses else None))
    if losses is None and card.losses_source:
        losses = f"not recorded ({card.losses_source})"
    if losses is not None:
        facts.append(("Losses", losses))
    facts.append(("Steps trained", "not recorded" if card.steps_trained is None else str(card.steps_trained)))
    facts.append(("Kind", "conditional VAE (encoder + decoder)" if card.conditional else "decoder only"))
    facts.append(("Size", _size(card)))
    return facts
