"""The sketch-rnn Seq2SeqVAE (Ha & Eck 2017) in Keras 3.

One `SketchRNN` holds every weight. It exposes the pieces that inference and ONNX need (as in stwind's TF2 port):
`encode` (bidirectional LSTM over the real length of each sketch -> mu, logvar), `initial_state` (tanh(W z + b)),
`decoder_step` (one step of the decoder LSTM -> mixture parameters), and `decode_sequence` for teacher-forced
training. Everything is written with keras.ops, so the model also trains with KERAS_BACKEND=jax.

Conventions: sketches are normalised stroke-5 `[B, T, 5]`; the encoder sees them without the start token, the
decoder sees `[start token, s_1 .. s_{T-1}]` and predicts `s_1 .. s_T`.
"""
from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import ops

from sketchgen.config import HParams
from training.cells import HyperSizes, SketchLSTM
from training.replicas import replica_rows


@dataclass
class MixtureParams:
    """Decoder outputs for each step: logits for pi and pen, and the bivariate Gaussian parameters."""

    pi_logits: object   # [..., M]
    mu_x: object        # [..., M]
    mu_y: object        # [..., M]
    sigma_x: object     # [..., M] > 0
    sigma_y: object     # [..., M] > 0
    rho: object         # [..., M] in (-1, 1)
    pen_logits: object  # [..., 3]


def split_mixture(raw, num_mixture: int) -> MixtureParams:
    """The output layer's [.., 6M+3] -> MixtureParams, with the original's order (pen logits first)."""
    m = num_mixture
    pen = raw[..., :3]
    pi, mu_x, mu_y, log_sx, log_sy, corr = [raw[..., 3 + k * m: 3 + (k + 1) * m] for k in range(6)]
    return MixtureParams(pi, mu_x, mu_y, ops.exp(log_sx), ops.exp(log_sy), ops.tanh(corr), pen)


class SketchRNN(keras.Model):
    """Conditional (encoder + decoder) or unconditional (decoder only) sketch-rnn."""

    def __init__(self, hp: HParams, **kwargs):
        super().__init__(**kwargs)
        self.hp = hp
        seed = hp.seed
        rec_keep = hp.recurrent_dropout_prob if hp.use_recurrent_dropout else 1.0
        small_gaussian = keras.initializers.RandomNormal(stddev=0.001, seed=seed)
        dec_in = 5 + (hp.z_size if hp.conditional else 0)
        if hp.conditional:
            self.enc_fw = SketchLSTM(hp.enc_rnn_size, 5, hp.enc_model == "layer_norm", rec_keep, seed=seed + 1,
                                     name="encoder_fw")
            self.enc_bw = SketchLSTM(hp.enc_rnn_size, 5, hp.enc_model == "layer_norm", rec_keep, seed=seed + 2,
                                     name="encoder_bw")
            self.mu_head = keras.layers.Dense(hp.z_size, kernel_initializer=small_gaussian, name="encoder_mu")
            self.logvar_head = keras.layers.Dense(hp.z_size, kernel_initializer=small_gaussian,
                                                  name="encoder_logvar")
            self.init_head = keras.layers.Dense(2 * hp.decoder_state_size, activation="tanh",
                                                kernel_initializer=small_gaussian, name="decoder_init")
            self.z_noise = keras.random.SeedGenerator(seed + 3)
        self.decoder = SketchLSTM(hp.dec_rnn_size, dec_in, hp.dec_model == "layer_norm", rec_keep, seed=seed + 4,
                                  name="decoder", hyper=hyper_sizes(hp))
        self.output_head = keras.layers.Dense(6 * hp.num_mixture + 3, name="decoder_output")
        self.dropout_noise = keras.random.SeedGenerator(seed + 5)
        self._build_all()

    @property
    def lstm_layers(self) -> list[SketchLSTM]:
        return [self.enc_fw, self.enc_bw, self.decoder] if self.hp.conditional else [self.decoder]

    def set_lstm_implementation(self, implementation: str) -> None:
        """Pick how every LSTM runs (see SketchLSTM; same weights and results). Set before the first traced call."""
        for layer in self.lstm_layers:
            layer.implementation = implementation

    def _build_all(self) -> None:
        hp = self.hp
        if hp.conditional:
            self.enc_fw.build()
            self.enc_bw.build()
            self.mu_head.build((None, 2 * hp.enc_rnn_size))
            self.logvar_head.build((None, 2 * hp.enc_rnn_size))
            self.init_head.build((None, hp.z_size))
        self.decoder.build()
        self.output_head.build((None, hp.dec_rnn_size))
        self.built = True

    # -- encoder ---------------------------------------------------------------------------------------------------
    def encode(self, strokes, lengths, training: bool = False):
        """strokes [B, T, 5] (no start token), lengths [B] int -> (mu, logvar) [B, Nz].

        Both directions run unmasked: the forward pass is read at step length-1 (later padding cannot reach it),
        the backward pass runs over the sketch reversed within its length (as tf.reverse_sequence does), so the
        result is exactly independent of padding.
        """
        lengths = ops.cast(lengths, "int32")
        if self.hp.use_input_dropout and training:
            strokes = self._dropout(strokes, self.hp.input_dropout_prob)
        fw, _, _ = self.enc_fw(strokes, training=training)
        bw, _, _ = self.enc_bw(reverse_within_length(strokes, lengths), training=training)
        last = ops.expand_dims(ops.expand_dims(lengths - 1, -1), -1)
        h_fw = ops.squeeze(ops.take_along_axis(fw, last, axis=1), 1)
        h_bw = ops.squeeze(ops.take_along_axis(bw, last, axis=1), 1)
        hidden = ops.concatenate([h_fw, h_bw], axis=-1)
        return self.mu_head(hidden), self.logvar_head(hidden)

    def sample_z(self, mu, logvar):
        eps = replica_rows(lambda shape: keras.random.normal(shape, seed=self.z_noise), ops.shape(mu))
        return mu + ops.exp(logvar / 2.0) * eps

    # -- decoder ---------------------------------------------------------------------------------------------------
    def initial_state(self, z=None, batch_size=None):
        """Conditional: tanh(W z + b) split into (h, c). Unconditional: zeros. (A hyper decoder's h and c hold the
        main and the hyper cell's units, as the original's state does.)"""
        if self.hp.conditional:
            hc = self.init_head(z)
            h, c = ops.split(hc, 2, axis=-1)
            return h, c
        zeros = ops.zeros((batch_size, self.hp.decoder_state_size))
        return zeros, zeros

    def _decoder_input(self, x, z):
        if not self.hp.conditional:
            return x
        if len(x.shape) == 3:
            z = ops.repeat(ops.expand_dims(z, 1), ops.shape(x)[1], axis=1)
        return ops.concatenate([x, z], axis=-1)

    def decode_sequence(self, x_in, z=None, training: bool = False):
        """Teacher forcing: x_in [B, T, 5] (start token first) -> raw output [B, T, 6M+3]."""
        batch = ops.shape(x_in)[0]
        h0, c0 = self.initial_state(z, batch)
        if self.hp.use_input_dropout and training:
            inputs = self._dropout(self._decoder_input(x_in, z), self.hp.input_dropout_prob)
            outputs, _, _ = self.decoder(inputs, initial_state=[h0, c0], training=training)
        else:  # z is the same at every step: the decoder projects it once per sketch
            outputs, _, _ = self.decoder(x_in, initial_state=[h0, c0], training=training,
                                         constant=z if self.hp.conditional else None)
        if self.hp.use_output_dropout and training:
            outputs = self._dropout(outputs, self.hp.output_dropout_prob)
        return self.output_head(outputs)

    def decoder_step(self, x, z, h, c):
        """Inference step: x [B, 5] previous point -> (MixtureParams [B, ...], h_out, c_out)."""
        cell = self.decoder.cell
        h_new, c_new = cell.step(cell.project(self._decoder_input(x, z)), h, c)
        out = h_new[:, :self.hp.dec_rnn_size] if self.hp.dec_model == "hyper" else h_new
        return split_mixture(self.output_head(out), self.hp.num_mixture), h_new, c_new

    def _dropout(self, x, keep: float):
        noise = replica_rows(lambda shape: keras.random.uniform(shape, seed=self.dropout_noise), ops.shape(x))
        return x * ops.cast(noise < keep, x.dtype) / keep

    def call(self, inputs, training: bool = False):
        """(strokes [B, T+1, 5] with start token, lengths [B]) -> (raw output, mu, logvar); unconditional: mu=None."""
        strokes, lengths = inputs
        target = strokes[:, 1:, :]
        if self.hp.conditional:
            mu, logvar = self.encode(target, lengths, training=training)
            z = self.sample_z(mu, logvar)
        else:
            mu = logvar = z = None
        raw = self.decode_sequence(strokes[:, :-1, :], z, training=training)
        return raw, mu, logvar


def hyper_sizes(hp: HParams) -> HyperSizes | None:
    """The hyper cell of a ``dec_model=hyper`` decoder (its recurrent dropout keeps the decoder's probability)."""
    if hp.dec_model != "hyper":
        return None
    keep = hp.recurrent_dropout_prob if hp.hyper_use_recurrent_dropout else 1.0
    return HyperSizes(hp.hyper_num_units, hp.hyper_embedding_size, keep)


def reverse_within_length(x, lengths):
    """Backend-agnostic tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)."""
    steps = ops.shape(x)[1]
    t = ops.expand_dims(ops.arange(steps, dtype="int32"), 0)
    n = ops.expand_dims(ops.cast(lengths, "int32"), 1)
    index = ops.where(t < n, n - 1 - t, t)
    return ops.take_along_axis(x, ops.expand_dims(index, -1), axis=1)
