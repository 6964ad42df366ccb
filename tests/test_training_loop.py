"""The training loop on a tiny model: it learns, its masking is exact, it resumes exactly, it stops on NaN."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import TRAINING_TINY, toy_sketch_data

from training import checkpoint as ckpt
from sketchgen.config import HParams
from training.dataset import SketchData, make_batch
from training.model import SketchRNN, split_mixture
from training.objective import reconstruction_loss
from training.segments import summarize_hardware
from training.trainer import TrainingDiverged, TrainOptions, Trainer

TINY = TRAINING_TINY


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> SketchData:
    return toy_sketch_data(tmp_path_factory)


def tiny(**overrides) -> HParams:
    return HParams(**{**TINY, **overrides})


def trainer(hp: HParams, data: SketchData, folder: Path) -> Trainer:
    return Trainer(hp, data, folder, TrainOptions(progress=False))


def test_the_loss_falls_within_30_steps(data: SketchData, tmp_path: Path) -> None:
    t = trainer(tiny(learning_rate=0.005, save_every=100, eval_every=100), data, tmp_path)
    before = t.evaluator.evaluate(data.splits["train"][:60])
    t.train(30)
    after = t.evaluator.evaluate(data.splits["train"][:60])
    assert after["r_loss"] < 0.85 * before["r_loss"], (before, after)
    assert t.step == 30


def test_encoder_and_loss_are_exact_under_extra_padding(data: SketchData) -> None:
    hp = tiny(max_seq_len=data.max_seq_len)
    model = SketchRNN(hp)
    sketches = data.splits["valid"][:6]
    longest = max(len(s) for s in sketches)
    short, padded = make_batch(sketches, longest + 1), make_batch(sketches, longest + 1 + 13)
    mu_a, logvar_a = model.encode(short.strokes[:, 1:], short.lengths)
    mu_b, logvar_b = model.encode(padded.strokes[:, 1:], padded.lengths)
    np.testing.assert_allclose(mu_a, mu_b, atol=1e-6)
    np.testing.assert_allclose(logvar_a, logvar_b, atol=1e-6)

    z = tf.constant(np.random.default_rng(1).standard_normal((6, hp.z_size)), tf.float32)
    raw_a = model.decode_sequence(short.strokes[:, :-1], z)
    raw_b = model.decode_sequence(padded.strokes[:, :-1], z)
    steps = short.strokes.shape[1] - 1
    np.testing.assert_allclose(raw_a, raw_b[:, :steps], atol=1e-5)  # later padding cannot reach earlier steps
    loss_a = [float(v) for v in reconstruction_loss(short.strokes[:, 1:], split_mixture(raw_a, 4), 60)]
    loss_b = [float(v) for v in reconstruction_loss(padded.strokes[:, 1:], split_mixture(raw_b, 4), 60)]
    assert loss_a[1] == pytest.approx(loss_b[1], abs=1e-6)  # offsets: only real points count
    # the pen term counts every computed step, so extra padding adds exactly its end-of-sketch cross-entropy
    extra_pen = split_mixture(raw_b[:, steps:], 4).pen_logits
    extra = -tf.reduce_sum(tf.nn.log_softmax(extra_pen)[..., 2]) / (6 * 60)
    assert loss_b[2] == pytest.approx(loss_a[2] + float(extra), abs=1e-6)


def test_a_resumed_run_equals_an_uninterrupted_one(data: SketchData, tmp_path: Path) -> None:
    hp = tiny()
    straight = trainer(hp, data, tmp_path / "straight")
    last_straight = straight.train(12)

    first = trainer(hp, data, tmp_path / "split")
    first.train(6)
    del first
    second = trainer(hp, data, tmp_path / "split")  # fresh objects, as a new process would build them
    second.restore(ckpt.checkpoint_dir(tmp_path / "split", ckpt.LATEST))
    assert second.step == 6
    first_segment = json.loads((tmp_path / "split" / "latest" / ckpt.STATE_FILE).read_text())["wall_time_s"]
    last_resumed = second.train(12)
    total = json.loads((tmp_path / "split" / "latest" / ckpt.STATE_FILE).read_text())["wall_time_s"]
    assert total > first_segment  # wall time adds up across resumes
    segments = json.loads((tmp_path / "split" / "latest" / ckpt.STATE_FILE).read_text())["segments"]
    assert [seg["steps"] for seg in segments] == [[0, 6], [6, 12]]  # the card can say where each part ran
    assert all("cores" in seg["hardware"] and seg["wall_time_s"] > 0 for seg in segments)

    assert last_resumed["loss"] == pytest.approx(last_straight["loss"], abs=1e-6)
    for a, b in zip(straight.model.variables, second.model.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, err_msg=a.path)
    for a, b in zip(straight.optimizer.variables, second.optimizer.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    steps = [json.loads(line)["step"] for line in (tmp_path / "split" / ckpt.METRICS_FILE).read_text().splitlines()]
    assert steps == sorted(steps)  # lines written after the checkpoint of a resumed run are not duplicated
    second.train(14)  # a second call in the same process adds a segment and its time
    state = json.loads((tmp_path / "split" / "latest" / ckpt.STATE_FILE).read_text())
    assert [seg["steps"] for seg in state["segments"]] == [[0, 6], [6, 12], [12, 14]]
    assert state["wall_time_s"] >= total  # rounded to 0.1 s: two tiny steps may not show
    assert state["wall_time_s"] == pytest.approx(sum(seg["wall_time_s"] for seg in state["segments"]), abs=0.2)


def test_the_hardware_line_names_every_machine_of_a_run() -> None:
    amd, pinned = "2 cores (AMD EPYC), no GPU", "1 of 2 cores (AMD EPYC), no GPU"
    assert summarize_hardware([{"steps": [0, 6], "hardware": amd}, {"steps": [6, 12], "hardware": amd}]) == amd
    assert summarize_hardware([{"steps": [8700, 10800], "hardware": pinned}, {"steps": [10800, 11700],
                                                                              "hardware": amd}]) == (
        f"{pinned} (steps 8700-10800); {amd} (steps 10800-11700)")


def test_checkpoints_hold_config_scale_factor_and_the_best_model(data: SketchData, tmp_path: Path) -> None:
    t = trainer(tiny(), data, tmp_path)
    t.write_run_files()
    t.train(10)
    assert HParams.load(tmp_path / "config.json") == t.hp
    assert HParams.from_json(t.hp.to_json()) == t.hp
    for which in (ckpt.LATEST, ckpt.BEST):
        folder = ckpt.checkpoint_dir(tmp_path, which)
        assert folder is not None
        info = json.loads((folder / ckpt.DATA_FILE).read_text())
        assert info["scale_factor"] == pytest.approx(data.scale_factor)
        assert info["max_seq_len"] == data.max_seq_len
        assert HParams.load(folder / ckpt.CONFIG_FILE) == t.hp
    state = json.loads((tmp_path / "latest" / ckpt.STATE_FILE).read_text())
    assert state["step"] == 10 and state["best_step"] in (5, 10)
    assert state["wall_time_s"] > 0 and "cores" in state["hardware"]  # the model card reports both
    loaded = ckpt.load_trained_model(tmp_path, "latest")
    for a, b in zip(t.model.trainable_variables, loaded.model.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert loaded.scale_factor == pytest.approx(data.scale_factor)


def test_the_best_checkpoint_is_chosen_by_the_official_evaluation_cost(data: SketchData, tmp_path: Path) -> None:
    """magenta's eval model weighs the floored KL by kl_weight_start (its KL weight variable is never fed)."""
    t = trainer(tiny(kl_weight_start=0.05, kl_tolerance=0.2), data, tmp_path)
    t.train(10)
    evals = [r for r in ckpt.read_metrics(tmp_path / ckpt.METRICS_FILE) if r["event"] == "eval"]
    assert [r["step"] for r in evals] == [5, 10]
    for r in evals:
        assert r["valid_cost"] == pytest.approx(r["valid_r_loss"] + 0.05 * max(r["valid_kl_loss"], 0.2))
    best = min(evals, key=lambda r: r["valid_cost"])
    state = json.loads((tmp_path / "latest" / ckpt.STATE_FILE).read_text())
    assert state["best_step"] == best["step"] and state["best_cost"] == pytest.approx(best["valid_cost"])
    assert state["best_rule"] == "L_R + kl_weight_start * max(L_KL, kl_tolerance)"

    # a run saved under the old rule (weight 1.0) is resumed with its best's cost recomputed under this one
    latest = tmp_path / "latest" / ckpt.STATE_FILE
    state.pop("best_rule")
    state["best_cost"] += 1.0
    latest.write_text(json.dumps(state))
    resumed = trainer(tiny(kl_weight_start=0.05, kl_tolerance=0.2), data, tmp_path)
    resumed.restore(tmp_path / "latest")
    assert resumed.best_cost == pytest.approx(best["valid_cost"])


def test_evaluation_is_repeatable_and_independent_of_batch_size(data: SketchData, tmp_path: Path) -> None:
    t = trainer(tiny(), data, tmp_path)
    a = t.evaluator.evaluate(data.splits["valid"], batch_size=7)
    b = t.evaluator.evaluate(data.splits["valid"], batch_size=30)
    assert a["sketches"] == b["sketches"] == 30
    for key in ("r_loss", "kl_loss", "offset_loss", "pen_loss"):
        assert a[key] == pytest.approx(b[key], rel=1e-5)
    assert t.evaluator.evaluate(data.splits["valid"]) == t.evaluator.evaluate(data.splits["valid"])


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(data: SketchData, tmp_path: Path) -> None:
    t = trainer(tiny(learning_rate=1e4, min_learning_rate=1e3, save_every=1), data, tmp_path)
    with pytest.raises(TrainingDiverged) as err:
        t.train(20)
    message = str(err.value)
    assert message.startswith("loss became ")
    kept = ckpt.checkpoint_dir(tmp_path, ckpt.LATEST)
    state = json.loads((kept / ckpt.STATE_FILE).read_text())
    assert f"at step {state['step'] + 1};" in message
    assert f"the last good checkpoint at step {state['step']} is kept" in message
    loaded = ckpt.load_trained_model(tmp_path, "latest")
    assert all(np.isfinite(v.numpy()).all() for v in loaded.model.trainable_variables)


def test_an_unconditional_model_trains_on_reconstruction_alone(data: SketchData, tmp_path: Path) -> None:
    t = trainer(tiny(conditional=False), data, tmp_path)
    metrics = t.train(3)
    assert metrics["kl_loss"] == 0.0 and metrics["loss"] == pytest.approx(metrics["r_loss"])
    assert ckpt.checkpoint_dir(tmp_path, ckpt.LATEST) is not None


def _fake_checkpoint(folder: Path, step: int) -> None:
    folder.mkdir()
    (folder / ckpt.STATE_FILE).write_text(json.dumps({"step": step}))
    (folder / f"{ckpt.CKPT_PREFIX}.index").write_text("index")


def test_a_swap_interrupted_between_its_renames_is_recovered(tmp_path: Path) -> None:
    _fake_checkpoint(tmp_path / ".latest.old", 4)  # killed after moving the old folder aside, before the new one
    assert ckpt.checkpoint_dir(tmp_path, ckpt.LATEST) == tmp_path / ".latest.old"
    ckpt.write_dir_atomically(tmp_path / "latest", lambda f: _fake_checkpoint_files(f, 5))
    assert json.loads((tmp_path / "latest" / ckpt.STATE_FILE).read_text())["step"] == 5
    assert not (tmp_path / ".latest.old").exists()


def _fake_checkpoint_files(folder: Path, step: int) -> None:
    (folder / ckpt.STATE_FILE).write_text(json.dumps({"step": step}))
    (folder / f"{ckpt.CKPT_PREFIX}.index").write_text("index")


def test_a_saturated_rho_on_padding_steps_leaves_the_loss_and_gradients_finite() -> None:
    """Trained models saturate tanh to |rho| = 1 on padding steps (seen on sheep_uncond at step 6600, which stopped
    its run with a NaN validation loss). Padding steps do not count in the offset term, so they must not poison it;
    the value on real points is unchanged, and the export's numpy L_R tool agrees."""
    from sketchgen.precision import step_loss
    from training.model import MixtureParams

    rng = np.random.default_rng(0)
    b, t, m = 3, 6, 4
    target = np.zeros((b, t, 5), np.float32)
    target[:, :4, :2] = rng.normal(0, 1, (b, 4, 2))
    target[:, :4, 2] = 1.0
    target[:, 4:, 4] = 1.0                                   # two padding steps per sketch
    corr = rng.normal(0, 1, (b, t, m)).astype(np.float32)
    corr_saturated = corr.copy()
    corr_saturated[:, 4:, 0] = 50.0                          # tanh(50) == 1.0 in float32
    raw = {k: tf.constant(rng.normal(0, 0.5, (b, t, m)).astype(np.float32)) for k in ("pi", "mx", "my", "sx", "sy")}
    pen = tf.constant(rng.normal(0, 1, (b, t, 3)).astype(np.float32))

    def loss_and_grads(c: np.ndarray):
        corr_t = tf.constant(c)
        with tf.GradientTape() as tape:
            tape.watch(corr_t)
            params = MixtureParams(raw["pi"], raw["mx"], raw["my"], tf.exp(raw["sx"]), tf.exp(raw["sy"]),
                                   tf.tanh(corr_t), pen)
            loss, offset, _ = reconstruction_loss(tf.constant(target), params, t)
        return float(loss), tape.gradient(loss, corr_t).numpy(), params

    clean, clean_grad, _ = loss_and_grads(corr)
    saturated, saturated_grad, params = loss_and_grads(corr_saturated)
    assert np.isfinite(saturated) and np.all(np.isfinite(saturated_grad))
    assert saturated == pytest.approx(clean, rel=1e-6)       # padding never counted; it still does not
    np.testing.assert_allclose(saturated_grad[:, :4], clean_grad[:, :4], rtol=1e-5, atol=1e-7)

    numpy_total = sum(step_loss({"pi": params.pi_logits.numpy()[:, s], "mu_x": params.mu_x.numpy()[:, s],
                                 "mu_y": params.mu_y.numpy()[:, s], "sigma_x": params.sigma_x.numpy()[:, s],
                                 "sigma_y": params.sigma_y.numpy()[:, s], "rho": params.rho.numpy()[:, s],
                                 "pen": params.pen_logits.numpy()[:, s]}, target[:, s]) for s in range(t))
    assert np.all(np.isfinite(numpy_total))
    assert float(numpy_total.mean() / t) == pytest.approx(saturated, rel=1e-4)
