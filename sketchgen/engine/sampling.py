"""Sampling noise and the plain Python sampling loops (numpy only).

The engine draws all randomness up front with one seeded numpy Generator, so a seed reproduces a sketch exactly
and the fused ONNX loop (``decoder_sample.onnx``, see ``sketchgen/graphs/decoder.py``) and the Python loop over
``decoder_step.onnx`` (:func:`reference_loop`) turn the same noise into the same sketch:

- mixture component and pen state: ``argmax(logits + tau * gumbel)``, a draw from ``softmax(logits / tau)`` for
  tau > 0 (sketch-rnn's temperature) and the greedy argmax at tau = 0;
- offsets: sketch-rnn's correlated Gaussian with each sigma scaled by sqrt(tau), from Box-Muller polar noise
  ``R = sqrt(-2 ln u1)``, ``a = 2 pi u2``: ``dx = mu_x + sigma_x sqrt(tau) R cos a``,
  ``dy = mu_y + sigma_y sqrt(tau) R sin(a + asin rho)``.

:func:`classic_loop` is sketch-rnn's own sampler (inverse-CDF categorical draws and ``multivariate_normal``); the
tests use it to check that the engine's samples follow the same distribution.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

START_TOKEN = np.array([0.0, 0.0, 1.0, 0.0, 0.0], dtype=np.float32)
HEAD_COLUMNS = 8
LOG_RADIUS_FLOOR = -1.0e4  # ln(sqrt(tau) R) at tau = 0: exp() of it is exactly 0, and no -inf reaches the graph
END_PEN = 2

StepFn = Callable[[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray], dict[str, np.ndarray]]


@dataclass
class Noise:
    """Every random number one batch of sketches needs, for ``steps`` steps of ``batch`` rows."""

    gumbel_pi: np.ndarray    # [T, B, M] already multiplied by tau
    gumbel_pen: np.ndarray   # [T, B, 3] already multiplied by tau
    log_radius: np.ndarray   # [T, B] ln(sqrt(tau) R)
    angle: np.ndarray        # [T, B] a
    one_row: "Noise | None" = field(default=None, repr=False)  # repeat_rows' source: the graph inputs repeat it

    @property
    def steps(self) -> int:
        return int(self.angle.shape[0])

    @property
    def batch(self) -> int:
        return int(self.angle.shape[1])

    def repeat_rows(self, batch: int) -> "Noise":
        """The same noise for ``batch`` rows (interpolation frames that differ only by z)."""
        if self.batch != 1:
            raise ValueError("repeat_rows needs noise drawn for one row")
        rep = lambda a: np.ascontiguousarray(np.repeat(a, batch, axis=1))  # noqa: E731
        return Noise(rep(self.gumbel_pi), rep(self.gumbel_pen), rep(self.log_radius), rep(self.angle), one_row=self)

    def graph_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """(noise_logits [T, B, K, 8], noise_angle [T, B, 2]) in the layout decoder_sample.onnx reads."""
        if self.one_row is not None:  # built for one row and repeated: 3x faster for ten interpolation frames
            return tuple(np.repeat(a, self.batch, axis=1) for a in self.one_row.graph_inputs())  # type: ignore
        t, b, m = self.gumbel_pi.shape
        k = max(m, 3)
        logits = np.zeros((t, b, k, HEAD_COLUMNS), dtype=np.float32)
        logits[:, :, :m, 0] = self.gumbel_pi
        logits[:, :, :3, 1] = self.gumbel_pen
        logits[:, :, :, 4:6] = self.log_radius[:, :, None, None]
        angle = np.empty((t, b, 2), dtype=np.float32)
        angle[..., 0] = self.angle + np.float32(np.pi / 2)
        angle[..., 1] = self.angle
        return logits, angle


def _gumbel(rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
    """Standard Gumbel draws: numpy's own ``Generator.gumbel`` formula, -log(-log(1 - u)), on the same uniforms
    (so a seed gives the same values), vectorised: 5-10x faster than the element-by-element C loop of
    ``rng.gumbel``, which cost ~1.3 ms for the noise of nine 250-step continuations."""
    u = rng.random(size)
    np.subtract(1.0, u, out=u)
    np.maximum(u, np.finfo(np.float64).tiny, out=u)  # u == 1 (p = 2^-53): numpy redraws; here a finite extreme
    np.log(u, out=u)
    np.negative(u, out=u)
    np.log(u, out=u)
    return np.negative(u, out=u)


def draw_noise(rng: np.random.Generator, steps: int, temperatures: np.ndarray, num_mixture: int) -> Noise:
    """Noise for ``len(temperatures)`` rows; a temperature of 0 gives the greedy path (no randomness used)."""
    tau = np.asarray(temperatures, dtype=np.float64).reshape(-1)
    batch = len(tau)
    gumbel_pi = _gumbel(rng, (steps, batch, num_mixture)) * tau[None, :, None]
    gumbel_pen = _gumbel(rng, (steps, batch, 3)) * tau[None, :, None]
    u1 = 1.0 - rng.random((steps, batch))  # (0, 1]: log never sees 0
    angle = 2.0 * np.pi * rng.random((steps, batch))
    with np.errstate(divide="ignore"):
        log_radius = 0.5 * np.log(-2.0 * np.log(u1)) + 0.5 * np.log(tau)[None, :]
    log_radius = np.maximum(np.nan_to_num(log_radius, nan=LOG_RADIUS_FLOOR, neginf=LOG_RADIUS_FLOOR),
                            LOG_RADIUS_FLOOR)
    return Noise(gumbel_pi.astype(np.float32), gumbel_pen.astype(np.float32), log_radius.astype(np.float32),
                 angle.astype(np.float32))


def sample_step(out: dict[str, np.ndarray], noise: Noise, t: int) -> tuple[np.ndarray, np.ndarray]:
    """One sample from one step's mixture (decoder_step.onnx outputs) with noise row t: (offsets [B, 2], pens [B])."""
    rows = np.arange(out["pi"].shape[0])
    k = np.argmax(out["pi"] + noise.gumbel_pi[t], axis=1)
    pen = np.argmax(out["pen"] + noise.gumbel_pen[t], axis=1)
    radius = np.exp(noise.log_radius[t])
    a = noise.angle[t]
    phi = np.arcsin(out["rho"][rows, k])
    dx = out["mu_x"][rows, k] + out["sigma_x"][rows, k] * radius * np.sin(a + np.float32(np.pi / 2))
    dy = out["mu_y"][rows, k] + out["sigma_y"][rows, k] * radius * np.sin(a + phi)
    return np.stack([dx, dy], axis=1).astype(np.float32), pen.astype(np.int64)


def stroke5_rows(offsets: np.ndarray, pens: np.ndarray) -> np.ndarray:
    """[B, 2] offsets and [B] pen indices -> [B, 5] stroke-5 rows (the decoder's next input)."""
    x = np.zeros((len(pens), 5), dtype=np.float32)
    x[:, 0:2] = offsets
    x[np.arange(len(pens)), 2 + pens] = 1.0
    return x


def reference_loop(step: StepFn, x0: np.ndarray, h: np.ndarray, c: np.ndarray, z: np.ndarray | None,
                   noise: Noise, stop_at_end: bool = True,
                   follow: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The plain Python sampling loop, one decoder_step call per step: (offsets [S, B, 2], pens [S, B, 1]).

    Same noise, same arithmetic as decoder_sample.onnx, so both give the same sketch (tests check it).

    ``follow``: another sampler's (offsets, pens); each step then reads that sampler's previous point instead of
    its own, so every step is checked from the same input. For an int8 graph this is the meaningful comparison:
    its h is quantised every step, so a last-bit difference in a sampled offset (numpy's and ONNX Runtime's exp or
    sin may differ in the last bit) can move h across a quantisation level and the two free-running samplers
    drift apart by ~1e-4 although each step is computed alike.
    """
    x = np.asarray(x0, dtype=np.float32)
    ended = np.argmax(x[:, 2:5], axis=1) == END_PEN
    offsets, pens = [], []
    steps = noise.steps if follow is None else min(noise.steps, len(follow[0]))
    for t in range(steps):
        out = step(x, z, h, c)
        d, p = sample_step(out, noise, t)
        offsets.append(d)
        pens.append(p)
        h, c = out["h_out"], out["c_out"]
        if follow is not None:
            d, p = np.asarray(follow[0][t], np.float32), np.asarray(follow[1][t], np.int64).reshape(-1)
        x = stroke5_rows(d, p)
        ended |= p == END_PEN
        if stop_at_end and ended.all():
            break
    return np.stack(offsets), np.stack(pens)[..., None]


def classic_loop(step: StepFn, x0: np.ndarray, h: np.ndarray, c: np.ndarray, z: np.ndarray | None,
                 steps: int, temperature: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """sketch-rnn's own sampler (magenta's ``sample``): softmax(logits / tau) draws by inverse CDF and
    ``multivariate_normal`` with sigma scaled by sqrt(tau); never stops early. (offsets [T, B, 2], pens [T, B])."""
    x = np.asarray(x0, dtype=np.float32)
    batch = x.shape[0]
    offsets = np.zeros((steps, batch, 2), np.float32)
    pens = np.zeros((steps, batch), np.int64)
    for t in range(steps):
        out = step(x, z, h, c)
        h, c = out["h_out"], out["c_out"]
        for b in range(batch):
            pi = _softmax(out["pi"][b] / temperature)
            q = _softmax(out["pen"][b] / temperature)
            k = min(int(np.searchsorted(np.cumsum(pi), rng.random())), len(pi) - 1)
            p = min(int(np.searchsorted(np.cumsum(q), rng.random())), 2)
            sx, sy = out["sigma_x"][b, k] * np.sqrt(temperature), out["sigma_y"][b, k] * np.sqrt(temperature)
            rho = out["rho"][b, k]
            cov = [[sx * sx, rho * sx * sy], [rho * sx * sy, sy * sy]]
            offsets[t, b] = rng.multivariate_normal([out["mu_x"][b, k], out["mu_y"][b, k]], cov)
            pens[t, b] = p
        x = stroke5_rows(offsets[t], pens[t])
    return offsets, pens


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    return e / e.sum()
