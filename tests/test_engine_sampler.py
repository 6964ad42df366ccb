"""The fused sampling graphs (sketchgen/graphs) against the step-by-step Python loop, built straight from
decoder weights (no TensorFlow, no training: seconds), and the choice of the int8 weight layout.

The loop body unrolls UNROLL decoder steps and cuts its outputs after the loop, so these tests aim at the block
edges: sketches that end inside a block, step counts that are not a multiple of UNROLL or smaller than it, rows
that start ended, the never-stop mode, one row and several, plain and layer-norm cells, with and without z.
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper

from conftest import random_stroke3
from sketchgen import precision
from sketchgen.graphs import UNROLL, DecoderWeights, build_sampler, build_step
from sketchgen.engine.sampling import (TEMPERATURE_RULES, classic_loop, draw_noise, reference_loop,
                                       temperatures)
from sketchgen.model_folder import PRECISION_TOLERANCE_NATS, START_TOKEN

H, NZ, M = 24, 6, 4


def weights(seed: int, conditional: bool = True, layer_norm: bool = False, end_bias: float = 0.0,
            wide_column: float = 1.0) -> DecoderWeights:
    """Random decoder weights of a realistic scale; ``end_bias`` sets how soon sketches end, ``wide_column``
    widens the range of one recurrent column (what a single int8 scale handles worst)."""
    rng = np.random.default_rng(seed)
    nz = NZ if conditional else 0
    recurrent = rng.normal(0, 0.25, (H, 4 * H)).astype(np.float32)
    recurrent[:, 5] *= wide_column
    out_bias = rng.normal(0, 0.3, 6 * M + 3).astype(np.float32)
    out_bias[2] = end_bias  # pen logits come first: p1, p2, p3 (end of sketch)
    return DecoderWeights(
        kernel=rng.normal(0, 0.3, (5 + nz, 4 * H)).astype(np.float32), recurrent_kernel=recurrent,
        bias=None if layer_norm else rng.normal(0, 0.1, 4 * H).astype(np.float32),
        ln_gamma=rng.normal(1, 0.1, (5, H)).astype(np.float32) if layer_norm else None,
        ln_beta=rng.normal(0, 0.1, (5, H)).astype(np.float32) if layer_norm else None,
        out_kernel=rng.normal(0, 0.3, (H, 6 * M + 3)).astype(np.float32), out_bias=out_bias,
        num_mixture=M, z_size=nz)


def session(model: onnx.ModelProto):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def step_function(sess, conditional: bool):
    names = [o.name for o in sess.get_outputs()]

    def step(x, z, h, c):
        feeds = {"x": x, "h": h, "c": c, **({"z": z} if conditional else {})}
        return dict(zip(names, sess.run(None, feeds)))

    return step


def draw(sampler, step, w: DecoderWeights, batch: int, steps: int, tau: float, stop: bool, seed: int,
         x0: np.ndarray | None = None, follow: bool = False, rule: str = "js", discrete: float | None = None):
    """(fused offsets, fused pens, loop offsets, loop pens) from the same state and noise."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((batch, w.z_size)).astype(np.float32) if w.conditional else None
    h = np.tanh(rng.normal(0, 0.5, (batch, H))).astype(np.float32)
    c = rng.normal(0, 0.5, (batch, H)).astype(np.float32)
    x0 = np.tile(START_TOKEN, (batch, 1)) if x0 is None else x0
    noise = draw_noise(rng, steps, np.full(batch, tau), M, rule, discrete)
    logits, angle = noise.graph_inputs()
    feeds = {"h0": h, "c0": c, "x0": x0, "noise_logits": logits, "noise_angle": angle,
             "stop_pen": np.array(2 if stop else 3, np.int64), **({"z": z} if w.conditional else {})}
    offsets, pens = sampler.run(["offsets", "pens"], feeds)
    ref = reference_loop(step, x0, h, c, z, noise, stop_at_end=stop, follow=(offsets, pens) if follow else None)
    return offsets, pens, ref[0], ref[1]


CASES = [  # batch, steps, temperature, stop at the end, temperature rule, discrete temperature (None: the rule's)
    (1, 1, 0.8, True, "js", None), (1, UNROLL - 3, 0.8, True, "paper", None), (1, UNROLL, 0.8, True, "magenta", None),
    (3, UNROLL + 1, 0.8, True, "js", None), (4, 3 * UNROLL + 7, 0.8, True, "paper", None),
    (5, 60, 0.5, True, "js", None), (2, 2 * UNROLL + 3, 0.8, False, "magenta", None),
    (3, 25, 0.0, False, "js", None),     # tau 0 under the JS rule: discrete temperature 0.5, offsets at the means
    (3, 25, 0.0, False, "paper", None),  # the greedy path
    (2, 30, 0.3, True, "js", 0.0),       # greedy choices, sigma x sqrt(0.3)
    (4, 40, 0.2, True, "magenta", 1.5)]


@pytest.mark.parametrize("precision_, scales", [("fp32", "tensor"), ("int8", "tensor"), ("int8", "column"),
                                               ("int8", "gates")])
@pytest.mark.parametrize("conditional, layer_norm", [(True, False), (False, False), (True, True)])
def test_fused_sampler_draws_exactly_the_steps_of_the_python_loop(precision_, scales, conditional, layer_norm):
    """Same noise, same steps: the same pens, offsets within 1e-4 and the same number of steps S (cut after the
    step where the last row ended). int8 is compared step by step from the fused sampler's own previous point:
    a last-bit difference between numpy's and ONNX Runtime's exp may move its quantised h by one level, after
    which two free-running samplers drift apart although every step is computed alike."""
    w = weights(seed=1, conditional=conditional, layer_norm=layer_norm)
    sampler = session(build_sampler(w, precision_, scales=scales))
    step = step_function(session(build_step(w, precision_, scales=scales)), conditional)
    ended_early = 0
    for i, (batch, steps, tau, stop, rule, discrete) in enumerate(CASES):
        offsets, pens, ref_offsets, ref_pens = draw(sampler, step, w, batch, steps, tau, stop, seed=10 + i,
                                                    follow=precision_ == "int8", rule=rule, discrete=discrete)
        case = f"batch {batch}, {steps} steps, temperature {tau} ({rule}, discrete {discrete}), stop {stop}"
        assert offsets.shape == ref_offsets.shape and pens.shape == ref_pens.shape, case
        np.testing.assert_array_equal(pens, ref_pens, err_msg=case)
        np.testing.assert_allclose(offsets, ref_offsets, atol=1e-4, rtol=1e-5, err_msg=case)
        assert set(np.unique(pens)) <= {0, 1, 2}, case
        if stop:
            assert len(pens) == steps or (pens == 2).any(axis=0).all(), case  # cut right after the last end
            ended_early += len(pens) < steps
            if len(pens) < steps:
                assert not (pens[:-1] == 2).any(axis=0).all(), case  # ... and not before it
        else:
            assert len(pens) == steps, case
    assert ended_early >= 3  # the cases do reach the early stop, inside blocks


def test_temperature_rules_follow_the_official_samplers():
    """js: @magenta/sketch getPDF (pi and pen logits / (0.5 + 0.5 tau), sigma x sqrt(tau)); paper: tau and
    sqrt(tau); magenta: sample() passes sqrt(tau) to sample_gaussian_2d, which multiplies sigma by it squared."""
    for tau in (0.0, 0.1, 0.3, 0.5, 1.0):
        js, paper, magenta = (temperatures(tau, rule) for rule in ("js", "paper", "magenta"))
        assert (js.discrete, js.sigma_scale) == pytest.approx((0.5 + 0.5 * tau, np.sqrt(tau)))
        assert (paper.discrete, paper.sigma_scale) == pytest.approx((tau, np.sqrt(tau)))
        assert (magenta.discrete, magenta.sigma_scale) == pytest.approx((tau, tau))
        fixed = temperatures(tau, "js", 0.25)
        assert fixed.discrete == 0.25 and fixed.sigma_scale == js.sigma_scale
    with pytest.raises(ValueError, match="rule"):
        temperatures(0.5, "fast")


def test_one_seed_draws_the_same_randomness_under_every_rule():
    """A seed means the same random numbers whatever the rule: only their scaling differs."""
    tau = 0.3
    noises = {rule: draw_noise(np.random.default_rng(5), 20, np.full(3, tau), M, rule) for rule in TEMPERATURE_RULES}
    for rule, noise in noises.items():
        t = temperatures(tau, rule)
        np.testing.assert_allclose(noise.gumbel_pi / t.discrete, noises["paper"].gumbel_pi / tau, rtol=1e-5)
        np.testing.assert_allclose(noise.gumbel_pen / t.discrete, noises["paper"].gumbel_pen / tau, rtol=1e-5)
        np.testing.assert_allclose(noise.log_radius - np.log(t.sigma_scale),
                                   noises["paper"].log_radius - 0.5 * np.log(tau), atol=1e-5)
        np.testing.assert_array_equal(noise.angle, noises["paper"].angle)


@pytest.mark.parametrize("rule, discrete", [("js", None), ("magenta", None), ("paper", 0.9)])
def test_fused_samples_follow_the_official_sampler_under_each_rule(rule, discrete):
    """Pen-state frequencies and offset spread of the fused sampler against the official sampling code written out
    (inverse-CDF choices from softmax(logits / t), multivariate_normal with sigma x s): a different random
    mechanism, the same distribution. 400 rows x 6 steps from one state each; at tau 0.3 the JS rule's pen choice
    is much livelier than the paper's, which the test also sees."""
    w = weights(seed=6, end_bias=1.0)
    sampler = session(build_sampler(w, "fp32"))
    step = step_function(session(build_step(w, "fp32")), True)
    rows, steps, tau = 400, 6, 0.3
    rng = np.random.default_rng(0)
    z = np.repeat(rng.standard_normal((1, NZ)).astype(np.float32), rows, axis=0)
    h = np.repeat(np.tanh(rng.normal(0, 0.5, (1, H))).astype(np.float32), rows, axis=0)
    c = np.repeat(rng.normal(0, 0.5, (1, H)).astype(np.float32), rows, axis=0)
    x0 = np.tile(START_TOKEN, (rows, 1))
    logits, angle = draw_noise(rng, steps, np.full(rows, tau), M, rule, discrete).graph_inputs()
    offsets, pens = sampler.run(["offsets", "pens"], {"z": z, "h0": h, "c0": c, "x0": x0, "noise_logits": logits,
                                                      "noise_angle": angle, "stop_pen": np.array(3, np.int64)})
    ref_off, ref_pens = classic_loop(step, x0, h, c, z, steps, tau, rng, rule, discrete)
    first = pens[0, :, 0]  # the first step: every row from the same state, so a plain binomial comparison
    for k in range(3):
        a, b = (first == k).mean(), (ref_pens[0] == k).mean()
        se = np.sqrt((a * (1 - a) + b * (1 - b)) / rows) + 1e-9
        assert abs(a - b) / se < 4.5, (rule, k, a, b)
    for d in range(2):
        a, b = offsets[0, :, d], ref_off[0, :, d]
        assert abs(a.mean() - b.mean()) / np.sqrt(a.var() / rows + b.var() / rows) < 4.5, (rule, d)
        assert 0.8 < a.std() / b.std() < 1.25, (rule, d, a.std(), b.std())


def test_greedy_and_zero_temperature_under_each_rule():
    """tau = 0: offsets at the means under every rule; the choices greedy under "paper" and "magenta" (and with a
    discrete temperature of 0), but still drawn at t = 0.5 under "js", as the official JS library does."""
    w = weights(seed=7)
    sampler = session(build_sampler(w, "fp32"))
    step = step_function(session(build_step(w, "fp32")), True)
    runs = {}
    for name, rule, discrete in (("paper", "paper", None), ("magenta", "magenta", None), ("greedy", "js", 0.0),
                                 ("js", "js", None)):
        for seed in (1, 2):
            offsets, pens, ref_offsets, ref_pens = draw(sampler, step, w, 3, 30, 0.0, False, seed=seed, rule=rule,
                                                        discrete=discrete)
            np.testing.assert_array_equal(pens, ref_pens)
            np.testing.assert_allclose(offsets, ref_offsets, atol=1e-4)
            runs[name, seed] = (offsets, pens)
    for seed in (1, 2):  # draw() takes the state from the seed: the same seed is the same state under every rule
        for name in ("paper", "magenta"):
            np.testing.assert_array_equal(runs[name, seed][1], runs["greedy", seed][1])
            np.testing.assert_allclose(runs[name, seed][0], runs["greedy", seed][0], atol=1e-6)
    assert any(not np.array_equal(runs["js", s][1], runs["greedy", s][1]) for s in (1, 2))


def test_rows_that_start_ended_stop_after_one_step():
    w = weights(seed=2)
    sampler = session(build_sampler(w, "int8"))
    step = step_function(session(build_step(w, "int8")), True)
    x0 = np.tile(np.array([0, 0, 0, 0, 1], np.float32), (3, 1))
    offsets, pens, ref_offsets, ref_pens = draw(sampler, step, w, 3, 40, 0.7, True, seed=3, x0=x0, follow=True)
    assert offsets.shape == ref_offsets.shape == (1, 3, 2)
    np.testing.assert_array_equal(pens, ref_pens)
    offsets, pens, _, _ = draw(sampler, step, w, 3, 40, 0.7, False, seed=3, x0=x0)
    assert len(pens) == 40  # never-stop mode draws on


def test_padding_rows_are_never_chosen_even_when_hot():
    """K = max(M, 3) rows; pen logits use 3 of them and mixture logits M: the others must lose at any
    temperature (the graph gives them a -1e9 logit)."""
    rng = np.random.default_rng(0)
    w = weights(seed=3)
    w = DecoderWeights(**{**w.__dict__, "num_mixture": 2, "out_kernel": rng.normal(0, 0.3, (H, 15)).astype(np.float32),
                          "out_bias": rng.normal(0, 0.3, 15).astype(np.float32)})
    for prec in ("fp32", "int8"):
        sampler = session(build_sampler(w, prec))
        noise = draw_noise(rng, 200, np.full(4, 1e4), 2)
        logits, angle = noise.graph_inputs()
        feeds = {"z": rng.standard_normal((4, NZ)).astype(np.float32), "h0": np.zeros((4, H), np.float32),
                 "c0": np.zeros((4, H), np.float32), "x0": np.tile(START_TOKEN, (4, 1)), "noise_logits": logits,
                 "noise_angle": angle, "stop_pen": np.array(3, np.int64)}
        offsets, pens = sampler.run(["offsets", "pens"], feeds)
        assert set(np.unique(pens)) <= {0, 1, 2} and np.isfinite(offsets).all()


def _zeros_init(units: int) -> onnx.ModelProto:
    """decoder_init.onnx of an unconditional model: batch -> zero h, c."""
    shape = helper.make_node("Concat", ["b1", "units"], ["shape"], axis=0)
    nodes = [helper.make_node("Unsqueeze", ["batch", "ax0"], ["b1"]), shape,
             helper.make_node("ConstantOfShape", ["shape"], ["h"], value=helper.make_tensor("v", TensorProto.FLOAT,
                                                                                          [1], [0.0])),
             helper.make_node("Identity", ["h"], ["c"])]
    graph = helper.make_graph(nodes, "init", [helper.make_tensor_value_info("batch", TensorProto.INT64, [])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["B", units]) for n in ("h", "c")],
                              [onnx.numpy_helper.from_array(np.array([0], np.int64), "ax0"),
                               onnx.numpy_helper.from_array(np.array([units], np.int64), "units")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_int8_layout_falls_back_to_per_column_scales_when_one_scale_loses_too_much():
    """One recurrent column 60x wider than the rest: a single int8 scale for the matrix leaves the others a few
    levels, the test-set L_R moves by far more than 0.01 nats, and the export takes one scale per column."""
    rng = np.random.default_rng(4)
    sketches = [random_stroke3(rng, n_points=int(rng.integers(10, 30))) for _ in range(16)]
    for s in sketches:
        s[:, :2] /= 8.0  # normalised offsets
    init = session(_zeros_init(H))
    for wide, expected in ((1.0, "tensor"), (60.0, "column")):
        w = weights(seed=5, conditional=False, wide_column=wide)
        measure = {"decoder_init": init, "decoder_step": session(build_step(w, "fp32"))}
        report = precision.choose_int8_layout(measure, None, lambda s: session(build_step(w, "int8", scales=s)),
                                              sketches, 32, conditional=False)
        assert report["verified"] and report["scales"] == expected, report
        assert abs(report["delta_nats"]) <= PRECISION_TOLERANCE_NATS
        if expected == "column":
            assert abs(report["tried"]["tensor"]) > PRECISION_TOLERANCE_NATS


def test_int8_layout_keeps_the_head_fp32_when_its_rounding_moves_the_loss():
    """The head's log-sigma weights 30x wider: h's 1/127 rounding in the head moves sigma, so one scale and one
    scale per column both lose more than 0.01 nats; int8 gates with the head in fp32 stay within it."""
    rng = np.random.default_rng(4)
    sketches = [random_stroke3(rng, n_points=int(rng.integers(10, 30))) for _ in range(16)]
    for s in sketches:
        s[:, :2] /= 8.0
    w = weights(seed=5, conditional=False)
    out_kernel = w.out_kernel.copy()
    out_kernel[:, 3 + 3 * M: 3 + 5 * M] *= 30.0  # log sigma_x, log sigma_y
    w = DecoderWeights(**{**w.__dict__, "out_kernel": out_kernel})
    measure = {"decoder_init": session(_zeros_init(H)), "decoder_step": session(build_step(w, "fp32"))}
    report = precision.choose_int8_layout(measure, None, lambda s: session(build_step(w, "int8", scales=s)),
                                          sketches, 32, conditional=False)
    assert report["verified"] and report["scales"] == "gates", report
    assert abs(report["tried"]["tensor"]) > PRECISION_TOLERANCE_NATS
    assert abs(report["tried"]["column"]) > PRECISION_TOLERANCE_NATS
    # the sampler of that layout reads the head as fp32: a Gemm beside the one QGemm per step
    body = next(n for n in build_sampler(w, "int8", scales="gates").graph.node if n.op_type == "Loop")
    body_ops = [n.op_type for n in body.attribute[0].g.node]
    assert body_ops.count("QGemm") == body_ops.count("Gemm") == UNROLL


def _linear_init(w_init: np.ndarray, b_init: np.ndarray) -> onnx.ModelProto:
    """decoder_init.onnx of a conditional model: z -> h, c = split(tanh(z W + b))."""
    units = w_init.shape[1] // 2
    nodes = [helper.make_node("Gemm", ["z", "w", "b"], ["pre"]), helper.make_node("Tanh", ["pre"], ["hc"]),
             helper.make_node("Split", ["hc", "sizes"], ["h", "c"], axis=1)]
    graph = helper.make_graph(nodes, "init", [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["B", NZ])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["B", units]) for n in ("h", "c")],
                              [onnx.numpy_helper.from_array(w_init, "w"), onnx.numpy_helper.from_array(b_init, "b"),
                               onnx.numpy_helper.from_array(np.array([units, units], np.int64), "sizes")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_int8_encoder_is_judged_apart_from_the_int8_decoder():
    """The int8 decoder within the tolerance ships even when the int8 encoder, added to it, moves the loss too
    much (then only the encoder stays fp32); a good int8 encoder ships with it. The stand-in for a bad int8
    encoder is a real encoder graph whose z is 10x off, for a good one a graph that computes the fp32 encoder's
    z exactly (how far DynamicQuantizeLSTM's rounding moves tiny random weights depends on the CPU's kernels)."""
    from sketchgen.graphs import EncoderWeights, build_encoder

    rng = np.random.default_rng(7)
    sketches = [random_stroke3(rng, n_points=int(rng.integers(10, 30))) for _ in range(16)]
    for s in sketches:
        s[:, :2] /= 8.0
    enc_units = 16

    def encoder_weights(mu_gain: float) -> EncoderWeights:
        r = np.random.default_rng(8)
        f32 = np.float32
        return EncoderWeights(
            kernels=tuple(r.normal(0, 0.3, (5, 4 * enc_units)).astype(f32) for _ in range(2)),
            recurrent_kernels=tuple(r.normal(0, 0.2, (enc_units, 4 * enc_units)).astype(f32) for _ in range(2)),
            biases=tuple(np.zeros(4 * enc_units, f32) for _ in range(2)),
            mu=((mu_gain * r.normal(0, 0.5, (2 * enc_units, NZ))).astype(f32), np.zeros(NZ, f32)),
            logvar=((r.normal(0, 0.1, (2 * enc_units, NZ))).astype(f32), np.full(NZ, -4.0, f32)))

    w = weights(seed=5, conditional=True)
    w = DecoderWeights(**{**w.__dict__, "kernel": w.kernel * np.float32(3.0)})  # z weighs in the decoder
    init = session(_linear_init(rng.normal(0, 0.5, (NZ, 2 * H)).astype(np.float32), np.zeros(2 * H, np.float32)))
    measure = {"encoder": session(build_encoder(encoder_weights(1.0), "fp32")), "decoder_init": init,
               "decoder_step": session(build_step(w, "fp32"))}
    int8_step = lambda s: session(build_step(w, "int8", scales=s))  # noqa: E731
    for int8_encoder, ships in ((session(build_encoder(encoder_weights(10.0), "fp32")), False),
                                (session(build_encoder(encoder_weights(1.0), "fp32")), True)):
        report = precision.choose_int8_layout(measure, int8_encoder, int8_step, sketches, 32, conditional=True)
        assert report["verified"] and abs(report["delta_nats"]) <= PRECISION_TOLERANCE_NATS, report
        assert report["encoder_int8"]["shipped"] is ships, report
        assert report["int8_graphs"] == (["decoder_step", "encoder"] if ships else ["decoder_step"])
        if not ships:
            assert abs(report["encoder_int8"]["delta_nats_with_int8_decoder"]) > PRECISION_TOLERANCE_NATS
