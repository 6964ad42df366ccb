"""A small reference sampler over ``SketchRNN.decoder_step`` (numpy + keras.ops, any backend).

Used for the sample images of a training run (TensorBoard) and as the reference the exported samplers can be
compared with. The temperature acts by the engine's temperature rules (``sketchgen.engine.sampling.temperatures``,
by default the official demos'): the mixture weights and the pen state are drawn from ``softmax(logits / t)`` with
the rule's discrete temperature t, the Gaussian's standard deviations are scaled by the rule's sigma scale (the
correlation stays); ``greedy`` takes the most likely component and pen state and the component's mean. Sketches are
in the model's normalised units (multiply by the data's scale factor for pixels).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from keras import ops

from sketchgen.engine.sampling import DEFAULT_RULE, temperatures
from sketchgen.strokes import stroke5_to_stroke3
from sketchgen.model_folder import START_TOKEN
from training.dataset import make_batch
from training.model import SketchRNN

DEFAULT_MAX_LEN = 250


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def _choose(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One index per row, drawn from each row's distribution (inverse CDF)."""
    cdf = np.cumsum(probabilities, axis=-1)
    u = rng.random((probabilities.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((u > cdf).sum(axis=-1), probabilities.shape[-1] - 1)


def decode(model: SketchRNN, z: np.ndarray | None = None, n: int | None = None, temperature: float = 0.5,
           max_len: int = DEFAULT_MAX_LEN, greedy: bool = False, seed: int | None = 0,
           temperature_rule: str = DEFAULT_RULE) -> list[np.ndarray]:
    """Draw sketches (stroke-3, normalised) from ``z`` [n, Nz] (conditional) or ``n`` of them (unconditional).

    Stops at each sketch's end-of-sketch state or after ``max_len`` points.
    """
    if not temperature > 0 and not greedy:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    conditional = model.hp.conditional
    if conditional:
        if z is None:
            raise ValueError("a conditional model needs z")
        z = np.asarray(z, dtype=np.float32)
        n = z.shape[0]
        h, c = model.initial_state(ops.convert_to_tensor(z))
    else:
        if n is None:
            raise ValueError("an unconditional model needs n")
        h, c = model.initial_state(None, n)
    rng = np.random.default_rng(seed)
    scaled = None if greedy else temperatures(float(temperature), temperature_rule)
    x = np.tile(START_TOKEN, (n, 1)).astype(np.float32)
    strokes = np.zeros((n, max_len, 5), dtype=np.float32)
    done = np.zeros(n, dtype=bool)
    rows = np.arange(n)
    for t in range(max_len):
        params, h, c = model.decoder_step(ops.convert_to_tensor(x), ops.convert_to_tensor(z) if conditional else None,
                                          h, c)
        pi, mu_x, mu_y, s_x, s_y, rho, pen = (ops.convert_to_numpy(v).astype(np.float64) for v in (
            params.pi_logits, params.mu_x, params.mu_y, params.sigma_x, params.sigma_y, params.rho,
            params.pen_logits))
        if greedy:
            j, state = pi.argmax(axis=-1), pen.argmax(axis=-1)
            dx, dy = mu_x[rows, j], mu_y[rows, j]
        else:
            j = _choose(rng, _softmax(pi / scaled.discrete))
            state = _choose(rng, _softmax(pen / scaled.discrete))
            sx, sy, r = s_x[rows, j] * scaled.sigma_scale, s_y[rows, j] * scaled.sigma_scale, rho[rows, j]
            e1, e2 = rng.standard_normal(n), rng.standard_normal(n)
            dx = mu_x[rows, j] + sx * e1
            dy = mu_y[rows, j] + sy * (r * e1 + np.sqrt(np.maximum(1.0 - r * r, 0.0)) * e2)
        x = np.zeros((n, 5), dtype=np.float32)
        x[:, 0], x[:, 1] = dx, dy
        x[rows, 2 + state] = 1.0
        strokes[~done, t] = x[~done]
        done |= state == 2
        if done.all():
            break
    out = []
    for s in strokes:
        if not s[:, 4].any():  # ran out of steps: the sketch ends after max_len points
            s = np.concatenate([s, [[0, 0, 0, 0, 1]]]).astype(np.float32)
        out.append(stroke5_to_stroke3(s))
    return out


def reconstruct(model: SketchRNN, sketches: Sequence[np.ndarray], temperature: float = 0.5,
                max_len: int = DEFAULT_MAX_LEN, greedy: bool = False, seed: int | None = 0) -> list[np.ndarray]:
    """Encode normalised stroke-3 sketches (z = the encoder's mean) and decode them again."""
    longest = max(len(s) for s in sketches)
    batch = make_batch(list(sketches), longest)
    mu, _ = model.encode(ops.convert_to_tensor(batch.strokes[:, 1:]), ops.convert_to_tensor(batch.lengths))
    return decode(model, ops.convert_to_numpy(mu), temperature=temperature, max_len=max_len, greedy=greedy,
                  seed=seed)


def sample(model: SketchRNN, n: int, temperature: float = 0.5, max_len: int = DEFAULT_MAX_LEN,
           greedy: bool = False, seed: int | None = 0) -> list[np.ndarray]:
    """``n`` new sketches: z from the prior N(0, I) (conditional models) or the decoder alone."""
    if model.hp.conditional:
        z = np.random.default_rng(seed).standard_normal((n, model.hp.z_size)).astype(np.float32)
        return decode(model, z, temperature=temperature, max_len=max_len, greedy=greedy, seed=seed)
    return decode(model, None, n=n, temperature=temperature, max_len=max_len, greedy=greedy, seed=seed)
