"""Sampling noise, the temperature rules and the plain Python sampling loops (numpy only).

The engine draws all randomness up front with one seeded numpy Generator, so a seed reproduces a sketch exactly
and the fused ONNX loop (``decoder_sample.onnx``, see ``sketchgen/graphs/decoder.py``) and the Python loop over
``decoder_step.onnx`` (:func:`reference_loop`) turn the same noise into the same sketch:

- mixture component and pen state: ``argmax(logits + t * gumbel)``, a draw from ``softmax(logits / t)`` for
  t > 0 and the greedy argmax at t = 0, with t the *discrete* temperature;
- offsets: sketch-rnn's correlated Gaussian with each sigma scaled by s, from Box-Muller polar noise
  ``R = sqrt(-2 ln u1)``, ``a = 2 pi u2``: ``dx = mu_x + sigma_x s R cos a``,
  ``dy = mu_y + sigma_y s R sin(a + asin rho)``.

The user's one temperature tau sets t and s by a **temperature rule** (:func:`temperatures`), all in the noise,
so the graphs never change. The official implementations disagree, and it shows in whether a sketch ends:

- ``"js"`` (the default): the official JavaScript library (``@magenta/sketch`` ``getPDF``, behind the official
  demos): t = 0.5 + 0.5 tau (or an explicit discrete temperature), s = sqrt(tau). Its pen and mixture choices stay
  lively at low tau, so a cold sketch still ends where one temperature for everything loops on (docs/engine.md);
- ``"paper"``: the paper's text: t = tau, s = sqrt(tau);
- ``"magenta"``: magenta's Python ``sample()``: t = tau, and it passes sqrt(tau) to ``sample_gaussian_2d``, which
  multiplies sigma by that squared: s = tau.

:func:`classic_loop` is sketch-rnn's own sampler (inverse-CDF categorical draws and ``multivariate_normal``); the
tests use it to check that the engine's samples follow the same distribution under every rule.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sketchgen.model_folder import HEAD_COLUMNS, head_rows

LOG_RADIUS_FLOOR = -1.0e4  # ln(s R) at s = 0: exp() of it is exactly 0, and no -inf reaches the graph
END_PEN = 2
TEMPERATURE_RULES = ("js", "paper", "magenta")
DEFAULT_RULE = "js"

StepFn = Callable[[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray], dict[str, np.ndarray]]


@dataclass
class Noise:
    """Every random number one batch of sketches needs, for ``steps`` steps of ``batch`` rows."""

    gumbel_pi: np.ndarray    # [T, B, M] already multiplied by the discrete temperature t
    gumbel_pen: np.ndarray   # [T, B, 3] already multiplied by t
    log_radius: np.ndarray   # [T, B] ln(s R), s the sigma scale
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
        k = head_rows(m)
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
    (so a seed gives the same values), vectorised: several times faster than the element-by-element C loop of
    ``rng.gumbel``."""
    u = rng.random(size)
    np.subtract(1.0, u, out=u)
    np.maximum(u, np.finfo(np.float64).tiny, out=u)  # u == 1 (p = 2^-53): numpy redraws; here a finite extreme
    np.log(u, out=u)
    np.negative(u, out=u)
    np.log(u, out=u)
    return np.negative(u, out=u)


@dataclass(frozen=True)
class Temperatures:
    """What one temperature means for the sampler: the discrete temperature ``t`` of the mixture and pen choices
    (argmax(logits + t g) samples softmax(logits / t); 0 is the greedy choice) and the factor ``sigma_scale`` on
    every sigma (0: offsets at the means)."""

    discrete: float
    sigma_scale: float


def check_rule(rule: object) -> str:
    if rule not in TEMPERATURE_RULES:
        raise ValueError(f"temperature rule must be one of {', '.join(TEMPERATURE_RULES)}, got {rule!r}")
    return str(rule)


def temperatures(tau: float, rule: str = DEFAULT_RULE, discrete: float | None = None) -> Temperatures:
    """The discrete temperature and sigma scale of temperature ``tau`` under ``rule`` (see the module docstring);
    ``discrete`` replaces the rule's discrete temperature (the JS library's ``softmaxTemperature``)."""
    tau = float(tau)
    rule = check_rule(rule)
    sigma = tau if rule == "magenta" else float(np.sqrt(tau))
    if discrete is None:
        discrete = 0.5 + 0.5 * tau if rule == "js" else tau
    return Temperatures(float(discrete), sigma)


def draw_noise(rng: np.random.Generator, steps: int, temperatures_: np.ndarray, num_mixture: int,
               rule: str = DEFAULT_RULE, discrete: float | None = None) -> Noise:
    """Noise for ``len(temperatures_)`` rows, scaled by each row's temperature under ``rule`` (the same seed draws
    the same random numbers under every rule). A row whose discrete temperature and sigma scale are both 0 (tau = 0
    under "paper" or "magenta", or ``discrete=0`` with tau = 0) is the greedy path."""
    taus = np.asarray(temperatures_, dtype=np.float64).reshape(-1)
    scaled = [temperatures(t, rule, discrete) for t in taus]
    t_discrete = np.array([s.discrete for s in scaled], np.float64)
    sigma_scale = np.array([s.sigma_scale for s in scaled], np.float64)
    batch = len(taus)
    gumbel_pi = _gumbel(rng, (steps, batch, num_mixture)) * t_discrete[None, :, None]
    gumbel_pen = _gumbel(rng, (steps, batch, 3)) * t_discrete[None, :, None]
    u1 = 1.0 - rng.random((steps, batch))  # (0, 1]: log never sees 0
    angle = 2.0 * np.pi * rng.random((steps, batch))
    with np.errstate(divide="ignore"):
        log_radius = 0.5 * np.log(-2.0 * np.log(u1)) + np.log(sigma_scale)[None, :]
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
                 steps: int, temperature: float, rng: np.random.Generator, rule: str = DEFAULT_RULE,
                 discrete: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """sketch-rnn's own sampler (magenta's ``sample``, the JS library's ``getPDF`` + ``sample``): softmax(logits / t)
    draws by inverse CDF and ``multivariate_normal`` with sigma scaled by s (:func:`temperatures`); never stops
    early. (offsets [T, B, 2], pens [T, B])."""
    scaled = temperatures(temperature, rule, discrete)
    x = np.asarray(x0, dtype=np.float32)
    batch = x.shape[0]
    offsets = np.zeros((steps, batch, 2), np.float32)
    pens = np.zeros((steps, batch), np.int64)
    for t in range(steps):
        out = step(x, z, h, c)
        h, c = out["h_out"], out["c_out"]
        for b in range(batch):
            pi = _softmax(out["pi"][b] / scaled.discrete)
            q = _softmax(out["pen"][b] / scaled.discrete)
            k = min(int(np.searchsorted(np.cumsum(pi), rng.random())), len(pi) - 1)
            p = min(int(np.searchsorted(np.cumsum(q), rng.random())), 2)
            sx, sy = out["sigma_x"][b, k] * scaled.sigma_scale, out["sigma_y"][b, k] * scaled.sigma_scale
            rho = out["rho"][b, k]
            cov = [[sx * sx, rho * sx * sy], [rho * sx * sy, sy * sy]]
            offsets[t, b] = rng.multivariate_normal([out["mu_x"][b, k], out["mu_y"][b, k]], cov)
            pens[t, b] = p
        x = stroke5_rows(offsets[t], pens[t])
    return offsets, pens


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    return e / e.sum()
