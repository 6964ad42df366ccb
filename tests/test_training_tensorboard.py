"""TensorBoard logs (scalars every few steps, evaluation numbers, a sample image) and the reference sampler."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import read_events, write_toy_npz

from training import checkpoint as ckpt
from training import sampling
from sketchgen.config import HParams
from training.dataset import SketchData, load_sketch_data
from training.model import SketchRNN
from training.tensorboard import IMAGE_TAG, LOG_DIR, tensorboard_hooks
from training.trainer import TrainOptions, Trainer

TINY = dict(enc_rnn_size=16, dec_rnn_size=32, z_size=8, num_mixture=4, batch_size=20, max_seq_len=40,
            save_every=4, eval_every=4)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> SketchData:
    path = write_toy_npz(tmp_path_factory.mktemp("data") / "toy.npz", 0, max_points=35, n_strokes=3)
    return load_sketch_data([str(path)], None, max_seq_len=40)




def train(data: SketchData, folder: Path, steps: int, every: int = 2) -> Trainer:
    trainer = Trainer(HParams(**TINY), data, folder, TrainOptions(progress=False),
                      hooks=tensorboard_hooks(folder, every=every))
    latest = ckpt.checkpoint_dir(folder, ckpt.LATEST)
    if latest is not None:
        trainer.restore(latest)
    trainer.train(steps)
    return trainer


def test_the_event_file_holds_losses_evaluations_and_a_sample_image(data: SketchData, tmp_path: Path) -> None:
    train(data, tmp_path, 8)
    events = read_events(tmp_path / LOG_DIR)
    for tag in ("train/L_R", "train/L_R_offsets", "train/L_R_pen", "train/L_KL", "train/loss",
                "train/learning_rate", "train/kl_weight"):
        assert [step for step, _ in events[tag]] == [2, 4, 6, 8], tag
    lr = [v for _, v in events["train/learning_rate"]]
    assert lr == sorted(lr, reverse=True) and lr[0] == pytest.approx(0.001, rel=1e-2)
    assert all(np.isfinite(v) and v > 0 for _, v in events["train/L_R"])
    for tag in ("valid/L_R", "valid/L_KL", "valid/cost", "test/L_R"):
        assert [step for step, _ in events[tag]][0] == 4, tag
    metrics = [line for line in (tmp_path / ckpt.METRICS_FILE).read_text().splitlines() if '"eval"' in line]
    assert str(round(events["valid/L_R"][0][1], 4))[:5] in metrics[0]  # the same number as metrics.jsonl
    images = events[IMAGE_TAG]
    assert [step for step, _ in images] == [4, 8]
    width, height, png = images[0][1]
    image = tf.io.decode_png(png).numpy()
    assert image.shape[:2] == (int(height), int(width)) == (3 * 128, 4 * 128)  # originals, reconstructions, samples
    assert image[:128, :, 3].min() == 255 and (image[:128, :, :3] < 128).any()  # ink on an opaque background


def test_a_resumed_run_drops_the_events_written_after_its_checkpoint(data: SketchData, tmp_path: Path) -> None:
    first = train(data, tmp_path, 6)  # checkpoint at step 4 (and 6, the last step)
    del first
    import shutil
    shutil.rmtree(tmp_path / "latest")
    shutil.copytree(tmp_path / "best", tmp_path / "latest")  # as if the run was killed after step 4's checkpoint
    train(data, tmp_path, 8)
    steps = [step for step, _ in read_events(tmp_path / LOG_DIR)["train/L_R"]]
    assert steps == [2, 4, 6, 8]  # step 6 once: the resumed run's, not twice


def _toy_model(conditional: bool = True) -> SketchRNN:
    tf.keras.utils.set_random_seed(3)
    return SketchRNN(HParams(**{**TINY, "conditional": conditional}))


def test_the_sampler_follows_decoder_step() -> None:
    model = _toy_model()
    z = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    greedy = sampling.decode(model, z, greedy=True, max_len=12)
    assert len(greedy) == 2 and all(s.shape[1] == 3 for s in greedy)
    # the first greedy point is the mean of the most likely component of the first decoder step
    h, c = model.initial_state(tf.constant(z))
    params, _, _ = model.decoder_step(tf.constant(np.tile([0, 0, 1, 0, 0], (2, 1)), tf.float32), tf.constant(z), h, c)
    best = params.pi_logits.numpy().argmax(-1)
    pen = params.pen_logits.numpy().argmax(-1)
    for row in range(2):
        if pen[row] != 2:
            assert greedy[row][0, 0] == pytest.approx(params.mu_x.numpy()[row, best[row]], abs=1e-5)
            assert greedy[row][0, 1] == pytest.approx(params.mu_y.numpy()[row, best[row]], abs=1e-5)
    assert [len(s) for s in greedy] == [len(s) for s in sampling.decode(model, z, greedy=True, max_len=12)]


def test_samples_are_repeatable_bounded_and_respond_to_temperature() -> None:
    model = _toy_model()
    a = sampling.sample(model, 3, temperature=0.5, max_len=30, seed=1)
    b = sampling.sample(model, 3, temperature=0.5, max_len=30, seed=1)
    assert len(a) == 3 and all(len(s) <= 30 for s in a)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    hot = sampling.sample(model, 3, temperature=1.0, max_len=30, seed=1)
    cold = sampling.sample(model, 3, temperature=0.01, max_len=30, seed=1)
    spread = lambda sketches: np.mean([np.abs(s[:, :2]).mean() for s in sketches if len(s)])  # noqa: E731
    assert not all(np.array_equal(x, y) for x, y in zip(hot, cold))
    assert spread(hot) > spread(cold)
    unconditional = sampling.sample(_toy_model(conditional=False), 2, max_len=10)
    assert len(unconditional) == 2 and all(len(s) <= 10 for s in unconditional)
    with pytest.raises(ValueError, match="temperature"):
        sampling.sample(model, 1, temperature=0.0)
