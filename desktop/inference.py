"""The app's only door to the model: turns drawings into engine calls and engine sketches back into strokes.

Every function here may take hundreds of milliseconds, so the app calls them only from the worker thread
(:mod:`desktop.workers`). The engine (``sketchgen.engine``) is imported on first use, on that thread, so start-up
never waits for ONNX Runtime. The engine speaks stroke-3 in model units; the app keeps absolute strokes in the same
units, so the conversions here are translations only, never rescaling.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop.document import MODEL, Stroke, strokes_from_stroke3, strokes_to_stroke3
from desktop.model_catalog import card_facts, card_license
from sketchgen.engine.sampling import DEFAULT_RULE
from sketchgen.errors import ModelError, SketchError
from sketchgen.model_folder import ModelCard
from sketchgen.strokes import center, validate_stroke3

if TYPE_CHECKING:  # the engine itself is imported on the worker thread, on first use
    from sketchgen.engine import SketchModel

__all__ = ["LoadedModel", "load", "stroke3_at_origin", "SAMPLE_ATTEMPTS"]

# prior samples drawn per "Random sample" (one batch, one call): the first the model finished wins; at temperature 0.1
# the shipped sheep ends 70% of single samples, the first finished of 4 95% of 40 seeds, of 8 or 16 all
# (bench/results/continuation_length.md)
SAMPLE_ATTEMPTS = 8


def stroke3_at_origin(s3: np.ndarray) -> np.ndarray:
    """A copy whose first point is (0, 0): where the training sketches start, so the model sees familiar input."""
    out = validate_stroke3(s3).copy()
    out[0, :2] = 0.0
    return out


class LoadedModel:
    """A loaded ``SketchModel`` plus what the picker shows about it. ``temperature_rule`` (the person's setting
    beside the temperature) goes with every call."""

    def __init__(self, path: Path, model: SketchModel) -> None:
        self.path = path
        self.model = model
        self.temperature_rule: str = DEFAULT_RULE
        self.card: ModelCard = model.card
        self.provider: str = model.provider
        self.conditional: bool = model.conditional

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def provider_label(self) -> str:
        """"CUDA" or "CPU" (or the provider's own name for anything else)."""
        if self.provider.startswith("CUDA"):
            return "CUDA"
        if self.provider.startswith("CPU"):
            return "CPU"
        return self.provider.removesuffix("ExecutionProvider")

    def facts(self) -> list[tuple[str, str]]:
        return card_facts(self.card)

    def license(self) -> str:
        return card_license(self.card)

    # -- drawing -----------------------------------------------------------------------------------------------------

    def continuations(
        self, prefix: Sequence[Stroke], n: int, temperature: float, seed: int | None = None
    ) -> list[list[Stroke]]:
        """``n`` alternative ways to go on from the drawing ``prefix``; each is a list of new model strokes only.
        Where the model's continuations may loop on to its last point, several attempts per suggestion are drawn
        in one batch and those the model ended itself come first (``sketchgen.engine.selection``; the shipped sheep
        at temperature 0.3: 9% of single continuations of 40% of a sheep run on, none of the chosen ones); a model
        whose measured continuations all end draws one per suggestion."""
        from sketchgen.engine.selection import continuation_attempts, prefer_finished

        if not prefix:
            raise SketchError("nothing drawn yet: draw a stroke first")
        s3 = stroke3_at_origin(strokes_to_stroke3(prefix))
        attempts = continuation_attempts(n, self.card.raw.get("quality"), self.temperature_rule)
        results = self.model.continue_(s3, n=attempts, temperature=temperature, seed=seed,
                                       temperature_rule=self.temperature_rule)
        results = prefer_finished(results, n, self.model.max_seq_len)
        end = prefix[-1].points[-1]
        return [self._continuation_strokes(end, np.asarray(r, dtype=np.float32)) for r in results]

    @staticmethod
    def _continuation_strokes(prefix_end: np.ndarray, continuation: np.ndarray) -> list[Stroke]:
        if len(continuation) == 0:
            return []
        strokes = strokes_from_stroke3(continuation, MODEL, name="continuation")
        return [s.translated(float(prefix_end[0]), float(prefix_end[1])) for s in strokes]

    def sample(self, temperature: float, seed: int | None = None, attempts: int = SAMPLE_ATTEMPTS) -> np.ndarray:
        """One sample (z from the prior), centred on the origin. ``attempts`` latents are drawn in one batch (one
        call) and the first sketch the model finished wins: a model sometimes never chooses end-of-sketch and loops on
        until its last point, most often in scribbled circles, and such a sketch is one the model never called done.
        Failing that, the first non-empty one (:meth:`finished` tells which it is)."""
        from sketchgen.engine.selection import prefer_finished

        results = self.model.sample(n=attempts, temperature=temperature, seed=seed,
                                    temperature_rule=self.temperature_rule)
        return self._checked(prefer_finished(results, 1, self.model.max_seq_len)[0], "sample")

    def finished(self, sketch: np.ndarray) -> bool:
        """Whether the model ended this sketch itself (rather than running out of points at its ``max_seq_len``)."""
        from sketchgen.engine.selection import finished

        return finished(sketch, self.model.max_seq_len)

    def reconstruct(self, sketch: np.ndarray, temperature: float, seed: int | None = None) -> np.ndarray:
        """Encode then decode ``sketch``; centred like the original."""
        self._need_encoder("reconstruct a drawing")
        result = self.model.reconstruct(stroke3_at_origin(sketch), temperature=temperature, seed=seed,
                                        temperature_rule=self.temperature_rule)
        return self._checked(result, "reconstruction")

    # -- latent space ------------------------------------------------------------------------------------------------

    def encode(self, sketch: np.ndarray) -> np.ndarray:
        """The latent mean ``[Nz]`` of one sketch (deterministic, so the morph handle does not flicker)."""
        self._need_encoder("encode a sketch")
        return np.asarray(self.model.encode(stroke3_at_origin(sketch), sample=False))[0]

    def decode(self, z: np.ndarray, temperature: float, seed: int | None = 0) -> np.ndarray:
        """One sketch from latent ``z`` (fixed seed by default: the same z always draws the same sketch, and every
        z gets the same noise, so neighbouring latents give neighbouring sketches). May be empty ``[0, 3]``: the
        model can end a sketch at once."""
        return self.decode_many(np.asarray(z, dtype=np.float32)[None, :], temperature, seed)[0]

    def decode_many(self, zs: np.ndarray, temperature: float, seed: int | None = 0) -> list[np.ndarray]:
        """One sketch per latent, decoded in one batch (one engine call) with the noise :meth:`decode` gives each:
        the morph strip's 7 frames and the 2x2 grid's 25 cost about one call, not 7 or 25."""
        results = self.model.decode_z(np.asarray(zs, dtype=np.float32), temperature=temperature, seed=seed,
                                      temperature_rule=self.temperature_rule)
        out = []
        for result in results:
            sketch = validate_stroke3(result, name="decoded sketch", allow_empty=True)
            out.append(center(sketch) if len(sketch) else sketch)
        return out

    def interpolate_z(self, za: np.ndarray, zb: np.ndarray, n: int, method: str = "slerp") -> np.ndarray:
        return np.asarray(self.model.interpolate_z(np.asarray(za), np.asarray(zb), n, method))

    def grid_z(self, corners: Sequence[np.ndarray], size: int, method: str = "slerp") -> np.ndarray:
        """``[size, size, Nz]`` latents between four corners (A top-left, B top-right, C bottom-left, D bottom-right):
        interpolate along the top and bottom edges, then down every column."""
        a, b, c, d = (np.asarray(z) for z in corners)
        top = self.interpolate_z(a, b, size, method)
        bottom = self.interpolate_z(c, d, size, method)
        columns = [self.interpolate_z(top[j], bottom[j], size, method) for j in range(size)]
        return np.stack(columns, axis=1)

    # -- helpers -----------------------------------------------------------------------------------------------------

    def _need_encoder(self, what: str) -> None:
        if not self.conditional:
            raise ModelError(self.path, f"is a decoder-only model, it has no encoder to {what}")

    @staticmethod
    def _checked(result: object, name: str) -> np.ndarray:
        sketch = validate_stroke3(result, name=name, allow_empty=True)
        if len(sketch) == 0:
            raise SketchError(f"{name}: the model ended the sketch before drawing anything (try again)")
        return center(sketch)


def load(path: str | os.PathLike[str]) -> LoadedModel:
    """Load a model folder with the engine (ONNX Runtime, CUDA when available). Worker thread only."""
    folder = Path(path)
    try:
        from sketchgen.engine import load_model
    except ImportError as exc:
        raise ModelError(folder, f"the model engine is not available ({exc})") from None
    return LoadedModel(folder, load_model(folder))

