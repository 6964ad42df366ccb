"""The fast LSTM paths compute what the reference path computes, and the checkpoint format is unchanged.

The fused TensorFlow loop (CPU default), the keras.layers.LSTM path (cuDNN on a GPU; on a CPU it runs Keras's own
loop, which checks the weight layout the GPU kernel receives) and the reference keras.layers.RNN path must give the
same outputs and gradients for the same weights and dropout masks, so a run can switch between them, and a run
started before they existed resumes into the same variables.
"""
from __future__ import annotations

import tempfile

import numpy as np
import pytest
import tensorflow as tf

from training.cells import SketchLSTM
from sketchgen.config import HParams
from training.dataset import SketchData, make_batch
from training.model import SketchRNN, split_mixture
from training.objective import kl_loss, reconstruction_loss
from training.trainer import TrainOptions, Trainer

# tf.train.list_variables of a checkpoint written by the phase-1 trainer (before the fast paths) for TINY_KEYS_HP:
# every name and shape must stay, or `--resume` of older runs would break.
TINY_KEYS_HP = dict(enc_rnn_size=4, dec_rnn_size=6, z_size=3, num_mixture=2, batch_size=10, max_seq_len=20)
PHASE1_CHECKPOINT_KEYS = {
    'model/init_head/_kernel': (3, 12), 'model/init_head/bias': (12,), 'model/logvar_head/_kernel': (8, 3),
    'model/logvar_head/bias': (3,), 'model/mu_head/_kernel': (8, 3), 'model/mu_head/bias': (3,),
    'model/output_head/_kernel': (6, 15), 'model/output_head/bias': (15,), 'optimizer/_iterations': (),
    'optimizer/_trainable_variables/0': (5, 16), 'optimizer/_trainable_variables/1': (4, 16),
    'optimizer/_trainable_variables/2': (16,), 'optimizer/_trainable_variables/3': (5, 16),
    'optimizer/_trainable_variables/4': (4, 16), 'optimizer/_trainable_variables/5': (16,),
    'optimizer/_trainable_variables/12': (8, 24), 'optimizer/_trainable_variables/13': (6, 24),
    'optimizer/_trainable_variables/14': (24,), 'optimizer/_variables/1': (5, 16), 'optimizer/_variables/2': (5, 16),
    'optimizer/_variables/3': (4, 16), 'optimizer/_variables/4': (4, 16), 'optimizer/_variables/5': (16,),
    'optimizer/_variables/6': (16,), 'optimizer/_variables/7': (5, 16), 'optimizer/_variables/8': (5, 16),
    'optimizer/_variables/9': (4, 16), 'optimizer/_variables/10': (4, 16), 'optimizer/_variables/11': (16,),
    'optimizer/_variables/12': (16,), 'optimizer/_variables/13': (8, 3), 'optimizer/_variables/14': (8, 3),
    'optimizer/_variables/15': (3,), 'optimizer/_variables/16': (3,), 'optimizer/_variables/17': (8, 3),
    'optimizer/_variables/18': (8, 3), 'optimizer/_variables/19': (3,), 'optimizer/_variables/20': (3,),
    'optimizer/_variables/21': (3, 12), 'optimizer/_variables/22': (3, 12), 'optimizer/_variables/23': (12,),
    'optimizer/_variables/24': (12,), 'optimizer/_variables/25': (8, 24), 'optimizer/_variables/26': (8, 24),
    'optimizer/_variables/27': (6, 24), 'optimizer/_variables/28': (6, 24), 'optimizer/_variables/29': (24,),
    'optimizer/_variables/30': (24,), 'optimizer/_variables/31': (6, 15), 'optimizer/_variables/32': (6, 15),
    'optimizer/_variables/33': (15,), 'optimizer/_variables/34': (15,), 'random_state/0': (2,),
    'random_state/1': (2,), 'random_state/2': (2,), 'random_state/3': (2,), 'random_state/4': (2,),
}

PHASE1_WEIGHTS = [f"{layer}/cell/{w}" for layer in ("encoder_fw", "encoder_bw") for w in
                  ("kernel", "recurrent_kernel", "bias")] + [
    f"{layer}/{w}" for layer in ("encoder_mu", "encoder_logvar", "decoder_init") for w in ("kernel", "bias")] + [
    "decoder/cell/kernel", "decoder/cell/recurrent_kernel", "decoder/cell/bias", "decoder_output/kernel",
    "decoder_output/bias"]


def _layer_pair(implementation: str, keep: float, input_dim: int = 7, units: int = 12):
    """Two layers with the same weights and seed: one reference, one ``implementation``."""
    layers = []
    for impl in ("reference", implementation):
        layer = SketchLSTM(units, input_dim, dropout_keep=keep, seed=11, implementation=impl)
        layer.build()
        layers.append(layer)
    for a, b in zip(layers[0].variables, layers[1].variables):
        b.assign(a)
    return layers


def _run(layer: SketchLSTM, x, h0, c0, training: bool, constant=None):
    weights = layer.cell.trainable_variables
    with tf.GradientTape() as tape:
        tape.watch([h0, c0])
        out, h, c = layer(x, initial_state=[h0, c0], training=training, constant=constant)
        loss = tf.reduce_sum(out * tf.sin(out)) + tf.reduce_sum(h * h) + tf.reduce_sum(c)
    return [out, h, c] + tape.gradient(loss, weights + [h0, c0])


@pytest.mark.parametrize("implementation, keep, training", [
    ("fused", 1.0, True), ("fused", 0.7, True), ("fused", 0.7, False), ("keras_lstm", 1.0, True),
    ("keras_lstm", 0.7, False)])
def test_each_lstm_path_matches_the_reference_in_values_and_gradients(implementation, keep, training) -> None:
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(5, 9, 4)).astype(np.float32))
    constant = tf.constant(rng.normal(size=(5, 3)).astype(np.float32))  # e.g. z: the same at every step
    h0, c0 = (tf.constant(rng.normal(size=(5, 12)).astype(np.float32)) for _ in range(2))
    reference, fast = _layer_pair(implementation, keep)
    assert fast.resolve_implementation(training) == implementation
    want = _run(reference, x, h0, c0, training, constant)
    got = _run(fast, x, h0, c0, training, constant)
    for name, a, b in zip(["outputs", "h", "c", "kernel", "recurrent_kernel", "bias", "h0", "c0"], want, got):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5, err_msg=name)
    if keep < 1 and training:  # the masks really dropped something, and both paths drew the same ones
        assert float(tf.reduce_max(tf.abs(want[0] - _run(_layer_pair("fused", 1.0)[0], x, h0, c0, True,
                                                             constant)[0]))) > 1e-3


def test_auto_picks_the_fused_loop_on_a_cpu_and_the_reference_for_layer_norm() -> None:
    plain = SketchLSTM(8, 5, dropout_keep=0.9)
    normed = SketchLSTM(8, 5, layer_norm=True)
    assert not tf.config.list_logical_devices("GPU")  # this suite runs on CPUs
    assert plain.resolve_implementation(training=True) == "fused"
    assert plain.resolve_implementation(training=False) == "fused"
    assert normed.resolve_implementation(training=True) == "reference"
    # keras_lstm cannot apply sketch-rnn's recurrent dropout: training with dropout falls back to the fused loop
    plain.implementation = "keras_lstm"
    assert plain.resolve_implementation(training=True) == "fused"
    assert plain.resolve_implementation(training=False) == "keras_lstm"
    with pytest.raises(ValueError, match="implementation"):
        plain.implementation = "cudnn-please"


def test_a_whole_train_step_is_the_same_on_every_path() -> None:
    hp = HParams(enc_rnn_size=16, dec_rnn_size=24, z_size=6, num_mixture=3, batch_size=6, max_seq_len=30)
    models = []
    for implementation in ("reference", "auto"):
        tf.keras.utils.set_random_seed(0)
        model = SketchRNN(hp)
        model.set_lstm_implementation(implementation)
        models.append(model)
    for a, b in zip(models[0].variables, models[1].variables):
        b.assign(a)
    rng = np.random.default_rng(2)
    sketches = [np.c_[rng.normal(size=(n, 2)), np.eye(1, n, n - 1).ravel()].astype(np.float32)
                for n in rng.integers(5, 25, size=6)]
    batch = make_batch(sketches, 26)
    strokes, lengths = tf.constant(batch.strokes), tf.constant(batch.lengths)

    def losses(model):
        with tf.GradientTape() as tape:
            raw, mu, logvar = model((strokes, lengths), training=True)  # dropout on, z sampled
            r_loss = reconstruction_loss(strokes[:, 1:], split_mixture(raw, hp.num_mixture), hp.max_seq_len)[0]
            loss = r_loss + 0.5 * kl_loss(mu, logvar)
        return loss, tape.gradient(loss, model.trainable_variables)

    (loss_a, grads_a), (loss_b, grads_b) = losses(models[0]), losses(models[1])
    assert float(loss_b) == pytest.approx(float(loss_a), rel=1e-6)
    for variable, a, b in zip(models[0].trainable_variables, grads_a, grads_b):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-7, err_msg=variable.path)


def test_checkpoints_keep_the_phase1_names_and_shapes_and_no_variable_is_added() -> None:
    rng = np.random.default_rng(0)

    def sketch(n):
        s = np.zeros((n, 3), np.float32)
        s[:, :2] = rng.normal(size=(n, 2))
        s[-1, 2] = 1
        return s

    data = SketchData(splits={k: [sketch(int(rng.integers(5, 20))) for _ in range(40)]
                              for k in ("train", "valid", "test")},
                      scale_factor=1.0, max_seq_len=20, requested_max_seq_len=20)
    for implementation in ("auto", "keras_lstm"):
        folder = tempfile.mkdtemp()
        trainer = Trainer(HParams(**TINY_KEYS_HP), data, folder,
                          TrainOptions(progress=False, lstm_implementation=implementation))
        batch = trainer.batcher.next_batch()
        trainer.train_step(batch.strokes, batch.lengths)
        trainer.checkpoint.write(folder + "/ckpt")
        keys = {name.replace("/.ATTRIBUTES/VARIABLE_VALUE", ""): tuple(shape)
                for name, shape in tf.train.list_variables(folder + "/ckpt") if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}
        assert keys == PHASE1_CHECKPOINT_KEYS, implementation
        assert [v.path for v in trainer.model.trainable_variables] == PHASE1_WEIGHTS, implementation
        assert len(trainer.model.variables) == len(PHASE1_WEIGHTS) + 5  # + the seed generator states
