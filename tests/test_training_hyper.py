"""dec_model=hyper end to end on tiny sizes: the config checks it, it trains, resumes exactly, runs on two mirrored
replicas and on the JAX backend like the TensorFlow step, and the run names its cell."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import (JAX_HP, JAX_METRICS, JAX_NARROW_LOGVAR, JAX_PYTHON, MIRRORED_HPARAMS,
                      MIRRORED_SCRIPT, REPO_ROOT, TRAINING_TINY, random_stroke3, read_events, script_result,
                      jax_update, subprocess_env, toy_sketch_data, write_toy_npz)

from sketchgen.errors import ConfigError
from training import checkpoint as ckpt
from sketchgen.config import HParams
from training.dataset import SketchData
from training.trainer import TrainOptions, Trainer

HYPER = dict(TRAINING_TINY, dec_model="hyper", hyper_num_units=8, hyper_embedding_size=4)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> SketchData:
    return toy_sketch_data(tmp_path_factory)


def hyper(**overrides) -> HParams:
    return HParams(**{**HYPER, **overrides})


def trainer(hp: HParams, data: SketchData, folder: Path) -> Trainer:
    tf.keras.utils.set_random_seed(hp.seed)
    return Trainer(hp, data, folder, TrainOptions(progress=False, log_every=1))


def test_the_config_takes_the_official_names_and_refuses_bad_sizes() -> None:
    hp = HParams().with_overrides("dec_model=hyper")
    assert (hp.hyper_num_units, hp.hyper_embedding_size, hp.hyper_use_recurrent_dropout) == (256, 32, False)
    assert hp.decoder_state_size == 512 + 256 and HParams().decoder_state_size == 512
    with pytest.raises(ConfigError, match=r"hyper_num_units \(600\) must not exceed dec_rnn_size \(512\)"):
        HParams().with_overrides("dec_model=hyper,hyper_num_units=600")
    with pytest.raises(ConfigError, match="hyper_embedding_size must be a positive integer, got 0"):
        HParams().with_overrides("dec_model=hyper,hyper_embedding_size=0")
    with pytest.raises(ConfigError, match="a hyper encoder is not offered"):
        HParams().with_overrides("enc_model=hyper")
    assert HParams(dec_rnn_size=32).dec_rnn_size == 32  # the hyper size only binds a hyper decoder


def test_the_cli_refuses_bad_hyper_sizes_before_training(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "training", "--data", str(tmp_path / "absent.npz"),
                           "--experiment-dir", str(tmp_path / "run"),
                           "--hparams", "dec_model=hyper,dec_rnn_size=128"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "hyper_num_units (256) must not exceed dec_rnn_size (128)" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "run").exists()


def test_a_hyper_decoder_learns_and_resumes_exactly(data: SketchData, tmp_path: Path) -> None:
    hp = hyper(hyper_use_recurrent_dropout=True)  # main and hyper masks both drawn
    straight = trainer(hp, data, tmp_path / "straight")
    last = straight.train(12)
    losses = [r["loss"] for r in ckpt.read_metrics(tmp_path / "straight" / ckpt.METRICS_FILE) if r["event"] == "train"]
    assert np.isfinite(last["loss"]) and last["loss"] < losses[0]
    state_size = hp.dec_rnn_size + hp.hyper_num_units
    assert straight.model.init_head.kernel.shape == (hp.z_size, 2 * state_size)

    trainer(hp, data, tmp_path / "split").train(6)
    resumed = trainer(hp, data, tmp_path / "split")  # fresh objects, as a new process would build them
    resumed.restore(ckpt.checkpoint_dir(tmp_path / "split", ckpt.LATEST))
    assert resumed.step == 6
    assert resumed.train(12)["loss"] == pytest.approx(last["loss"], abs=1e-6)
    for a, b in zip(straight.model.variables, resumed.model.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, err_msg=a.path)


def test_two_mirrored_replicas_follow_one_with_a_hyper_decoder(tmp_path: Path) -> None:
    path = write_toy_npz(tmp_path / "toy.npz", 0, (100, 20, 20), max_points=40, n_strokes=3)
    variants = {"hyper_dropout": {"dec_model": "hyper", "hyper_num_units": 8, "hyper_embedding_size": 4,
                                  "use_recurrent_dropout": True, "hyper_use_recurrent_dropout": True}}
    proc = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT, str(path), json.dumps(MIRRORED_HPARAMS),
                           json.dumps(variants)], cwd=REPO_ROOT, env=subprocess_env(), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = script_result(proc.stdout)
    one, two = result["one_hyper_dropout"], result["two_hyper_dropout"]
    assert (one["replicas"], two["replicas"]) == (1, 2)
    for a, b in zip(one["steps"], two["steps"]):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)
    for a, b in zip(one["weights"], two["weights"]):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_one_jax_update_of_a_hyper_decoder_equals_the_tensorflow_update(tmp_path: Path) -> None:
    """As tests/test_training_jax.py, with dec_model=hyper: the cell's keras.ops run the same on both backends."""
    from training.dataset import make_batch

    if JAX_PYTHON is None:
        pytest.skip("jax is not installed")
    hp_values = {**JAX_HP, "dec_model": "hyper", "hyper_num_units": 8, "hyper_embedding_size": 4}
    rng = np.random.default_rng(0)
    sketches = [random_stroke3(rng, n_points=int(rng.integers(5, 30))) / np.float32([8, 8, 1]) for _ in range(12)]
    data = SketchData(splits={"train": sketches, "valid": sketches, "test": sketches}, scale_factor=1.0,
                      max_seq_len=JAX_HP["max_seq_len"], requested_max_seq_len=JAX_HP["max_seq_len"])
    t = trainer(HParams(**hp_values), data, tmp_path / "run")
    t.model.logvar_head.kernel.assign(np.zeros(t.model.logvar_head.kernel.shape, np.float32))
    t.model.logvar_head.bias.assign(np.full(t.model.logvar_head.bias.shape, JAX_NARROW_LOGVAR, np.float32))
    batch = make_batch(sketches, 32)
    result, _ = jax_update(hp_values, t, batch, tmp_path, 3, timeout=600)
    assert result["backend"] == "jax"
    tf_metrics = t.train_step(batch.strokes, batch.lengths)
    for key in JAX_METRICS:
        assert result["first"][key] == pytest.approx(tf_metrics[key], rel=1e-5, abs=1e-7), key
    jax_weights = np.load(tmp_path / "jax_weights.npz")
    for i, variable in enumerate(t.model.trainable_variables):
        np.testing.assert_allclose(jax_weights[f"w{i}"], variable.numpy(), rtol=0, atol=1e-3 * JAX_HP["learning_rate"],
                                   err_msg=variable.path)
    assert any("hyper_kernel" in v.path for v in t.model.trainable_variables)


def test_tensorboard_names_the_cell(data: SketchData, tmp_path: Path) -> None:
    from training.tensorboard import LOG_DIR, MODEL_TAG, tensorboard_hooks

    hp = hyper(eval_every=100, save_every=100)
    Trainer(hp, data, tmp_path, TrainOptions(progress=False), hooks=tensorboard_hooks(tmp_path, images=False)).train(1)
    (step, text), = read_events(tmp_path / LOG_DIR)[MODEL_TAG]
    assert step == 0 and text.item().decode() == "decoder: HyperLSTM 32 (layer norm; hyper LSTM 8, embedding 4)"
