"""The HyperLSTM decoder cell against magenta's ``HyperLSTMCell`` arithmetic.

The reference below is written from the official source (magenta/models/sketch_rnn/rnn.py: ``HyperLSTMCell``,
``LayerNormLSTMCell``, ``layer_norm_all``, ``layer_norm``, ``hyper_norm``), in its own layout: gates ordered
i, j, f, o, one (zw, alpha[, zb, beta]) set per gate share, states [total_h | total_c]. The test draws every weight
at random in that layout, moves it into the Keras cell's layout, and compares one step and a whole sequence.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")

from training.cells import HyperSizes, SketchHyperLSTMCell, SketchLSTM

H, NH, E, D, B = 12, 8, 4, 7, 3
OFFICIAL_GATES = ("i", "j", "f", "o")
KERAS_TO_OFFICIAL = (0, 2, 1, 3)  # Keras gates i, f, g(=j), o -> index of the official i, j, f, o block


# -- the reference, from the official equations ------------------------------------------------------------------

def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def layer_norm(x, gamma, beta, epsilon=1e-3):
    mean = x.mean(axis=1, keepdims=True)
    shifted = x - mean
    var = (shifted ** 2).mean(axis=1, keepdims=True)
    return gamma * shifted / np.sqrt(var + epsilon) + beta


def layer_norm_all(h, base, units, gamma, beta, epsilon=1e-3):
    r = h.reshape(h.shape[0], base, units)
    mean = r.mean(axis=2, keepdims=True)
    var = ((r - mean) ** 2).mean(axis=2, keepdims=True)
    r = (r - mean) / np.sqrt(var + epsilon)
    return gamma * r.reshape(h.shape[0], base * units) + beta


def official_layer_norm_lstm(x, state, w, keep_mask=None, keep=1.0):
    """LayerNormLSTMCell.__call__: state is [h, c]."""
    h, c = np.split(state, 2, axis=1)
    concat = np.concatenate([x, h], 1) @ np.concatenate([w["W_xh"], w["W_hh"]], 0)
    concat = layer_norm_all(concat, 4, h.shape[1], w["ln_all_gamma"], w["ln_all_beta"])
    i, j, f, o = np.split(concat, 4, axis=1)
    g = np.tanh(j) if keep_mask is None else np.tanh(j) * keep_mask / keep
    new_c = c * sigmoid(f + 1.0) + sigmoid(i) * g
    new_h = np.tanh(layer_norm(new_c, w["ln_c_gamma"], w["ln_c_beta"])) * sigmoid(o)
    return new_h, np.concatenate([new_h, new_c], 1)


def official_hyper_step(x, state, w, keep_mask=None, hyper_keep_mask=None, keep=1.0):
    """HyperLSTMCell.__call__ (use_layer_norm=True, forget_bias=1.0): state is [total_h, total_c]."""
    total_h, total_c = np.split(state, 2, axis=1)
    h, c = total_h[:, :H], total_c[:, :H]
    hyper_state = np.concatenate([total_h[:, H:], total_c[:, H:]], 1)
    hyper_output, hyper_new_state = official_layer_norm_lstm(np.concatenate([x, h], 1), hyper_state, w["hyper"],
                                                             hyper_keep_mask, keep)

    def hyper_norm(layer, scope, use_bias):
        s = w[scope]
        zw = hyper_output @ s["zw_w"] + s["zw_b"]
        result = (zw @ s["alpha_w"]) * layer
        if use_bias:
            result = result + (hyper_output @ s["zb_w"]) @ s["beta_w"]
        return result

    xs = np.split(x @ w["W_xh"], 4, axis=1)
    hs = np.split(h @ w["W_hh"], 4, axis=1)
    bs = np.split(w["bias"], 4)
    gates = [hyper_norm(xs[k], f"hyper_{n}x", False) + hyper_norm(hs[k], f"hyper_{n}h", True) + bs[k]
             for k, n in enumerate(OFFICIAL_GATES)]
    concat = layer_norm_all(np.concatenate(gates, 1), 4, H, w["ln_all_gamma"], w["ln_all_beta"])
    i, j, f, o = np.split(concat, 4, axis=1)
    g = np.tanh(j) if keep_mask is None else np.tanh(j) * keep_mask / keep
    new_c = c * sigmoid(f + 1.0) + sigmoid(i) * g
    new_h = np.tanh(layer_norm(new_c, w["ln_c_gamma"], w["ln_c_beta"])) * sigmoid(o)
    hyper_h, hyper_c = np.split(hyper_new_state, 2, axis=1)
    return new_h, np.concatenate([new_h, hyper_h, new_c, hyper_c], 1)


def official_weights(rng):
    def r(*shape, scale=0.5):
        return (rng.normal(size=shape) * scale).astype(np.float32)

    w = {"W_xh": r(D, 4 * H), "W_hh": r(H, 4 * H), "bias": r(4 * H), "ln_all_gamma": 1 + r(4 * H, scale=0.2),
         "ln_all_beta": r(4 * H, scale=0.2), "ln_c_gamma": 1 + r(H, scale=0.2), "ln_c_beta": r(H, scale=0.2),
         "hyper": {"W_xh": r(D + H, 4 * NH), "W_hh": r(NH, 4 * NH), "ln_all_gamma": 1 + r(4 * NH, scale=0.2),
                   "ln_all_beta": r(4 * NH, scale=0.2), "ln_c_gamma": 1 + r(NH, scale=0.2),
                   "ln_c_beta": r(NH, scale=0.2)}}
    for n in OFFICIAL_GATES:
        w[f"hyper_{n}x"] = {"zw_w": r(NH, E), "zw_b": 1 + r(E, scale=0.1), "alpha_w": r(E, H)}
        w[f"hyper_{n}h"] = {"zw_w": r(NH, E), "zw_b": 1 + r(E, scale=0.1), "alpha_w": r(E, H), "zb_w": r(NH, E),
                            "beta_w": r(E, H)}
    return w


def to_keras_gates(a, units):
    """Official gate blocks (i, j, f, o) along the last axis -> Keras (i, f, g, o)."""
    blocks = np.split(a, 4, axis=-1)
    return np.concatenate([blocks[k] for k in KERAS_TO_OFFICIAL], axis=-1)


def load_official(cell: SketchHyperLSTMCell, w) -> None:
    hyp = w["hyper"]
    cell.kernel.assign(to_keras_gates(w["W_xh"], H))
    cell.recurrent_kernel.assign(to_keras_gates(w["W_hh"], H))
    cell.bias.assign(to_keras_gates(w["bias"], H))
    order = list(KERAS_TO_OFFICIAL)
    cell.ln_gamma.assign(np.concatenate([w["ln_all_gamma"].reshape(4, H)[order], w["ln_c_gamma"][None]]))
    cell.ln_beta.assign(np.concatenate([w["ln_all_beta"].reshape(4, H)[order], w["ln_c_beta"][None]]))
    cell.hyper_kernel.assign(to_keras_gates(hyp["W_xh"], NH))
    cell.hyper_recurrent_kernel.assign(to_keras_gates(hyp["W_hh"], NH))
    cell.hyper_ln_gamma.assign(np.concatenate([hyp["ln_all_gamma"].reshape(4, NH)[order], hyp["ln_c_gamma"][None]]))
    cell.hyper_ln_beta.assign(np.concatenate([hyp["ln_all_beta"].reshape(4, NH)[order], hyp["ln_c_beta"][None]]))
    scopes = [f"hyper_{OFFICIAL_GATES[k]}{share}" for share in "xh" for k in KERAS_TO_OFFICIAL]
    cell.zw_kernel.assign(np.concatenate([w[s]["zw_w"] for s in scopes], axis=1))
    cell.zw_bias.assign(np.concatenate([w[s]["zw_b"] for s in scopes]))
    cell.alpha_kernel.assign(np.stack([w[s]["alpha_w"] for s in scopes]))
    cell.zb_kernel.assign(np.concatenate([w[s]["zb_w"] for s in scopes[4:]], axis=1))
    cell.beta_kernel.assign(np.stack([w[s]["beta_w"] for s in scopes[4:]]))


def keras_state(total_state):
    total_h, total_c = np.split(total_state, 2, axis=1)
    return total_h, total_c


# -- the tests ---------------------------------------------------------------------------------------------------

def test_one_step_matches_the_official_equations():
    rng = np.random.default_rng(0)
    w = official_weights(rng)
    cell = SketchHyperLSTMCell(H, D, NH, E)
    cell.build()
    load_official(cell, w)
    x = rng.normal(size=(B, D)).astype(np.float32)
    state = rng.uniform(-0.9, 0.9, size=(B, 2 * (H + NH))).astype(np.float32)
    want_h, want_state = official_hyper_step(x, state, w)
    h, c = keras_state(state)
    h_new, c_new = cell.step(cell.project(x), h, c)
    np.testing.assert_allclose(np.asarray(h_new)[:, :H], want_h, atol=1e-5)
    np.testing.assert_allclose(np.concatenate([np.asarray(h_new), np.asarray(c_new)], 1), want_state, atol=1e-5)


def test_sequence_with_recurrent_dropout_matches_the_official_equations():
    """Main and hyper recurrent dropout (the masks the layer would draw, fed in): a 6-step sequence through
    keras.layers.RNN equals the official step applied 6 times."""
    rng = np.random.default_rng(1)
    w = official_weights(rng)
    keep, steps = 0.8, 6
    layer = SketchLSTM(H, D, dropout_keep=keep, hyper=HyperSizes(NH, E, keep), name="hyper_decoder")
    layer.build()
    load_official(layer.cell, w)
    x = rng.normal(size=(B, steps, D)).astype(np.float32)
    state = rng.uniform(-0.9, 0.9, size=(B, 2 * (H + NH))).astype(np.float32)
    masks = (rng.random((B, steps, H + NH)) < keep).astype(np.float32)
    proj = np.concatenate([np.asarray(layer.cell.project(x)), masks / keep], axis=-1)
    outputs, h_last, c_last = layer.rnn(proj, initial_state=list(keras_state(state)), training=True)
    want = []
    for t in range(steps):
        out, state = official_hyper_step(x[:, t], state, w, masks[:, t, :H], masks[:, t, H:], keep)
        want.append(out)
    np.testing.assert_allclose(np.asarray(outputs), np.stack(want, 1), atol=1e-5)
    np.testing.assert_allclose(np.concatenate([np.asarray(h_last), np.asarray(c_last)], 1), state, atol=1e-5)


def test_initial_weights_follow_the_official_initialisers():
    cell = SketchHyperLSTMCell(H, D, NH, E)
    cell.build()
    np.testing.assert_array_equal(np.asarray(cell.zw_kernel), 0.0)
    np.testing.assert_array_equal(np.asarray(cell.zw_bias), 1.0)
    np.testing.assert_allclose(np.asarray(cell.alpha_kernel), 0.1 / E)   # every scale starts at 0.1
    np.testing.assert_array_equal(np.asarray(cell.beta_kernel), 0.0)
    np.testing.assert_array_equal(np.asarray(cell.bias), 0.0)
    assert 0.0 < np.asarray(cell.zb_kernel).std() < 0.02
    for kernel, n in ((cell.recurrent_kernel, H), (cell.hyper_recurrent_kernel, NH)):
        for block in np.split(np.asarray(kernel), 4, axis=1):    # one orthogonal block per gate
            np.testing.assert_allclose(block.T @ block, np.eye(n), atol=1e-5)


def test_dropout_masks_are_those_of_the_cells_that_drop():
    only_main = SketchLSTM(H, D, dropout_keep=0.9, hyper=HyperSizes(NH, E, 1.0))
    both = SketchLSTM(H, D, dropout_keep=0.9, hyper=HyperSizes(NH, E, 0.9))
    neither = SketchLSTM(H, D, dropout_keep=1.0, hyper=HyperSizes(NH, E, 1.0))
    assert (only_main.cell.mask_units, both.cell.mask_units, neither.cell.mask_units) == (H, H + NH, 0)
    assert neither.seed_generator is None
    for layer in (only_main, both, neither):
        layer.build()
        x = np.random.default_rng(2).normal(size=(B, 5, D)).astype(np.float32)
        out, h, c = layer(x, training=True)
        assert out.shape == (B, 5, H) and h.shape == (B, H + NH) and c.shape == (B, H + NH)
        assert layer.resolve_implementation(True) == "reference"
