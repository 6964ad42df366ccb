"""LSTM cells of sketch-rnn, written with keras.ops so they run on the TensorFlow and the JAX backend.

The cell's input is the *pre-projected* gate input `x @ kernel + bias`, computed for the whole sequence outside the
recurrence (one large matrix product instead of one per step); only `h @ recurrent_kernel` stays in the loop.
Weights use Keras's LSTM layout (gates i, f, c, o; kernel, recurrent_kernel, bias), so a plain
`keras.layers.LSTM` can take them unchanged: that is how the export gets native ONNX LSTM ops.

Recurrent dropout is the original's (Semeniuta et al. 2016): dropout on the candidate g, never on h, with a fresh
mask every step. The masks are drawn outside the loop and fed in beside the projected input, which keeps the cell
deterministic given its inputs (exact resume) and backend-agnostic. ``SketchLSTM`` can run the same weights and masks
three ways (reference keras.layers.RNN, a fused TensorFlow loop, keras.layers.LSTM / cuDNN): see its docstring.
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


IMPLEMENTATIONS = ("auto", "reference", "fused", "keras_lstm")


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
    """

    def __init__(self, units: int, input_dim: int, layer_norm: bool = False, dropout_keep: float = 1.0,
                 seed: int | None = None, implementation: str = "auto", **kwargs):
        super().__init__(**kwargs)
        self.cell = SketchLSTMCell(units, input_dim, layer_norm, dropout_keep, name="cell")
        self.rnn = keras.layers.RNN(self.cell, return_sequences=True, return_state=True, name="rnn")
        self.seed_generator = keras.random.SeedGenerator(seed) if dropout_keep < 1.0 else None
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

        keep = self.cell.dropout_keep
        noise = replica_rows(lambda shape: keras.random.uniform(shape, seed=self.seed_generator),
                             tuple(batch_shape) + (self.cell.units,))
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
                mask = ops.ones(ops.shape(proj)[:-1] + (self.cell.units,), dtype=proj.dtype)
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
        zeros = ops.zeros((ops.shape(x)[0], self.cell.units), dtype=x.dtype)
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
