"""SketchModel: encode, sample, continue, reconstruct and interpolate sketches with an exported model.

Everything the user sees is stroke-3 in pixel units; the model works on offsets divided by the data's scale
factor, which this class applies both ways. Every call takes a batch (``n`` sketches at once share each ONNX
Runtime call). A call keeps all its state in local variables and ONNX Runtime sessions may run concurrently, so
one SketchModel serves several threads at once. numpy + onnxruntime only. The whole user-facing API is this one
class (hence a longer file): every call shares its batching, scaling and noise handling.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sketchgen.errors import ConfigError, ModelError, SketchError
from sketchgen.model_folder import (DECODER_INIT, DECODER_PRIME, DECODER_SAMPLE, DECODER_SAMPLE_INT8, DECODER_STEP,
                                    ENCODER, ENCODER_INT8, ModelCard, graph_contract, required_files,
                                    resolve_model)
from sketchgen.strokes import stroke3_to_stroke5, validate_stroke3

from . import runtime
from .likelihood import Losses, reconstruction_losses
from .sampling import DEFAULT_RULE, END_PEN, TEMPERATURE_RULES, Noise, draw_noise, reference_loop

__all__ = ["SketchModel", "load_model"]

PRECISIONS = ("auto", "fp32", "int8")
SAMPLERS = ("auto", "fused", "loop")
EMPTY_REDRAWS = 8  # sample(): how often a sketch that ended before its first point is drawn again


class SketchModel:
    """A loaded model folder. Use :func:`load_model` to make one."""

    def __init__(self, folder: Path, card: ModelCard, sessions: dict[str, Any], provider: str,
                 sampler: str, precision: str):
        self.path = folder
        self.card = card
        self.provider = provider
        self.sampler = sampler          # "fused": one ONNX Loop per call; "loop": Python loop over decoder_step
        self.precision = precision      # of the fused sampler (and the encoder where int8 exists): "fp32" or "int8"
        self._sessions = sessions
        self._encoder = (ENCODER_INT8 if precision == "int8" and ENCODER_INT8 in sessions
                         else ENCODER)
        self.conditional: bool = card.conditional
        self.z_size: int = card.config.z_size if self.conditional else 0
        self.units: int = card.config.dec_rnn_size
        self.num_mixture: int = card.config.num_mixture
        self.scale_factor: float = card.scale_factor
        self.max_seq_len: int = card.max_seq_len
        self.start_token = np.asarray(card.start_token, np.float32)  # imported official models: zeros

    def __repr__(self) -> str:
        kind = "conditional" if self.conditional else "unconditional"
        return (f"SketchModel({str(self.path)!r}, {kind}, sampler={self.sampler}/{self.precision}, "
                f"provider={self.provider})")

    # -- inputs ----------------------------------------------------------------------------------------------------
    def _normalised5(self, sketch: object, name: str) -> np.ndarray:
        """Pixel stroke-3 -> normalised stroke-5 rows (no start token, no end row)."""
        s3 = validate_stroke3(sketch, name=name)
        s3[:, 0:2] /= np.float32(self.scale_factor)
        return stroke3_to_stroke5(s3)

    def _sketch_list(self, sketch_or_list: object, what: str) -> list[object]:
        """One sketch (a 2-D [N, 3] array or list of rows) or several (a list of those, or a 3-D array)."""
        if isinstance(sketch_or_list, np.ndarray):
            return list(sketch_or_list) if sketch_or_list.ndim == 3 else [sketch_or_list]
        if isinstance(sketch_or_list, (list, tuple)):
            if not sketch_or_list:
                raise SketchError(f"{what}: no sketches given")
            first = sketch_or_list[0]
            if isinstance(first, np.ndarray) and first.ndim == 2:
                return list(sketch_or_list)
            if isinstance(first, (list, tuple)) and first and isinstance(first[0], (list, tuple, np.ndarray)):
                return list(sketch_or_list)
        return [sketch_or_list]

    def _batch5(self, sketches: Sequence[object], what: str) -> tuple[np.ndarray, np.ndarray]:
        rows = [self._normalised5(s, f"{what} {i}" if len(sketches) > 1 else what) for i, s in enumerate(sketches)]
        longest = max(len(r) for r in rows)
        batch = np.zeros((len(rows), longest, 5), np.float32)
        batch[:, :, 4] = 1.0
        for i, r in enumerate(rows):
            batch[i, :len(r)] = r
        return batch, np.array([len(r) for r in rows], np.int32)

    def _need_encoder(self, what: str) -> None:
        if not self.conditional:
            raise ModelError(self.path, f"is an unconditional (decoder-only) model: it has no encoder to {what}")

    @staticmethod
    def _temperature(value: float, greedy: bool) -> float:
        if greedy:
            return 0.0
        try:
            tau = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"temperature must be a number, got {value!r}") from None
        if not math.isfinite(tau) or tau < 0:
            raise ConfigError(f"temperature must be a finite number >= 0, got {value!r}")
        return tau

    @staticmethod
    def _rule(rule: object, discrete: object, greedy: bool) -> tuple[str, float | None]:
        """(temperature rule, discrete temperature or None for the rule's own); ``greedy`` makes every choice the
        most likely one (discrete temperature 0) whatever the rule."""
        if rule not in TEMPERATURE_RULES:
            raise ConfigError(f"temperature_rule must be one of {', '.join(TEMPERATURE_RULES)}, got {rule!r}")
        if greedy:
            return str(rule), 0.0
        if discrete is None:
            return str(rule), None
        try:
            value = float(discrete)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ConfigError(f"discrete_temperature must be a number, got {discrete!r}") from None
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"discrete_temperature must be a finite number >= 0, got {discrete!r}")
        return str(rule), value

    def _count(self, value: object, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
            raise ConfigError(f"{what} must be a positive integer, got {value!r}")
        return int(value)

    def _z_batch(self, z: object, n: int, rng: np.random.Generator) -> np.ndarray | None:
        """z as [B, Nz]: given ([Nz] or [B, Nz], each row repeated n times) or drawn from the prior N(0, I)."""
        if not self.conditional:
            if z is not None:
                raise ConfigError(f"{self.path.name} is an unconditional model: it takes no latent vector z")
            return None
        if z is None:
            return rng.standard_normal((n, self.z_size)).astype(np.float32)
        zs = np.asarray(z, dtype=np.float32)
        if zs.ndim == 1:
            zs = zs[None, :]
        if zs.ndim != 2 or zs.shape[1] != self.z_size:
            raise ConfigError(f"z must have shape [{self.z_size}] or [B, {self.z_size}], got {list(zs.shape)}")
        if not np.isfinite(zs).all():
            raise ConfigError("z contains NaN or infinite values")
        return np.repeat(zs, n, axis=0)

    # -- graph calls -----------------------------------------------------------------------------------------------
    def _run(self, name: str, feeds: dict[str, np.ndarray], outputs: list[str]) -> list[np.ndarray]:
        """The named outputs of one graph, in the order asked for (never positional)."""
        return self._sessions[name].run(outputs, feeds)

    def _initial_state(self, z: np.ndarray | None, batch: int) -> tuple[np.ndarray, np.ndarray]:
        if self.conditional:
            h, c = self._run(DECODER_INIT, {"z": z}, ["h", "c"])
        else:
            h, c = self._run(DECODER_INIT, {"batch": np.array(batch, np.int64)}, ["h", "c"])
        return h, c

    def _step(self, x: np.ndarray, z: np.ndarray | None, h: np.ndarray, c: np.ndarray) -> dict[str, np.ndarray]:
        feeds = {"x": x, "h": h, "c": c}
        if z is not None:
            feeds["z"] = z
        session = self._sessions[DECODER_STEP]
        return dict(zip(self._step_outputs, session.run(self._step_outputs, feeds)))

    _step_outputs = ["pi", "mu_x", "mu_y", "sigma_x", "sigma_y", "rho", "pen", "h_out", "c_out"]

    def _prime(self, strokes: np.ndarray, lengths: np.ndarray, z: np.ndarray | None, h: np.ndarray,
               c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decoder state after reading each row's ``lengths`` inputs of ``strokes`` (start token first)."""
        if DECODER_PRIME in self._sessions:
            feeds = {"strokes": strokes, "lengths": lengths, "h0": h, "c0": c}
            if z is not None:
                feeds["z"] = z
            h, c = self._run(DECODER_PRIME, feeds, ["h", "c"])
            return h, c
        for t in range(strokes.shape[1]):  # folders exported without the primer: one step call per point
            out = self._step(strokes[:, t], z, h, c)
            active = (t < lengths)[:, None]
            h, c = np.where(active, out["h_out"], h), np.where(active, out["c_out"], c)
        return h, c

    def _decode_noise(self, x0: np.ndarray, h: np.ndarray, c: np.ndarray, z: np.ndarray | None, noise: Noise,
                      stop_at_end: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Sample from a decoder state: (offsets [S, B, 2] normalised, pens [S, B, 1]) with S <= noise.steps."""
        if self.sampler == "loop":
            return reference_loop(self._step, x0, h, c, z, noise, stop_at_end)
        logits, angle = noise.graph_inputs()
        feeds = {"h0": h, "c0": c, "x0": x0, "noise_logits": logits, "noise_angle": angle,
                 "stop_pen": np.array(END_PEN if stop_at_end else END_PEN + 1, np.int64)}
        if z is not None:
            feeds["z"] = z
        name = DECODER_SAMPLE_INT8 if self.precision == "int8" else DECODER_SAMPLE
        offsets, pens = self._run(name, feeds, ["offsets", "pens"])
        return offsets, pens

    def _to_sketches(self, offsets: np.ndarray, pens: np.ndarray, stop_at_end: bool = True) -> list[np.ndarray]:
        """Each row up to (not including) its end-of-sketch, as pixel stroke-3; a row that never ends is kept whole
        with its last point closing the stroke. ``stop_at_end=False`` keeps every row (an end is read as pen up)."""
        sketches = []
        pen = pens[..., 0]
        for b in range(offsets.shape[1]):
            ends = np.flatnonzero(pen[:, b] == END_PEN) if stop_at_end else []
            n = int(ends[0]) if len(ends) else offsets.shape[0]
            s3 = np.zeros((n, 3), np.float32)
            s3[:, 0:2] = offsets[:n, b] * np.float32(self.scale_factor)
            s3[:, 2] = pen[:n, b] >= 1
            if n:
                s3[-1, 2] = 1.0
            sketches.append(s3)
        return sketches

    def _max_len(self, max_len: object) -> int:
        return self.max_seq_len if max_len is None else self._count(max_len, "max_len")

    # -- public API ------------------------------------------------------------------------------------------------
    def encode(self, sketch_or_list: object, sample: bool = False, seed: int | None = None) -> np.ndarray:
        """Latent codes [B, Nz] of one sketch or a list: the mean of q(z|x), or a draw from it if ``sample``."""
        self._need_encoder("encode a sketch")
        sketches = self._sketch_list(sketch_or_list, "sketch")
        strokes, lengths = self._batch5(sketches, "sketch")
        mu, logvar = self._run(self._encoder, {"strokes": strokes, "lengths": lengths}, ["mu", "logvar"])
        if not sample:
            return mu
        eps = np.random.default_rng(seed).standard_normal(mu.shape).astype(np.float32)
        return (mu + np.exp(logvar / 2.0) * eps).astype(np.float32)

    def sample(self, z: object = None, n: int = 1, temperature: float = 0.5, max_len: int | None = None,
               greedy: bool = False, seed: int | None = None, stop_at_end: bool = True,
               redraw_empty: int = EMPTY_REDRAWS, temperature_rule: str = DEFAULT_RULE,
               discrete_temperature: float | None = None) -> list[np.ndarray]:
        """New sketches: ``n`` per latent vector (z [Nz] or [B, Nz]; None draws z from the prior N(0, I), and an
        unconditional model takes none). Sampling stops at each sketch's end-of-sketch or after ``max_len`` points
        (default: the model's max_seq_len); ``stop_at_end=False`` draws all ``max_len`` steps and keeps every point
        (what the benchmarks time).

        A sketch that ends before its first point is drawn again, up to ``redraw_empty`` times (new noise, and a new
        z where z came from the prior): nobody asks for an empty page, and an early model draws one often (kanji
        at 4000 steps: 33 of 100 prior samples at temperature 0.5). Rows drawn fine the first time are exactly what
        ``redraw_empty=0`` gives; the same seed gives the same sketches.

        ``temperature_rule``: how the temperature reaches the mixture and pen choices and the offsets' spread:
        "js" (the official demos': discrete temperature 0.5 + 0.5 tau, sigma x sqrt(tau)), "paper" (tau and
        sqrt(tau)) or "magenta" (its Python sampler: tau and tau); ``discrete_temperature`` overrides the rule's
        discrete temperature (see sketchgen.engine.sampling). ``greedy``: every choice the most likely one, offsets
        at the means. The same arguments on continue_, reconstruct, interpolate and decode_z."""
        n = self._count(n, "n")
        tau = self._temperature(temperature, greedy)
        rule = self._rule(temperature_rule, discrete_temperature, greedy)
        steps = self._max_len(max_len)
        rng = np.random.default_rng(seed)
        zs = self._z_batch(z, n, rng)
        prior = z is None and self.conditional
        sketches = self._draw(zs, zs.shape[0] if zs is not None else n, tau, rule, steps, rng, stop_at_end)
        for _ in range(max(int(redraw_empty), 0) if stop_at_end else 0):
            empty = [i for i, s in enumerate(sketches) if len(s) == 0]
            if not empty:
                break
            again = self._z_batch(None, len(empty), rng) if prior else (zs[empty] if zs is not None else None)
            for i, sketch in zip(empty, self._draw(again, len(empty), tau, rule, steps, rng, stop_at_end)):
                sketches[i] = sketch
        return sketches

    def _draw(self, zs: np.ndarray | None, batch: int, tau: float, rule: tuple[str, float | None], steps: int,
              rng: np.random.Generator, stop_at_end: bool) -> list[np.ndarray]:
        h, c = self._initial_state(zs, batch)
        x0 = np.tile(self.start_token, (batch, 1))
        noise = draw_noise(rng, steps, np.full(batch, tau), self.num_mixture, *rule)
        return self._to_sketches(*self._decode_noise(x0, h, c, zs, noise, stop_at_end), stop_at_end)

    def continue_(self, prefix: object, z: object = None, n: int = 1, temperature: float = 0.5,
                  max_len: int | None = None, greedy: bool = False, seed: int | None = None,
                  stop_at_end: bool = True, temperature_rule: str = DEFAULT_RULE,
                  discrete_temperature: float | None = None) -> list[np.ndarray]:
        """``n`` continuations of a drawing (or of each drawing in a list): the decoder reads the prefix, then draws
        on. Conditional models use z = encode(prefix) (the mean) unless ``z`` is given. Returns the new points only,
        as stroke-3 starting at the prefix's last point."""
        n = self._count(n, "n")
        tau = self._temperature(temperature, greedy)
        rule = self._rule(temperature_rule, discrete_temperature, greedy)
        steps = self._max_len(max_len)
        prefixes = self._sketch_list(prefix, "prefix")
        strokes, lengths = self._batch5(prefixes, "prefix")
        rng = np.random.default_rng(seed)
        count = len(prefixes)
        if self.conditional:
            if z is None:
                (zs,) = self._run(self._encoder, {"strokes": strokes, "lengths": lengths}, ["mu"])
            else:
                zs = self._z_batch(z, 1, rng)
                if zs.shape[0] == 1:
                    zs = np.repeat(zs, count, axis=0)
                if zs.shape[0] != count:
                    raise ConfigError(f"z has {zs.shape[0]} rows for {count} prefixes")
        else:
            if z is not None:
                raise ConfigError(f"{self.path.name} is an unconditional model: it takes no latent vector z")
            zs = None
        # the decoder reads each prefix once (start token, then every point but the last, which is the sampler's
        # x0); its state is then shared by that prefix's n continuations
        inputs = np.concatenate([np.tile(self.start_token, (count, 1, 1)), strokes[:, :-1]], axis=1)
        h, c = self._initial_state(zs, count)
        h, c = self._prime(inputs, lengths, zs, h, c)
        x0 = strokes[np.arange(count), lengths - 1]
        h, c, x0 = (np.repeat(a, n, axis=0) for a in (h, c, x0))
        zs = np.repeat(zs, n, axis=0) if zs is not None else None
        noise = draw_noise(rng, steps, np.full(count * n, tau), self.num_mixture, *rule)
        return self._to_sketches(*self._decode_noise(x0, h, c, zs, noise, stop_at_end), stop_at_end)

    def reconstruct(self, sketch: object, temperature: float = 0.5, seed: int | None = None,
                    temperature_rule: str = DEFAULT_RULE, discrete_temperature: float | None = None) -> np.ndarray:
        """Encode a sketch (mean z) and draw it again from that z."""
        self._need_encoder("reconstruct a sketch")
        z = self.encode(sketch)
        return self.sample(z=z, n=1, temperature=temperature, seed=seed, temperature_rule=temperature_rule,
                           discrete_temperature=discrete_temperature)[0]

    def interpolate(self, a: object, b: object, n: int = 10, method: str = "slerp", temperature: float = 0.1,
                    seed: int | None = None, stop_at_end: bool = True, temperature_rule: str = DEFAULT_RULE,
                    discrete_temperature: float | None = None) -> list[np.ndarray]:
        """``n`` sketches decoded (in one batch, with the same noise, so frames differ only by z) along the latent
        path from sketch ``a`` to sketch ``b``."""
        self._need_encoder("interpolate between sketches")
        n = self._count(n, "n")
        za, zb = self.encode([a, b])
        return self.decode_z(self.interpolate_z(za, zb, n, method), temperature, seed, stop_at_end,
                             temperature_rule, discrete_temperature)

    def decode_z(self, zs: object, temperature: float = 0.1, seed: int | None = None,
                 stop_at_end: bool = True, temperature_rule: str = DEFAULT_RULE,
                 discrete_temperature: float | None = None) -> list[np.ndarray]:
        """One sketch per row of ``zs`` ([B, Nz] or [Nz]), decoded in one batch with the same noise for every row:
        sketches differ only by their latents, so neighbouring latents give neighbouring sketches (morph frames, a
        latent grid). A row may come back empty (the model ended it at once); nothing is drawn again."""
        if zs is None:
            raise ConfigError("decode_z needs latent vectors (sample() draws them from the prior)")
        tau = self._temperature(temperature, False)
        rule = self._rule(temperature_rule, discrete_temperature, False)
        rng = np.random.default_rng(seed)
        zs = self._z_batch(zs, 1, rng)  # given latents draw nothing; it checks them (an unconditional model refuses)
        n = zs.shape[0]
        h, c = self._initial_state(zs, n)
        x0 = np.tile(self.start_token, (n, 1))
        noise = draw_noise(rng, self.max_seq_len, np.array([tau]), self.num_mixture, *rule).repeat_rows(n)
        return self._to_sketches(*self._decode_noise(x0, h, c, zs, noise, stop_at_end), stop_at_end)

    def reconstruction_losses(self, sketches: Sequence[object], seed: int = 0) -> Losses:
        """Teacher-forced L_R of pixel stroke-3 sketches (each at most max_seq_len points), per N_max as training
        reports it and per real point (sketchgen.engine.likelihood), with the fp32 graphs; z ~ q(z|x) from ``seed``."""
        rows = []
        for i, sketch in enumerate(sketches):
            s3 = validate_stroke3(sketch, name=f"sketch {i}")
            if len(s3) > self.max_seq_len:
                raise SketchError(f"sketch {i} has {len(s3)} points, more than the model's max_seq_len "
                                  f"({self.max_seq_len})")
            s3[:, 0:2] /= np.float32(self.scale_factor)
            rows.append(s3)
        if not rows:
            raise SketchError("reconstruction_losses: no sketches given")
        sessions = {"decoder_init": self._sessions[DECODER_INIT],
                    "decoder_step": self._sessions[DECODER_STEP]}
        if self.conditional:
            sessions["encoder"] = self._sessions[ENCODER]
        return reconstruction_losses(sessions, rows, self.max_seq_len, self.conditional, seed)

    @staticmethod
    def interpolate_z(za: object, zb: object, n: int, method: str = "slerp") -> np.ndarray:
        """[n, Nz] latents from za to zb (both ends included): spherical (sketch-rnn's slerp) or linear."""
        if method not in ("slerp", "lerp"):
            raise ConfigError(f"interpolation method must be 'slerp' or 'lerp', got {method!r}")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ConfigError(f"n must be a positive integer, got {n!r}")
        a = np.asarray(za, dtype=np.float64).reshape(-1)
        b = np.asarray(zb, dtype=np.float64).reshape(-1)
        if a.shape != b.shape:
            raise ConfigError(f"za and zb differ in size: {a.shape[0]} and {b.shape[0]}")
        ts = np.linspace(0.0, 1.0, int(n))[:, None] if n > 1 else np.zeros((1, 1))
        if method == "slerp":
            norms = np.linalg.norm(a) * np.linalg.norm(b)
            cos = np.clip(np.dot(a, b) / norms, -1.0, 1.0) if norms > 0 else 1.0
            omega = math.acos(cos)
            if abs(math.sin(omega)) > 1e-6:
                out = (np.sin((1.0 - ts) * omega) * a + np.sin(ts * omega) * b) / math.sin(omega)
                return out.astype(np.float32)
        return ((1.0 - ts) * a + ts * b).astype(np.float32)


def load_model(path: str | os.PathLike[str], provider: str = "auto", precision: str = "auto",
               sampler: str = "auto", intra_op_threads: int = 1) -> SketchModel:
    """Load and check a model folder (a path, or a name under assets/models/).

    ``provider``: "auto" (CUDA when onnxruntime-gpu sees a GPU, else CPU), "cpu" or "cuda".
    ``precision`` of the fused sampler: "auto" uses int8 only when the export measured its test-set L_R within
    0.01 nats of fp32, "fp32" or "int8" force one. ``sampler``: "fused" (one ONNX Loop per call), "loop" (a Python
    loop over decoder_step.onnx, the reference) or "auto" (fused when the folder has it).
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if sampler not in SAMPLERS:
        raise ConfigError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    folder = resolve_model(path)
    card = ModelCard.read(folder)
    card.verify_files()
    contract = graph_contract(card.config)
    providers = runtime.choose_providers(provider)
    options = runtime.SessionOptions(intra_op_threads=intra_op_threads)
    files = card.files
    explicit = precision != "auto"
    if precision == "auto":
        precision = "int8" if card.int8_ready else "fp32"
    fused_file = DECODER_SAMPLE_INT8 if precision == "int8" else DECODER_SAMPLE
    if sampler == "auto":
        sampler = "fused" if (fused_file in files or explicit) else "loop"
    if sampler == "fused" and fused_file not in files:
        raise ModelError(folder / fused_file, f"is not part of this model folder (needed for the fused {precision} "
                                              "sampler); export the model again or use sampler='loop'")
    wanted = required_files(card.conditional)
    wanted += [f for f in (DECODER_PRIME,) if f in files]
    if sampler == "fused":
        wanted.append(fused_file)
    if precision == "int8" and ENCODER_INT8 in files:
        wanted.append(ENCODER_INT8)
    sessions = {}
    for name in wanted:
        session = runtime.open_session(folder / name, providers, runtime.graph_options(name, options))
        runtime.check_io(session, folder / name, contract[name])
        sessions[name] = session
    used = sessions[DECODER_STEP].get_providers()[0]
    return SketchModel(folder, card, sessions, used, sampler, precision if sampler == "fused" else "fp32")
