"""The official sketch-rnn models by name, and where they live.

The official storage (``sketch-rnn-js/README.md`` of magenta/magenta-demos) serves each model as
``<base>/<category>.<gen|vae>.json``: ``gen`` a decoder-only model, ``vae`` the encoder and decoder. The base is
configurable (``--base-url`` / ``$SKETCHGEN_OFFICIAL_URL``) so a mirror, or a local server in the tests, can stand in.
"""
from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from sketchgen.errors import ConfigError

DEFAULT_BASE_URL = "https://storage.googleapis.com/quickdraw-models/sketchRNN/large_models"
BASE_URL_ENV = "SKETCHGEN_OFFICIAL_URL"
KINDS = ("gen", "vae")

# sketch-rnn-js/README.md's table, in its order; every one comes as gen and vae except "everything" (gen only)
CATEGORIES = (
    "alarm_clock", "ambulance", "angel", "ant", "antyoga", "backpack", "barn", "basket", "bear", "bee", "beeflower",
    "bicycle", "bird", "book", "brain", "bridge", "bulldozer", "bus", "butterfly", "cactus", "calendar", "castle",
    "cat", "catbus", "catpig", "chair", "couch", "crab", "crabchair", "crabrabbitfacepig", "cruise_ship",
    "diving_board", "dog", "dogbunny", "dolphin", "duck", "elephant", "elephantpig", "eye", "face", "fan",
    "fire_hydrant", "firetruck", "flamingo", "flower", "floweryoga", "frog", "frogsofa", "garden", "hand",
    "hedgeberry", "hedgehog", "helicopter", "kangaroo", "key", "lantern", "lighthouse", "lion", "lionsheep",
    "lobster", "map", "mermaid", "monapassport", "monkey", "mosquito", "octopus", "owl", "paintbrush", "palm_tree",
    "parrot", "passport", "peas", "penguin", "pig", "pigsheep", "pineapple", "pool", "postcard", "power_outlet",
    "rabbit", "rabbitturtle", "radio", "radioface", "rain", "rhinoceros", "rifle", "roller_coaster", "sandwich",
    "scorpion", "sea_turtle", "sheep", "skull", "snail", "snowflake", "speedboat", "spider", "squirrel", "steak",
    "stove", "strawberry", "swan", "swing_set", "the_mona_lisa", "tiger", "toothbrush", "toothpaste", "tractor",
    "trombone", "truck", "whale", "windmill", "yoga", "yogabicycle", "everything",
)
GEN_ONLY = ("everything",)
_NAME = re.compile(r"^([a-z0-9_]+)(?:\.(gen|vae))?(?:\.json)?$")


@dataclass(frozen=True)
class OfficialModel:
    """One published model: its category and kind ("gen": decoder only, "vae": encoder and decoder)."""

    category: str
    kind: str

    @property
    def name(self) -> str:
        return f"{self.category}.{self.kind}"

    @property
    def file_name(self) -> str:
        return f"{self.category}.{self.kind}.json"

    @property
    def title(self) -> str:
        what = "decoder only: draws and completes" if self.kind == "gen" else "encoder + decoder: also reconstructs"
        return f"{self.category.replace('_', ' ')} ({what})"

    def url(self, base_url: str | None = None) -> str:
        return f"{resolve_base_url(base_url)}/{urllib.parse.quote(self.file_name)}"


def catalogue() -> list[OfficialModel]:
    """Every published model, gen before vae, in the README's order."""
    return [OfficialModel(c, k) for c in CATEGORIES for k in KINDS if not (k == "vae" and c in GEN_ONLY)]


def resolve_base_url(explicit: str | None = None) -> str:
    return (explicit or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


def parse_name(name: str) -> OfficialModel:
    """'cat' -> cat.gen, 'cat.vae' -> cat.vae ('cat.gen.json' too); ConfigError for a name not in the catalogue."""
    match = _NAME.match(name.strip().lower())
    if not match or match.group(1) not in CATEGORIES:
        close = [c for c in CATEGORIES if name.strip().lower().split(".")[0] in c][:8]
        hint = f" (did you mean {', '.join(close)}?)" if close else " (sketchgen-import --list shows them all)"
        raise ConfigError(f"{name!r} is not an official sketch-rnn model{hint}")
    category, kind = match.group(1), match.group(2) or "gen"
    if kind == "vae" and category in GEN_ONLY:
        raise ConfigError(f"{category!r} is published as a decoder-only (gen) model only")
    return OfficialModel(category, kind)


@dataclass(frozen=True)
class Source:
    """What SOURCE names: a local file, or a URL (of an official model, or any other)."""

    path: Path | None
    url: str | None
    official: OfficialModel | None = None

    @property
    def file_name(self) -> str:
        if self.path is not None:
            return self.path.name
        return Path(urllib.parse.urlparse(self.url or "").path).name or "model.json"


def resolve_source(source: str, base_url: str | None = None) -> Source:
    """A ``.json`` file, an ``http(s)://`` or ``file://`` URL, or an official name."""
    if re.match(r"^(https?|file)://", source, re.IGNORECASE):
        return Source(None, source)
    path = Path(source).expanduser()
    if path.exists() or source.endswith(".json") or os.sep in source:
        return Source(path, None)
    model = parse_name(source)
    return Source(None, model.url(base_url), model)
