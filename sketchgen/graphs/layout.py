"""The decoder's and encoder's weights as numpy arrays, and how they are laid out for the graphs.

Keras orders an LSTM's gates i, f, c, o and stores ``x W``; ONNX's ``LSTM`` op orders them i, o, f, c and stores
``W x``; the hand-built cell wants the three sigmoid gates side by side (i, f, o, g). The mixture head is laid out
as ``[K, 8]`` per step (K = max(M, 3) rows; per row: pi logit, pen logit, mu_x, mu_y, log sigma_x, log sigma_y, 0,
rho logit) so that one ``ArgMax`` over rows picks the component and the pen state together.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketchgen.model_folder import HEAD_COLUMNS, head_rows

INT8_SCALES = ("tensor", "column", "gates")  # int8 layouts, fastest first: see quantize_int8 and decoder._step_matmul
LOGIT_PAD = -1e9        # logit of the padding rows of the [K, 8] head layout: never chosen
LN_EPSILON = 1e-3       # training.cells.SketchLSTMCell._norm


@dataclass
class DecoderWeights:
    """The decoder's weights as numpy arrays, in the training model's (Keras) layout: gates i, f, c, o."""

    kernel: np.ndarray                 # [5 + Nz, 4H]
    recurrent_kernel: np.ndarray       # [H, 4H]
    bias: np.ndarray | None            # [4H] (plain LSTM)
    ln_gamma: np.ndarray | None        # [5, H] (layer-norm LSTM: i, f, g, o, c)
    ln_beta: np.ndarray | None         # [5, H]
    out_kernel: np.ndarray             # [H, 6M + 3]: pen logits, pi logits, mu_x, mu_y, log s_x, log s_y, corr
    out_bias: np.ndarray               # [6M + 3]
    num_mixture: int
    z_size: int                        # 0 for an unconditional model

    @property
    def units(self) -> int:
        return int(self.recurrent_kernel.shape[0])

    @property
    def layer_norm(self) -> bool:
        return self.ln_gamma is not None

    @property
    def conditional(self) -> bool:
        return self.z_size > 0

    @property
    def rows(self) -> int:
        """K: rows of the [K, 8] head layout (pen logits need 3 even when M < 3)."""
        return head_rows(self.num_mixture)


@dataclass
class EncoderWeights:
    """A plain-LSTM encoder's weights (Keras layout, gates i, f, c, o) and its two dense heads."""

    kernels: tuple[np.ndarray, np.ndarray]            # forward, backward: [5, 4H]
    recurrent_kernels: tuple[np.ndarray, np.ndarray]  # [H, 4H]
    biases: tuple[np.ndarray, np.ndarray]             # [4H]
    mu: tuple[np.ndarray, np.ndarray]                 # kernel [2H, Nz], bias [Nz]
    logvar: tuple[np.ndarray, np.ndarray]

    @property
    def units(self) -> int:
        return int(self.recurrent_kernels[0].shape[0])

    @property
    def z_size(self) -> int:
        return int(self.mu[0].shape[1])


def noise_layout(num_mixture: int) -> dict[str, int]:
    """What the engine needs to draw noise for the sampler: rows K and columns of ``noise_logits``."""
    return {"rows": head_rows(num_mixture), "columns": HEAD_COLUMNS, "num_mixture": num_mixture}



def ifco_to_ifog(array: np.ndarray) -> np.ndarray:
    """Keras gate order (i, f, c, o) -> (i, f, o, g): the three sigmoid gates side by side."""
    i, f, c, o = np.split(array, 4, axis=-1)
    return np.concatenate([i, f, o, c], axis=-1)


def keras_to_onnx_lstm(array: np.ndarray) -> np.ndarray:
    """Keras gate order (i, f, c, o) -> ONNX ``LSTM``'s (i, o, f, c), along the last axis."""
    i, f, c, o = np.split(array, 4, axis=-1)
    return np.concatenate([i, o, f, c], axis=-1)


ONNX_TO_KERAS_GATES = [0, 2, 3, 1]   # ONNX LSTM blocks i, o, f, c -> Keras i, f, c, o


def onnx_to_keras_lstm(array: np.ndarray) -> np.ndarray:
    """ONNX ``LSTM``'s gate order (i, o, f, c) -> Keras (i, f, c, o), along the last axis."""
    blocks = np.split(array, 4, axis=-1)
    return np.concatenate([blocks[j] for j in ONNX_TO_KERAS_GATES], axis=-1)


@dataclass
class Prepared:
    """Weights rearranged for the graphs (gate order i, f, o, g; head in the [K, 8] layout)."""

    w_xy: np.ndarray       # [2, 4H] dx, dy rows of the input kernel
    w_pen: np.ndarray      # [3, 4H] p1, p2, p3 rows
    w_z: np.ndarray | None # [Nz, 4H]
    bias: np.ndarray       # [4H] (zeros for layer norm)
    recurrent: np.ndarray  # [H, 4H]
    ln_gamma: np.ndarray | None  # [4, H] gates in order i, f, o, g
    ln_beta: np.ndarray | None   # [4, H] (forget row + 1.0)
    ln_c: tuple[np.ndarray, np.ndarray] | None
    head_w: np.ndarray     # [H, K * 8]
    head_b: np.ndarray     # [K * 8] (0 in the padding rows: their LOGIT_PAD comes from head_pad)
    head_pad: np.ndarray   # [K, 8] LOGIT_PAD where a row is padding (pi rows >= M, pen rows >= 3), else 0

    @property
    def step_w(self) -> np.ndarray:
        """[H, 4H + 8K]: the recurrent kernel and the output head side by side (one product per step)."""
        return np.concatenate([self.recurrent, self.head_w], axis=1)

    @property
    def step_bias(self) -> np.ndarray:
        """[4H + 8K]: the gate bias and the head's bias (the z share of the gates is added per call)."""
        return np.concatenate([self.bias, self.head_b])


def prepare(w: DecoderWeights) -> Prepared:
    h, m, k = w.units, w.num_mixture, w.rows
    kernel = ifco_to_ifog(w.kernel).astype(np.float32)
    recurrent = ifco_to_ifog(w.recurrent_kernel).astype(np.float32)
    bias = ifco_to_ifog(w.bias).astype(np.float32) if w.bias is not None else np.zeros(4 * h, np.float32)
    gamma = beta = ln_c = None
    if w.layer_norm:
        g, b = w.ln_gamma.astype(np.float32), w.ln_beta.astype(np.float32).copy()
        b[1] += 1.0  # the cell adds 1.0 to the normalised forget gate
        order = [0, 1, 3, 2]  # i, f, g, o -> i, f, o, g
        gamma, beta = g[order], b[order]
        ln_c = (g[4].copy(), b[4].copy())
    head_w = np.zeros((h, k, HEAD_COLUMNS), np.float32)
    head_b = np.zeros((k, HEAD_COLUMNS), np.float32)
    head_pad = np.zeros((k, HEAD_COLUMNS), np.float32)
    ow, ob = w.out_kernel.astype(np.float32), w.out_bias.astype(np.float32)

    def block(j: int) -> slice:  # pi, mu_x, mu_y, log s_x, log s_y, corr
        return slice(3 + j * m, 3 + (j + 1) * m)

    head_w[:, :m, 0], head_b[:m, 0], head_pad[m:, 0] = ow[:, block(0)], ob[block(0)], LOGIT_PAD
    head_w[:, :3, 1], head_b[:3, 1], head_pad[3:, 1] = ow[:, 0:3], ob[0:3], LOGIT_PAD
    for j, column in ((1, 2), (2, 3), (3, 4), (4, 5), (5, 7)):
        head_w[:, :m, column], head_b[:m, column] = ow[:, block(j)], ob[block(j)]
    return Prepared(w_xy=kernel[0:2], w_pen=kernel[2:5], w_z=kernel[5:] if w.conditional else None, bias=bias,
                     recurrent=recurrent, ln_gamma=gamma, ln_beta=beta, ln_c=ln_c,
                     head_w=head_w.reshape(h, k * HEAD_COLUMNS), head_b=head_b.reshape(k * HEAD_COLUMNS),
                     head_pad=head_pad)


def quantize_int8(matrix: np.ndarray, per_column: bool) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 weights and their scale: one for the whole matrix (ONNX Runtime's QGemm runs this ~4 us per
    step faster), or one per output column (finer for columns whose range is much smaller than the largest).
    The "gates" layout quantises only the recurrent kernel, one scale per column."""
    top = np.abs(matrix).max(axis=0) if per_column else np.array(np.abs(matrix).max())
    scale = np.where(top > 0, top / 127.0, 1.0).astype(np.float32)
    return np.clip(np.round(matrix / scale), -127, 127).astype(np.int8), scale
