"""The plain LSTM recurrence as one TensorFlow while loop with a hand-written backward pass (TensorFlow only).

Why: TensorFlow's automatic gradient of a while loop does two small matrix products per step on the way back
(``dh_prev = dgates W^T`` and ``dW += h^T dgates``) and keeps a stack per intermediate. This backward pass keeps the
first inside the loop and does the second once, after the loop, as one large product over all steps, which a CPU
runs several times faster; the forward pass stores only the gate activations, the cell states and the outputs.
The math is the one of :meth:`training.cells.SketchLSTMCell.step` without layer norm (the sum over steps of ``dW`` is
only reordered), and the tests check both paths against each other.

Shapes are time-major: ``proj [T, B, 4H]`` is the projected input ``x W + b`` (gate order i, f, c, o as Keras),
``keep_mask [T, B, H]`` the recurrent dropout mask applied to the candidate g (or None).
"""
from __future__ import annotations

import tensorflow as tf


def lstm_recurrence(proj: tf.Tensor, recurrent_kernel: tf.Tensor, h0: tf.Tensor, c0: tf.Tensor,
                    keep_mask: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """-> (outputs h_1..h_T [T, B, H], h_T [B, H], c_T [B, H]); differentiable in proj, kernel, h0 and c0."""
    has_mask = keep_mask is not None
    mask = keep_mask if has_mask else tf.zeros([0], proj.dtype)

    @tf.custom_gradient
    def run(proj, w, h0, c0, mask):
        steps = tf.shape(proj)[0]
        units = tf.shape(h0)[-1]
        dtype = proj.dtype
        proj_seq = tf.TensorArray(dtype, size=steps).unstack(proj)
        mask_seq = tf.TensorArray(dtype, size=steps).unstack(mask) if has_mask else None

        def forward(t, h, c, outs, cells, sigmoids, candidates):
            gates = proj_seq.read(t) + tf.matmul(h, w)
            s = tf.sigmoid(gates)                      # i, f and o are read from here (the c block is unused)
            i, f, _, o = tf.split(s, 4, axis=-1)
            g = tf.tanh(gates[:, 2 * units:3 * units])
            g_kept = g * mask_seq.read(t) if has_mask else g
            c = f * c + i * g_kept
            h = o * tf.tanh(c)
            return (t + 1, h, c, outs.write(t, h), cells.write(t, c), sigmoids.write(t, s),
                    candidates.write(t, g))

        arrays = [tf.TensorArray(dtype, size=steps) for _ in range(4)]
        _, h_last, c_last, outs, cells, sigmoids, candidates = tf.while_loop(
            lambda t, *_: t < steps, forward, (tf.constant(0), h0, c0, *arrays))
        out_seq, cell_seq = outs.stack(), cells.stack()
        sig_seq, cand_seq = sigmoids.stack(), candidates.stack()

        def backward(d_out, d_h, d_c):
            d_out = tf.zeros_like(out_seq) if d_out is None else d_out
            d_h = tf.zeros_like(h0) if d_h is None else d_h
            d_c = tf.zeros_like(c0) if d_c is None else d_c
            prev_cells = tf.concat([c0[None], cell_seq[:-1]], axis=0)
            d_out_seq = tf.TensorArray(dtype, size=steps).unstack(d_out)
            cell_arr = tf.TensorArray(dtype, size=steps).unstack(cell_seq)
            prev_arr = tf.TensorArray(dtype, size=steps).unstack(prev_cells)
            sig_arr = tf.TensorArray(dtype, size=steps).unstack(sig_seq)
            cand_arr = tf.TensorArray(dtype, size=steps).unstack(cand_seq)
            mask_arr = tf.TensorArray(dtype, size=steps).unstack(mask) if has_mask else None

            def step_back(t, dh, dc, d_gates):
                dh = dh + d_out_seq.read(t)
                i, f, _, o = tf.split(sig_arr.read(t), 4, axis=-1)
                g = cand_arr.read(t)                    # tanh of the candidate, before the mask
                tanh_c = tf.tanh(cell_arr.read(t))
                dc = dc + dh * o * (1.0 - tf.square(tanh_c))
                if has_mask:
                    m = mask_arr.read(t)
                    g_kept, d_g = g * m, dc * i * m
                else:
                    g_kept, d_g = g, dc * i
                d_pre = tf.concat([dc * g_kept * i * (1.0 - i), dc * prev_arr.read(t) * f * (1.0 - f),
                                   d_g * (1.0 - tf.square(g)), dh * tanh_c * o * (1.0 - o)], axis=-1)
                return t - 1, tf.matmul(d_pre, w, transpose_b=True), dc * f, d_gates.write(t, d_pre)

            _, dh0, dc0, d_gates = tf.while_loop(lambda t, *_: t >= 0, step_back,
                                                 (steps - 1, d_h, d_c, tf.TensorArray(dtype, size=steps)))
            d_proj = d_gates.stack()
            prev_outputs = tf.concat([h0[None], out_seq[:-1]], axis=0)
            d_w = tf.matmul(tf.reshape(prev_outputs, [-1, units]), tf.reshape(d_proj, [-1, 4 * units]),
                            transpose_a=True)
            return d_proj, d_w, dh0, dc0, tf.zeros_like(mask)

        return (out_seq, h_last, c_last), backward

    return run(proj, recurrent_kernel, h0, c0, mask)
