"""LSTM cells of sketch-rnn, written with keras.ops so they run on the TensorFlow and the JAX backend.

The cell's input is the *pre-projected* gate input `x @ kernel + bias`, computed for the whole sequence outside the
recurrence (one large matrix product instead of one per step); only `h @ recurrent_kernel` stays in the loop.
Weights use Keras's LSTM layout (gates i, f, c, o; kernel, recurrent_kernel, bias), so a plain
`keras.layers.LSTM` can take them unchanged: that is how the export gets native ONNX LSTM ops.

Recurrent dropout is the original's (Semeniuta et al. 2016): dropout on the candidate g, never on h, with a fresh
mask every step. The masks are drawn outside the loop and fed in beside the projected input, which keeps the cell
deterministic given its inputs (exact resume) and backend-agnostic.
"""
from __future__ import annotations

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

    def get_config(self):
        return {**super().get_config(), "units": self.units, "input_dim": self.input_dim,
                "layer_norm": self.layer_norm, "dropout_keep": self.dropout_keep}


class SketchLSTM(keras.layers.Layer):
    """Runs a SketchLSTMCell over a sequence: projection outside the loop, dropout masks drawn up front."""

    def __init__(self, units: int, input_dim: int, layer_norm: bool = False, dropout_keep: float = 1.0,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.cell = SketchLSTMCell(units, input_dim, layer_norm, dropout_keep, name="cell")
        self.rnn = keras.layers.RNN(self.cell, return_sequences=True, return_state=True, name="rnn")
        self.seed_generator = keras.random.SeedGenerator(seed) if dropout_keep < 1.0 else None

    @property
    def units(self) -> int:
        return self.cell.units

    def build(self, input_shape=None):
        self.cell.build()
        self.built = True

    def call(self, x, initial_state=None, training=False):
        """x [B, T, input_dim] -> (outputs [B, T, H], h_T, c_T)."""
        proj = self.cell.project(x)
        if self.cell.uses_dropout:
            if training:
                keep = self.cell.dropout_keep
                shape = ops.shape(proj)[:-1] + (self.cell.units,)
                noise = keras.random.uniform(shape, seed=self.seed_generator)
                mask = ops.cast(noise < keep, proj.dtype) / keep
            else:
                mask = ops.ones(ops.shape(proj)[:-1] + (self.cell.units,), dtype=proj.dtype)
            proj = ops.concatenate([proj, mask], axis=-1)
        outputs, h, c = self.rnn(proj, initial_state=initial_state, training=training)
        return outputs, h, c
