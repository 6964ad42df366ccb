"""One typed config for a sketch-rnn model and its training run, read the same way by every part.

The names and defaults are those of the official magenta sketch_rnn `get_default_hparams()`, so that
`--hparams` strings written for the original project work unchanged. The config is saved as JSON beside every
checkpoint and carried into every exported model's card (:mod:`sketchgen.model_folder`), so a model folder alone
is enough to use the model. Standard library only: the app, the export and training all import it.

Sizes that set how much memory sampling takes (sequence length, layer sizes, mixtures) have upper bounds, so a
hostile or mistyped model.json is refused instead of allocating without limit.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sketchgen.errors import ConfigError

CELL_TYPES = ("lstm", "layer_norm")
DECODER_CELL_TYPES = CELL_TYPES + ("hyper",)  # magenta's HyperLSTMCell (training.cells.SketchHyperLSTMCell)
# Upper bounds on the sizes that set memory use. Well above every published sketch-rnn model (max_seq_len 250,
# decoder 2048, z 512, 20 mixtures) and QuickDraw's longest simplified drawings.
LIMITS = {"max_seq_len": 10_000, "enc_rnn_size": 8192, "dec_rnn_size": 8192, "z_size": 4096, "num_mixture": 1000,
          "hyper_num_units": 8192, "hyper_embedding_size": 1024}


@dataclass
class HParams:
    # data
    data_set: list[str] = field(default_factory=lambda: ["aaron_sheep.npz"])
    max_seq_len: int = 250
    random_scale_factor: float = 0.15
    augment_stroke_prob: float = 0.10
    # model
    conditional: bool = True
    enc_model: str = "lstm"
    enc_rnn_size: int = 256
    dec_model: str = "lstm"
    dec_rnn_size: int = 512
    z_size: int = 128
    num_mixture: int = 20
    use_recurrent_dropout: bool = True
    recurrent_dropout_prob: float = 0.90  # keep probability, as in the original
    use_input_dropout: bool = False
    input_dropout_prob: float = 0.90
    use_output_dropout: bool = False
    output_dropout_prob: float = 0.90
    hyper_num_units: int = 256             # dec_model=hyper: the hyper cell's size (the official defaults)
    hyper_embedding_size: int = 32
    hyper_use_recurrent_dropout: bool = False
    # objective and optimiser
    kl_weight: float = 0.5
    kl_weight_start: float = 0.01
    kl_tolerance: float = 0.2
    kl_decay_rate: float = 0.99995
    learning_rate: float = 0.001
    decay_rate: float = 0.9999
    min_learning_rate: float = 0.00001
    grad_clip: float = 1.0
    batch_size: int = 100
    # run
    num_steps: int = 10_000_000
    save_every: int = 500
    eval_every: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first bad value."""
        for name in ("max_seq_len", "enc_rnn_size", "dec_rnn_size", "z_size", "num_mixture", "batch_size",
                     "num_steps", "save_every", "eval_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"hyperparameter {name} must be a positive integer, got {value!r}")
            if value > LIMITS.get(name, value):
                raise ConfigError(f"hyperparameter {name} must be at most {LIMITS[name]}, got {value!r}")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"hyperparameter {f.name} must be a finite number, got {value!r}")
        for name in ("recurrent_dropout_prob", "input_dropout_prob", "output_dropout_prob"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ConfigError(f"hyperparameter {name} is a keep probability in (0, 1], got {value!r}")
        if self.enc_model not in CELL_TYPES:
            raise ConfigError(f"hyperparameter enc_model must be one of {CELL_TYPES}, got {self.enc_model!r}"
                              + (" (a hyper encoder is not offered; dec_model=hyper is)" if self.enc_model == "hyper"
                                 else ""))
        if self.dec_model not in DECODER_CELL_TYPES:
            raise ConfigError(f"hyperparameter dec_model must be one of {DECODER_CELL_TYPES}, got {self.dec_model!r}")
        self._validate_hyper()
        for name in ("learning_rate", "min_learning_rate", "grad_clip"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"hyperparameter {name} must be > 0, got {getattr(self, name)!r}")
        for name in ("decay_rate", "kl_decay_rate"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ConfigError(f"hyperparameter {name} must be in (0, 1], got {getattr(self, name)!r}")
        if not 0.0 <= self.random_scale_factor < 1.0:
            raise ConfigError(f"hyperparameter random_scale_factor must be in [0, 1), got {self.random_scale_factor!r}")
        if not 0.0 <= self.augment_stroke_prob <= 1.0:
            raise ConfigError(f"hyperparameter augment_stroke_prob must be in [0, 1], got {self.augment_stroke_prob!r}")
        if self.kl_weight < 0 or self.kl_weight_start < 0 or self.kl_tolerance < 0:
            raise ConfigError("hyperparameters kl_weight, kl_weight_start and kl_tolerance must be >= 0")
        if not self.data_set:
            raise ConfigError("hyperparameter data_set must name at least one data file")

    def _validate_hyper(self) -> None:
        for name in ("hyper_num_units", "hyper_embedding_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"hyperparameter {name} must be a positive integer, got {value!r}")
            if value > LIMITS[name]:
                raise ConfigError(f"hyperparameter {name} must be at most {LIMITS[name]}, got {value!r}")
        if self.dec_model == "hyper" and self.hyper_num_units > self.dec_rnn_size:
            raise ConfigError(f"hyperparameter hyper_num_units ({self.hyper_num_units}) must not exceed dec_rnn_size "
                              f"({self.dec_rnn_size}): the hyper cell is the small network that scales the "
                              "decoder's weights")

    @property
    def decoder_state_size(self) -> int:
        """Width of the decoder's h and c: a hyper decoder carries its hyper cell's units beside its own."""
        return self.dec_rnn_size + (self.hyper_num_units if self.dec_model == "hyper" else 0)

    def describe_decoder(self) -> str:
        """The decoder's cell in words, as TensorBoard and the model card name it."""
        if self.dec_model == "hyper":
            dropout = ", recurrent dropout in the hyper cell" if self.hyper_use_recurrent_dropout else ""
            return (f"HyperLSTM {self.dec_rnn_size} (layer norm; hyper LSTM {self.hyper_num_units}, "
                    f"embedding {self.hyper_embedding_size}{dropout})")
        return f"{'layer-norm LSTM' if self.dec_model == 'layer_norm' else 'LSTM'} {self.dec_rnn_size}"

    # --- JSON --------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config", strict: bool = False) -> "HParams":
        """``strict``: JSON types must match exactly (a model card), else strings are parsed (``--hparams``)."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"{source}: unknown hyperparameter(s) {', '.join(unknown)}; "
                              f"known ones are: {', '.join(sorted(known))}")
        coerced = {k: _coerce(k, v, known[k].type, source, strict) for k, v in values.items()}
        try:
            return cls(**coerced)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    @classmethod
    def from_json(cls, text: str, source: str = "config") -> "HParams":
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not valid JSON ({exc})") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: expected a JSON object of hyperparameters")
        return cls.from_dict(values, source)

    @classmethod
    def load(cls, path: str | Path) -> "HParams":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from None
        return cls.from_json(text, source=str(path))

    def save(self, path: str | Path) -> None:
        from sketchgen.fileio import atomic_write
        with atomic_write(Path(path), mode="w") as fh:
            fh.write(self.to_json())

    def with_overrides(self, overrides: str | dict[str, Any] | None) -> "HParams":
        """Apply `key=value,key=value` (the original project's --hparams syntax) or a dict."""
        if not overrides:
            return self
        if isinstance(overrides, str):
            pairs: dict[str, Any] = {}
            for item in _split_overrides(overrides):
                if "=" not in item:
                    raise ConfigError(f"--hparams: expected key=value, got {item!r}")
                key, value = item.split("=", 1)
                pairs[key.strip()] = value.strip()
            overrides = pairs
        values = self.to_dict()
        known = set(values)
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"--hparams: unknown hyperparameter(s) {', '.join(unknown)}; "
                              f"known ones are: {', '.join(sorted(known))}")
        values.update(overrides)
        return HParams.from_dict(values, source="--hparams")


def _split_overrides(text: str) -> list[str]:
    """Split on commas, except inside [...] so that data_set=[a.npz,b.npz] stays one item."""
    items, depth, current = [], 0, ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        items.append(current)
    return [i.strip() for i in items if i.strip()]


def _coerce(name: str, value: Any, annotation: Any, source: str, strict: bool = False) -> Any:
    kind = str(annotation)
    try:
        if strict:
            return _exact(value, kind)
        if kind.startswith("list"):
            if isinstance(value, str):
                value = value.strip()
                if value.startswith("["):
                    value = value[1:-1]
                return [v.strip().strip("'\"") for v in value.split(",") if v.strip()]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise ValueError("expected a list of names")
            return list(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "1", "yes"):
                return True
            if isinstance(value, str) and value.lower() in ("false", "0", "no"):
                return False
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError("expected true or false")
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError("expected an integer")
            as_float = float(value)
            if as_float != int(as_float):
                raise ValueError("expected an integer")
            return int(as_float)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError("expected a number")
            return float(value)
        if kind == "str":
            if not isinstance(value, str):
                raise ValueError("expected a string")
            return value
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{source}: hyperparameter {name}={value!r}: {exc}") from None
    return value


def _exact(value: Any, kind: str) -> Any:
    """A JSON value of exactly the annotated type (an integer is also a float); no strings parsed."""
    if kind.startswith("list"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("expected a list of names")
        return list(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("expected an integer")
        return value
    if kind == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError("expected a number")
        return float(value)
    if kind == "str" and not isinstance(value, str):
        raise ValueError("expected a string")
    return value
