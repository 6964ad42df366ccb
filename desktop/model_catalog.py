"""Which model folders exist (shipped under assets/models/ and added by the user) and what their cards say.

Reading a card is plain JSON, no ONNX Runtime, so the picker can list models instantly at start-up; loading the
model itself happens later on the worker thread (:mod:`desktop.inference`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sketchgen.errors import ModelError

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

SHIPPED_MODELS_DIR = Path(__file__).resolve().parents[1] / "assets" / "models"
DEFAULT_MODEL_NAME = "sheep"
CARD_FILE = "model.json"


@dataclass(frozen=True)
class ModelEntry:
    """A model folder: where it is, the name shown in the picker, and whether it ships with SketchGen."""

    path: Path
    name: str
    shipped: bool


def is_model_folder(path: Path) -> bool:
    return (path / CARD_FILE).is_file()


def _folders_in(root: Path) -> list[Path]:
    """``root`` itself when it is a model folder, else its model sub-folders (sorted)."""
    if is_model_folder(root):
        return [root]
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return []
    return [p for p in children if is_model_folder(p)]


def discover_models(user_folders: Iterable[str | os.PathLike[str]] = (), shipped_dir: Path | None = None) -> list[ModelEntry]:
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
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    for entry in entries:
        if entry.name == spec:
            return entry.path
    known = ", ".join(e.name for e in entries) or "none installed"
    raise ModelError(spec, f"no such model folder or model name (known models: {known})")


def read_card(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The folder's model.json as a dict; ModelError naming the file for anything wrong."""
    path = Path(folder) / CARD_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(path, "is missing: not a model folder") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(path, f"cannot be read ({exc})") from None
    try:
        card = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(path, f"is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(card, dict):
        raise ModelError(path, f"must hold a JSON object, found a {type(card).__name__}")
    return card


def _first(card: Mapping[str, Any], *keys: str) -> Any:
    """The first of ``keys`` present, looked up at the top level and one level down (e.g. card["training"])."""
    for key in keys:
        if key in card:
            return card[key]
    for value in card.values():
        if isinstance(value, Mapping):
            for key in keys:
                if key in value:
                    return value[key]
    return None


def _datasets(card: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    value = _first(card, "datasets", "dataset", "data")
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return [v if isinstance(v, Mapping) else {"name": str(v)} for v in value]
    if isinstance(value, str):
        return [{"name": value}]
    return []


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


def _fact(card: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` as text; a null value with a ``<key>_source`` note says why it is unknown."""
    for key in keys:
        for where in (card, *(v for v in card.values() if isinstance(v, Mapping))):
            if key in where:
                value = where[key]
                if value is None:
                    note = where.get(f"{key}_source")
                    return f"not recorded ({note})" if note else "not recorded"
                return _format_value(value)
    return None


def card_license(card: Mapping[str, Any]) -> str:
    """Every data set's license (and attribution) as one line each; the model's use is bound by them."""
    lines = []
    for data in _datasets(card):
        name = data.get("name") or data.get("file") or data.get("path") or "data set"
        license_ = data.get("license") or data.get("licence") or "license not stated"
        attribution = data.get("attribution") or data.get("copyright")
        lines.append(f"{name}: {license_}" + (f" ({attribution})" if attribution else ""))
    top = card.get("license")
    if not lines and top:
        lines.append(str(top))
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


def _size(card: Mapping[str, Any]) -> str | None:
    """The network's size from the card's config (sketch-rnn hyperparameter names)."""
    config = card.get("config")
    if not isinstance(config, Mapping):
        return None
    parts = []
    if config.get("conditional", True) and config.get("enc_rnn_size"):
        parts.append(f"encoder {config.get('enc_model', 'lstm').upper()} {config['enc_rnn_size']}")
    if config.get("dec_rnn_size"):
        parts.append(f"decoder {config.get('dec_model', 'lstm').upper()} {config['dec_rnn_size']}")
    if config.get("conditional", True) and config.get("z_size"):
        parts.append(f"z {config['z_size']}")
    if config.get("num_mixture"):
        parts.append(f"{config['num_mixture']} mixtures")
    return ", ".join(parts) or None


def card_facts(card: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, text) rows for the model picker: data set, license, losses, steps trained, model kind and size."""
    facts: list[tuple[str, str]] = []
    datasets = _datasets(card)
    if datasets:
        names = [str(d.get("name") or d.get("file") or d.get("path") or "?") for d in datasets]
        facts.append(("Data set", ", ".join(names)))
    facts.append(("License", card_license(card)))
    conditional = _first(card, "conditional")
    losses = _split_losses(card.get("losses"), conditional is not False) or _fact(card, ("losses", "final_losses", "loss"))
    if losses is not None:
        facts.append(("Losses", losses))
    steps = _fact(card, ("steps_trained", "steps", "train_steps"))
    if steps is not None:
        facts.append(("Steps trained", steps))
    if conditional is not None:
        facts.append(("Kind", "conditional VAE (encoder + decoder)" if conditional else "decoder only"))
    size = _size(card)
    if size is not None:
        facts.append(("Size", size))
    return facts
