"""LSTM cells of sketch-rnn, written with keras.ops so they run on the TensorFlow and the JAX backend.

The cell's input is the *pre-projected* gate input `x @ kernel + bias`, computed for the whole sequence outside the
recurrence (one large matrix product instead of one per step); only `h @ recurrent_kernel` stays in the loop.
Weights use Keras's LSTM layout (gates i, f, c, o; kernel, recurrent_kernel, bias), so a plain
`keras.layers.LSTM` can take them unchanged: that is how the export gets native ONNX LSTM ops.

Recurrent dropout is the original's (Semeniuta et al. 2016): dropout on the candidate g, never on h, with a fresh
mask every step. The masks are drawn outside the loop and fed in beside the projected input, which keeps the cell
deterministic given its inputs (exact resume) and backend-agnostic. ``SketchLSTM`` can run the same weights and masks
three ways (reference keras.layers.RNN, a fused TensorFlow loop, keras.layers.LSTM / cuDNN): see its docstring.

``SketchHyperLSTMCell`` is the paper's best decoder (magenta's ``HyperLSTMCell``, Ha et al. 2016): a small
layer-norm LSTM beside the main one emits, every step, embeddings that scale each gate's input and recurrent share.
The cells share one file (longer than most) because they share the projected-input and dropout-mask contract above.
"""
from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import ops


class UnitForgetBias(keras.initializers.Initializer):
    """Bias of zeros except ones for the forget gate (Keras gate order i, f, c, o)."""

    def __init__(self, units: int):
        self.units = units

    def __call__(self, shape, dtype=None):
        h = self.units
        return ops.concatenate([ops.zeros((h,), dtype), ops.ones((h,), dtype), ops.zeros((2 * h,), dtype)])

    def get_config(self):
        return {"units": self.units}


class SketchLSTMCell(keras.layers.Layer):
    """LSTM cell over pre-projected inputs; optionally layer-normalised (Ba et al. 2016, as sketch-rnn's)."""

    def __init__(self, units: int, input_dim: int, layer_norm: bool = False, dropout_keep: float = 1.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.input_dim = input_dim
        self.layer_norm = layer_norm
        self.dropout_keep = dropout_keep
        self.state_size = [units, units]
        self.output_size = units

    @property
    def uses_dropout(self) -> bool:
        return self.dropout_keep < 1.0

    def build(self, input_shape=None):
        h = self.units
        self.kernel = self.add_weight(shape=(self.input_dim, 4 * h), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(h, 4 * h), initializer="orthogonal",
                                                name="recurrent_kernel")
        if self.layer_norm:
            # Layer norm's beta replaces the bias; the forget bias of 1.0 is added in the cell, as in sketch-rnn.
            self.ln_gamma = self.add_weight(shape=(5, h), initializer="ones", name="ln_gamma")
            self.ln_beta = self.add_weight(shape=(5, h), initializer="zeros", name="ln_beta")
        else:
            # unit forget bias: the original adds forget_bias=1.0 in the cell; here it starts in the weight
            self.bias = self.add_weight(shape=(4 * h,), initializer=UnitForgetBias(h), name="bias")
        self.built = True

    # -- pieces ----------------------------------------------------------------------------------------------------
    def project(self, x):
        """x [..., input_dim] -> gate pre-activations [..., 4H] (the part that needs no recurrence)."""
        proj = ops.matmul(x, self.kernel)
        if not self.layer_norm:
            proj = proj + self.bias
        return proj

    def _norm(self, x, index: int):
        mean = ops.mean(x, axis=-1, keepdims=True)
        var = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
        return (x - mean) * ops.rsqrt(var + 1e-3) * self.ln_gamma[index] + self.ln_beta[index]

    def step(self, proj, h, c, keep_mask=None):
        """One step from projected input `proj` [B, 4H]; returns (h_new, c_new)."""
        gates = proj + ops.matmul(h, self.recurrent_kernel)
        i, f, g, o = ops.split(gates, 4, axis=-1)
        if self.layer_norm:
            i, f, g, o = self._norm(i, 0), self._norm(f, 1) + 1.0, self._norm(g, 2), self._norm(o, 3)
        g = ops.tanh(g)
        if keep_mask is not None:
            g = g * keep_mask
        c_new = ops.sigmoid(f) * c + ops.sigmoid(i) * g
        c_out = self._norm(c_new, 4) if self.layer_norm else c_new
        h_new = ops.sigmoid(o) * ops.tanh(c_out)
        return h_new, c_new

    # -- keras.layers.RNN protocol: inputs are [proj (4H) | keep mask (H, only with dropout)] ---------------------
    def call(self, inputs, states, training=None):
        h, c = states
        if self.uses_dropout:
            proj, mask = inputs[:, : 4 * self.units], inputs[:, 4 * self.units:]
        else:
            proj, mask = inputs, None
        h_new, c_new = self.step(proj, h, c, mask)
        return h_new, [h_new, c_new]

    @property
    def mask_units(self) -> int:
        """Width of the recurrent dropout mask fed beside the projected input."""
        return self.units

    @property
    def mask_keep(self):
        """Keep probability of each mask column (here one for all)."""
        return self.dropout_keep

    def get_config(self):
        return {**super().get_config(), "units": self.units, "input_dim": self.input_dim,
                "layer_norm": self.layer_norm, "dropout_keep": self.dropout_keep}


class GateOrthogonal(keras.initializers.Initializer):
    """[n, 4n]: one orthogonal block per gate (magenta's ``lstm_ortho_initializer``)."""

    def __init__(self, seed: int | None = None):
        self.seed = seed

    def __call__(self, shape, dtype=None):
        rows, cols = shape
        blocks = []
        for k in range(4):
            seed = None if self.seed is None else self.seed + k
            blocks.append(keras.initializers.Orthogonal(seed=seed)((rows, cols // 4), dtype))
        return ops.concatenate(blocks, axis=-1)

    def get_config(self):
        return {"seed": self.seed}


def layer_norm(x, gamma, beta):
    """sketch-rnn's layer norm over the last axis (epsilon 1e-3 inside the square root)."""
    mean = ops.mean(x, axis=-1, keepdims=True)
    var = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * ops.rsqrt(var + 1e-3) * gamma + beta


def layer_norm_lstm(gates, c, gamma, beta, keep_mask=None):
    """The layer-normalised LSTM update from pre-activations ``gates`` [B, 4, H] (Keras order i, f, g, o);
    ``gamma``/``beta`` [5, H]: four gates then the cell. Returns (h_new, c_new)."""
    normed = layer_norm(gates, gamma[:4], beta[:4])
    i, f, g, o = normed[:, 0], normed[:, 1] + 1.0, ops.tanh(normed[:, 2]), normed[:, 3]
    if keep_mask is not None:
        g = g * keep_mask
    c_new = ops.sigmoid(f) * c + ops.sigmoid(i) * g
    h_new = ops.sigmoid(o) * ops.tanh(layer_norm(c_new, gamma[4], beta[4]))
    return h_new, c_new


class SketchHyperLSTMCell(keras.layers.Layer):
    """magenta's ``HyperLSTMCell`` (layer norm on, as sketch-rnn builds it) over pre-projected inputs.

    The state is the official one: ``h = [h_main (H) | h_hyper (Nh)]``, ``c`` likewise, so the decoder's initial
    state ``tanh(W z + b)`` has ``2 (H + Nh)`` columns as in the original. Per step:

    1. the hyper cell, a layer-norm LSTM of ``Nh`` units without bias, reads ``[x, h_main]``;
    2. from its new ``h_hyper`` come, for each gate and for each of the input (W_x x) and recurrent (W_h h) shares,
       a scale ``alpha = (h_hyper W_zw + b_zw) W_alpha`` (embedding E, initialised to 0.1: the recurrent batch-norm
       trick), and for the recurrent shares also a shift ``beta = (h_hyper W_zb) W_beta``;
    3. the main gates ``alpha_x * x W_x + alpha_h * h W_h + beta + bias`` are layer-normalised, the forget gate
       gets +1, and the cell updates as a layer-norm LSTM (recurrent dropout on the candidate).

    Weights use Keras's gate order (i, f, g, o) throughout; the eight (zw, alpha) pairs are ordered
    x-shares i f g o, then h-shares i f g o.
    """

    layer_norm = True  # the main cell normalises its gates (no plain-LSTM fast path applies)

    def __init__(self, units: int, input_dim: int, hyper_units: int = 256, embedding_size: int = 32,
                 dropout_keep: float = 1.0, hyper_dropout_keep: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.input_dim = input_dim
        self.hyper_units = hyper_units
        self.embedding_size = embedding_size
        self.dropout_keep = dropout_keep
        self.hyper_dropout_keep = hyper_dropout_keep
        self.state_size = [units + hyper_units, units + hyper_units]
        self.output_size = units

    @property
    def uses_dropout(self) -> bool:
        return self.dropout_keep < 1.0 or self.hyper_dropout_keep < 1.0

    @property
    def mask_units(self) -> int:
        return (self.units if self.dropout_keep < 1.0 else 0) + (
            self.hyper_units if self.hyper_dropout_keep < 1.0 else 0)

    @property
    def mask_keep(self):
        import numpy as np

        keep = [np.full(self.units, self.dropout_keep)] * (self.dropout_keep < 1.0) + [
            np.full(self.hyper_units, self.hyper_dropout_keep)] * (self.hyper_dropout_keep < 1.0)
        return np.concatenate(keep).astype("float32")

    def build(self, input_shape=None):
        h, n, e = self.units, self.hyper_units, self.embedding_size
        weight = self.add_weight
        self.kernel = weight(shape=(self.input_dim, 4 * h), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = weight(shape=(h, 4 * h), initializer=GateOrthogonal(), name="recurrent_kernel")
        self.bias = weight(shape=(4 * h,), initializer="zeros", name="bias")
        self.ln_gamma = weight(shape=(5, h), initializer="ones", name="ln_gamma")
        self.ln_beta = weight(shape=(5, h), initializer="zeros", name="ln_beta")
        # the hyper cell: a layer-norm LSTM over [x, h_main], no bias (layer norm's beta plays its part)
        self.hyper_kernel = weight(shape=(self.input_dim + h, 4 * n), initializer="glorot_uniform",
                                   name="hyper_kernel")
        self.hyper_recurrent_kernel = weight(shape=(n, 4 * n), initializer=GateOrthogonal(),
                                             name="hyper_recurrent_kernel")
        self.hyper_ln_gamma = weight(shape=(5, n), initializer="ones", name="hyper_ln_gamma")
        self.hyper_ln_beta = weight(shape=(5, n), initializer="zeros", name="hyper_ln_beta")
        # the embeddings and the projections that turn them into per-unit scales and shifts
        self.zw_kernel = weight(shape=(n, 8 * e), initializer="zeros", name="zw_kernel")
        self.zw_bias = weight(shape=(8 * e,), initializer="ones", name="zw_bias")
        self.alpha_kernel = weight(shape=(8, e, h), initializer=keras.initializers.Constant(0.1 / e),
                                   name="alpha_kernel")
        self.zb_kernel = weight(shape=(n, 4 * e), initializer=keras.initializers.RandomNormal(stddev=0.01),
                                name="zb_kernel")
        self.beta_kernel = weight(shape=(4, e, h), initializer="zeros", name="beta_kernel")
        self.built = True

    def project(self, x):
        """x [..., input_dim] -> [..., 4H + 4Nh]: the input shares of the main and of the hyper cell's gates."""
        return ops.concatenate([ops.matmul(x, self.kernel), ops.matmul(x, self.hyper_kernel[: self.input_dim])],
                               axis=-1)

    def step(self, proj, h, c, keep_mask=None):
        """One step from projected input ``proj`` [B, 4H + 4Nh] and the total state; returns (h_new, c_new)."""
        units, n, e = self.units, self.hyper_units, self.embedding_size
        h_main, h_hyper = h[:, :units], h[:, units:]
        c_main, c_hyper = c[:, :units], c[:, units:]
        main_mask = hyper_mask = None
        if keep_mask is not None:
            split = units if self.dropout_keep < 1.0 else 0
            main_mask = keep_mask[:, :split] if split else None
            hyper_mask = keep_mask[:, split:] if self.hyper_dropout_keep < 1.0 else None
        hyper_gates = (proj[:, 4 * units:] + ops.matmul(h_main, self.hyper_kernel[self.input_dim:])
                       + ops.matmul(h_hyper, self.hyper_recurrent_kernel))
        hh_new, hc_new = layer_norm_lstm(ops.reshape(hyper_gates, (-1, 4, n)), c_hyper, self.hyper_ln_gamma,
                                         self.hyper_ln_beta, hyper_mask)
        zw = ops.reshape(ops.matmul(hh_new, self.zw_kernel) + self.zw_bias, (-1, 8, e))
        alpha = ops.einsum("bke,keh->bkh", zw, self.alpha_kernel)                         # [B, 8, H]
        zb = ops.reshape(ops.matmul(hh_new, self.zb_kernel), (-1, 4, e))
        shift = ops.einsum("bke,keh->bkh", zb, self.beta_kernel)                           # [B, 4, H]
        x_share = ops.reshape(proj[:, :4 * units], (-1, 4, units))
        h_share = ops.reshape(ops.matmul(h_main, self.recurrent_kernel), (-1, 4, units))
        gates = (alpha[:, :4] * x_share + alpha[:, 4:] * h_share + shift
                 + ops.reshape(self.bias, (4, units)))
        h_new, c_new = layer_norm_lstm(gates, c_main, self.ln_gamma, self.ln_beta, main_mask)
        return ops.concatenate([h_new, hh_new], axis=-1), ops.concatenate([c_new, hc_new], axis=-1)

    def call(self, inputs, states, training=None):
        """keras.layers.RNN protocol: inputs are [proj (4H + 4Nh) | keep masks (main H, hyper Nh, where used)]."""
        h, c = states
        width = 4 * (self.units + self.hyper_units)
        proj, mask = (inputs[:, :width], inputs[:, width:]) if self.uses_dropout else (inputs, None)
        h_new, c_new = self.step(proj, h, c, mask)
        return h_new[:, :self.units], [h_new, c_new]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "input_dim": self.input_dim,
                "hyper_units": self.hyper_units, "embedding_size": self.embedding_size,
                "dropout_keep": self.dropout_keep, "hyper_dropout_keep": self.hyper_dropout_keep}


IMPLEMENTATIONS = ("auto", "reference", "fused", "keras_lstm")


@dataclass(frozen=True)
class HyperSizes:
    """The hyper cell of a SketchHyperLSTMCell: units, embedding size, keep probability of its recurrent dropout."""

    num_units: int = 256
    embedding_size: int = 32
    dropout_keep: float = 1.0


def gpu_available() -> bool:
    """True when the TensorFlow backend sees a GPU (then the cuDNN kernel can run the plain LSTM)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf
    return bool(tf.config.list_logical_devices("GPU"))


class _Hidden:
    """Holds a helper layer out of sight of Keras and tf.train.Checkpoint tracking (no new variables, no new
    checkpoint keys): the model's variables, names and checkpoint format stay exactly those of the cells."""

    __slots__ = ("layer",)

    def __init__(self, layer):
        self.layer = layer


class SketchLSTM(keras.layers.Layer):
    """Runs a SketchLSTMCell over a sequence: projection outside the loop, dropout masks drawn up front.

    ``implementation`` picks how the recurrence runs; every choice computes the same function of the same weights
    (the tests compare them) and draws the same dropout masks, so it can change between runs and on resume:

    - ``"reference"``: ``keras.layers.RNN`` over the cell (any backend, layer norm, dropout).
    - ``"fused"``: TensorFlow only, plain LSTM: one while loop with a hand-written backward pass
      (:mod:`training.recurrence`), about twice as fast on a CPU.
    - ``"keras_lstm"``: plain LSTM without dropout in this call: ``keras.layers.LSTM`` run with the cell's own
      weights (Keras's layout), which uses the cuDNN kernel on a GPU.
    - ``"auto"`` (default): ``keras_lstm`` on a TensorFlow GPU when the call allows it (no layer norm, no recurrent
      dropout while training), else ``fused`` on TensorFlow (no layer norm), else ``reference``.

    With ``hyper`` (sizes of the hyper cell) the cell is a ``SketchHyperLSTMCell``, which only ``reference`` runs;
    its states ``h``, ``c`` are the cell's total ones (main and hyper units), its outputs the main ``h``.
    """

    def __init__(self, units: int, input_dim: int, layer_norm: bool = False, dropout_keep: float = 1.0,
                 seed: int | None = None, implementation: str = "auto", hyper: HyperSizes | None = None, **kwargs):
        super().__init__(**kwargs)
        if hyper is None:
            self.cell = SketchLSTMCell(units, input_dim, layer_norm, dropout_keep, name="cell")
        else:
            self.cell = SketchHyperLSTMCell(units, input_dim, hyper.num_units, hyper.embedding_size, dropout_keep,
                                            hyper.dropout_keep, name="cell")
        self.rnn = keras.layers.RNN(self.cell, return_sequences=True, return_state=True, name="rnn")
        self.seed_generator = keras.random.SeedGenerator(seed) if self.cell.uses_dropout else None
        self._keras_lstm: _Hidden | None = None
        self.implementation = implementation

    @property
    def units(self) -> int:
        return self.cell.units

    @property
    def implementation(self) -> str:
        return self._implementation

    @implementation.setter
    def implementation(self, value: str) -> None:
        if value not in IMPLEMENTATIONS:
            raise ValueError(f"LSTM implementation must be one of {IMPLEMENTATIONS}, got {value!r}")
        self._implementation = value
        if value == "keras_lstm" and getattr(self, "built", False):
            self.prepare_keras_lstm()

    def build(self, input_shape=None):
        self.cell.build()
        if self._implementation == "keras_lstm" or (self._implementation == "auto" and gpu_available()):
            self.prepare_keras_lstm()
        self.built = True

    def resolve_implementation(self, training: bool = False) -> str:
        """The implementation this call uses (``auto`` resolved; impossible choices fall back to reference)."""
        plain = not self.cell.layer_norm
        tensorflow = keras.backend.backend() == "tensorflow"
        no_dropout = not (training and self.cell.uses_dropout)
        choice = self._implementation
        if choice == "auto":
            if tensorflow and plain and no_dropout and gpu_available():
                return "keras_lstm"
            return "fused" if tensorflow and plain else "reference"
        if choice == "fused" and not (tensorflow and plain):
            return "reference"
        if choice == "keras_lstm" and not (plain and no_dropout):
            return "fused" if tensorflow and plain else "reference"
        return choice

    def draw_keep_mask(self, batch_shape, dtype="float32"):
        """The recurrent dropout mask [B, T, H] for one training call (one uniform draw, as always)."""
        from training.replicas import replica_rows

        keep = self.cell.mask_keep
        noise = replica_rows(lambda shape: keras.random.uniform(shape, seed=self.seed_generator),
                             tuple(batch_shape) + (self.cell.mask_units,))
        return ops.cast(noise < keep, dtype) / keep

    def call(self, x, initial_state=None, training=False, constant=None):
        """x [B, T, d] -> (outputs [B, T, H], h_T, c_T).

        ``constant`` [B, input_dim - d] holds inputs that are the same at every step (the decoder's z): the fused
        paths project it once per sequence instead of once per step (the same sum, regrouped).
        """
        implementation = self.resolve_implementation(bool(training))
        if implementation == "keras_lstm":
            return self._call_keras_lstm(self._full_input(x, constant), initial_state)
        if implementation == "reference" or constant is None:
            proj = self.cell.project(self._full_input(x, constant))
        else:
            split = ops.shape(x)[-1]
            proj = (ops.matmul(x, self.cell.kernel[:split])
                    + ops.expand_dims(ops.matmul(constant, self.cell.kernel[split:]) + self.cell.bias, 1))
        mask = None
        if self.cell.uses_dropout:
            if training:
                mask = self.draw_keep_mask(ops.shape(proj)[:-1], proj.dtype)
            elif implementation == "reference":
                mask = ops.ones(ops.shape(proj)[:-1] + (self.cell.mask_units,), dtype=proj.dtype)
        if implementation == "reference":
            if mask is not None:
                proj = ops.concatenate([proj, mask], axis=-1)
            outputs, h, c = self.rnn(proj, initial_state=initial_state, training=training)
            return outputs, h, c
        return self._call_fused(proj, initial_state, mask)

    @staticmethod
    def _full_input(x, constant):
        if constant is None:
            return x
        steps = ops.shape(x)[1]
        return ops.concatenate([x, ops.repeat(ops.expand_dims(constant, 1), steps, axis=1)], axis=-1)

    def _zero_state(self, x):
        zeros = ops.zeros((ops.shape(x)[0], self.cell.state_size[0]), dtype=x.dtype)
        return [zeros, zeros]

    def _call_fused(self, proj, initial_state, mask):
        import tensorflow as tf

        from training.recurrence import lstm_recurrence

        h0, c0 = initial_state if initial_state is not None else self._zero_state(proj)
        outputs, h, c = lstm_recurrence(
            tf.transpose(proj, [1, 0, 2]), tf.convert_to_tensor(self.cell.recurrent_kernel), h0, c0,
            None if mask is None else tf.transpose(mask, [1, 0, 2]))
        return tf.transpose(outputs, [1, 0, 2]), h, c

    def _call_keras_lstm(self, x, initial_state):
        """keras.layers.LSTM with this cell's weights (stateless_call: the LSTM's own variables are never used)."""
        if self._keras_lstm is None:
            self.prepare_keras_lstm()  # eagerly only: built with the model when a GPU or keras_lstm is asked for
        layer = self._keras_lstm.layer
        state = initial_state if initial_state is not None else self._zero_state(x)
        weights = [self.cell.kernel.value, self.cell.recurrent_kernel.value, self.cell.bias.value]
        (outputs, h, c), _ = layer.stateless_call(weights, [v.value for v in layer.non_trainable_variables], x,
                                                  initial_state=list(state))
        return outputs, h, c

    def prepare_keras_lstm(self) -> None:
        """Create the helper keras.layers.LSTM (untracked) that the keras_lstm implementation runs."""
        if self._keras_lstm is not None or self.cell.layer_norm:
            return
        layer = keras.layers.LSTM(self.cell.units, return_sequences=True, return_state=True,
                                  name=f"{self.name}_keras_lstm")
        layer.build((None, None, self.cell.input_dim))
        self._keras_lstm = _Hidden(layer)
