"""The official sketch-rnn-js loader's arithmetic, written again in numpy: the reference every imported graph and
every exported file is checked against.

It follows ``sketch-rnn-js/lib/sketch_rnn.js`` (``LSTMCell.forward``, ``get_pdf``, ``encode_to_mu_sigma``,
``decode``, ``sample``) on the weights exactly as that file holds them (gates i, g, f, o, the forget bias added at
run time, c before h in the initial state), in float64, and shares nothing with :mod:`sketchgen.graphs` but the
parsed weights: a mistake in the import's gate or head layout cannot cancel out here. Offsets are the model's
normalised ones (the loader divides pixel offsets by its scale factor before this arithmetic and multiplies after).
Every function takes a batch (rows are independent).
"""
from __future__ import annotations

import numpy as np

from sketchgen.official.jsformat import FORGET_BIAS, NUM_MIXTURE, JSModel


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class JSReference:
    """One official model's arithmetic. ``pdf`` keys: pen, pi (logits), mu_x, mu_y, sigma_x, sigma_y, rho."""

    def __init__(self, model: JSModel):
        self.model = model
        self.w = {k: v.astype(np.float64) for k, v in model.weights.items()}
        self._full = {p: np.concatenate([self.w[p + "_W_xh"], self.w[p + "_W_hh"]], axis=0)  # the loader's Wfull
                      for p in ("dec_lstm", "enc_fw_lstm", "enc_bw_lstm") if p + "_W_hh" in self.w}
        self.units = model.units
        self.conditional = model.conditional

    def lstm(self, prefix: str, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``LSTMCell.forward``: [x, h] W + b, gates i, g, f, o, forget bias 1.0."""
        hidden = np.concatenate([x, h], axis=-1) @ self._full[prefix] + self.w[prefix + "_bias"]
        i, g, f, o = np.split(hidden, 4, axis=-1)
        new_c = c * _sigmoid(f + FORGET_BIAS) + np.tanh(g) * _sigmoid(i)
        return np.tanh(new_c) * _sigmoid(o), new_c

    def pdf(self, h: np.ndarray) -> dict[str, np.ndarray]:
        """``get_pdf``'s mixture parameters, with the raw pen and mixture logits (before its softmax)."""
        z = h @ self.w["dec_output_w"] + self.w["dec_output_b"]
        m = NUM_MIXTURE
        block = [z[..., 3 + j * m:3 + (j + 1) * m] for j in range(6)]
        return {"pen": z[..., 0:3], "pi": block[0], "mu_x": block[1], "mu_y": block[2], "sigma_x": np.exp(block[3]),
                "sigma_y": np.exp(block[4]), "rho": np.tanh(block[5])}

    def zero_state(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((batch, self.units)), np.zeros((batch, self.units))

    def initial_state(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``decode``: tanh(z W + b), c is the first half, h the second."""
        state = np.tanh(np.asarray(z, np.float64) @ self.w["enc_w"] + self.w["enc_b"])
        return state[:, self.units:], state[:, :self.units]

    def step(self, x: np.ndarray, z: np.ndarray | None, h: np.ndarray,
             c: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """One decoder step from input row x [B, 5] (with z appended for a vae): (pdf, h, c)."""
        x = np.asarray(x, np.float64)
        if z is not None:
            x = np.concatenate([x, np.asarray(z, np.float64)], axis=-1)
        h, c = self.lstm("dec_lstm", x, h, c)
        return self.pdf(h), h, c

    def teacher_forced(self, inputs: np.ndarray, z: np.ndarray | None, h: np.ndarray,
                       c: np.ndarray) -> tuple[list[dict[str, np.ndarray]], np.ndarray, np.ndarray]:
        """Every step's pdf over ``inputs`` [B, T, 5] (each row the decoder's input at that step)."""
        steps = []
        for t in range(inputs.shape[1]):
            pdf, h, c = self.step(inputs[:, t], z, h, c)
            steps.append(pdf)
        return steps, h, c

    def encode(self, strokes: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``encode_to_mu_sigma`` over each row's first ``lengths`` points: (mu, presig), presig = log sigma^2
        (the loader's sigma is sqrt(exp(presig)))."""
        strokes = np.asarray(strokes, np.float64)
        lengths = np.asarray(lengths)
        batch, steps = strokes.shape[:2]
        e = self.w["enc_fw_lstm_W_hh"].shape[0]
        outputs = []
        for prefix, backward in (("enc_fw_lstm", False), ("enc_bw_lstm", True)):
            h, c = np.zeros((batch, e)), np.zeros((batch, e))
            for t in range(steps):
                index = np.clip(lengths - 1 - t, 0, steps - 1) if backward else np.full(batch, t)
                x = strokes[np.arange(batch), index]
                new_h, new_c = self.lstm(prefix, x, h, c)
                live = (t < lengths)[:, None]
                h, c = np.where(live, new_h, h), np.where(live, new_c, c)
            outputs.append(h)
        hidden = np.concatenate(outputs, axis=-1)
        return (hidden @ self.w["enc_mu_w"] + self.w["enc_mu_b"],
                hidden @ self.w["enc_sigma_w"] + self.w["enc_sigma_b"])

    def generate(self, rng: np.random.Generator, n: int, temperature: float, max_len: int | None = None,
                 z: np.ndarray | None = None, start: np.ndarray | None = None) -> list[np.ndarray]:
        """``generate`` / ``decode`` with ``sample``'s rule (sigma scaled by sqrt(temperature), mixture and pen
        distributions at the discrete temperature 0.5 + 0.5 * temperature): n normalised stroke-5 sketches
        (without their end row). ``start``: the first input row (the loader feeds zeros; SketchGen and training
        feed the start token [0, 0, 1, 0, 0])."""
        max_len = max_len or self.model.max_seq_len
        discrete = 0.5 + 0.5 * temperature
        h, c = self.initial_state(z) if z is not None else self.zero_state(n)
        x = np.tile(np.zeros(5) if start is None else np.asarray(start, np.float64), (n, 1))
        rows = np.zeros((max_len, n, 5))
        ended = np.full(n, max_len)
        for t in range(max_len):
            pdf, h, c = self.step(x, z, h, c)
            pi = softmax(np.log(softmax(pdf["pi"])) / discrete)
            pen = softmax(np.log(softmax(pdf["pen"])) / discrete)
            k = (rng.random((n, 1)) > np.cumsum(pi, axis=1)).sum(axis=1).clip(0, NUM_MIXTURE - 1)
            p = (rng.random((n, 1)) > np.cumsum(pen, axis=1)).sum(axis=1).clip(0, 2)
            pick = np.arange(n), k
            s1, s2 = pdf["sigma_x"][pick] * np.sqrt(temperature), pdf["sigma_y"][pick] * np.sqrt(temperature)
            rho = pdf["rho"][pick]
            z1, z2 = rng.standard_normal(n), rng.standard_normal(n)
            dx = np.sqrt(1 - rho * rho) * s1 * z1 + rho * s1 * z2 + pdf["mu_x"][pick]
            dy = s2 * z2 + pdf["mu_y"][pick]
            x = np.zeros((n, 5))
            x[:, 0], x[:, 1], x[np.arange(n), 2 + p] = dx, dy, 1.0
            rows[t] = x
            ended = np.where((p == 2) & (ended == max_len), t, ended)
            if (ended < max_len).all():
                break
        return [rows[:ended[b], b] for b in range(n)]
