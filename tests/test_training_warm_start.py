"""``sketchgen-train --init-from MODEL``: a run that starts from an exported model folder's weights.

What a user relies on: the run begins with exactly the model's weights (checked against its ONNX graphs), at the
model's step, so the schedules go on; a resumed run keeps counting from there; the exported result says where it
came from; and a folder that does not fit gives a clear error.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from conftest import REPO_ROOT, write_toy_npz

pytest.importorskip("tensorflow")

from sketchgen.errors import ModelError
from training import checkpoint as ckpt
from training.cli import main

TINY = "enc_rnn_size=16,dec_rnn_size=32,z_size=8,num_mixture=4,batch_size=20,save_every=4,eval_every=4"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    write_toy_npz(folder / "toy.npz", seed=1)
    return folder


@pytest.fixture(scope="module")
def exported(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny conditional run trained 8 steps, and its export (fp32 only: quicker)."""
    from export.onnx_export import export_experiment

    root = tmp_path_factory.mktemp("warm")
    run_dir = root / "run"
    code = main(["--data", "toy", "--data-dir", str(data_dir), "--hparams", TINY, "--quiet", "--no-tensorboard",
                 "--experiment-dir", str(run_dir), "--steps", "8"])
    assert code == 0
    model_dir = export_experiment(run_dir, root / "model", which="latest", int8=False)
    return run_dir, model_dir


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_run_starts_with_the_models_exact_weights_and_step(capsys, data_dir: Path, exported, tmp_path) -> None:
    run_dir, model_dir = exported
    code, out, err = run(capsys, "--init-from", str(model_dir), "--data", "toy", "--data-dir", str(data_dir),
                         "--experiment-dir", str(tmp_path / "more"), "--steps", "12", "--quiet",
                         "--no-tensorboard", "--log-every", "1")
    assert code == 0, err
    assert "starting from" in out and "at step 8" in out and "trained to step 12" in out

    # the weights it started from are the original run's, read back from ONNX (gate order, both directions)
    from training.trainer import Trainer
    from training.warm_start import read_initial_model

    original = ckpt.load_trained_model(run_dir, "latest")
    initial = read_initial_model(model_dir)
    from training.dataset import load_sketch_data
    data = load_sketch_data(["toy"], data_dir, original.hparams.max_seq_len, scale=initial.scale_factor)
    trainer = Trainer(original.hparams, data, tmp_path / "probe")
    errors = trainer.start_from_model(initial, data.splits["valid"])
    assert set(errors) == {"encoder.onnx", "decoder_init.onnx", "decoder_step.onnx"}
    assert trainer.step == 8
    for want, got in zip(original.model.trainable_variables, trainer.model.trainable_variables):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6, err_msg=want.path)

    # the schedules go on from step 8; the learning rate ramps up from a fresh Adam state
    records = [json.loads(line) for line in (tmp_path / "more" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["event"] == "train"]
    assert [r["step"] for r in train] == [9, 10, 11, 12]
    from sketchgen.config import HParams
    from training.objective import INIT_FROM_WARMUP_STEPS
    hp = HParams.load(tmp_path / "more" / "config.json")
    lr8 = (hp.learning_rate - hp.min_learning_rate) * hp.decay_rate ** 8 + hp.min_learning_rate
    assert train[0]["lr"] == pytest.approx(lr8 / INIT_FROM_WARMUP_STEPS, rel=1e-4)
    kl8 = hp.kl_weight - (hp.kl_weight - hp.kl_weight_start) * hp.kl_decay_rate ** 8
    assert train[0]["kl_weight"] == pytest.approx(kl8, rel=1e-4)
    assert json.loads((tmp_path / "more" / "data.json").read_text())["scale_factor"] == pytest.approx(
        initial.scale_factor)


def test_resuming_keeps_counting_from_the_model_and_the_export_says_where_it_came_from(
        capsys, data_dir: Path, exported, tmp_path: Path) -> None:
    _, model_dir = exported
    more = tmp_path / "more"
    assert run(capsys, "--init-from", str(model_dir), "--data", "toy", "--data-dir", str(data_dir),
               "--experiment-dir", str(more), "--steps", "12", "--quiet", "--no-tensorboard")[0] == 0
    code, out, err = run(capsys, "--experiment-dir", str(more), "--resume", "--steps", "16", "--quiet",
                         "--no-tensorboard")
    assert code == 0, err
    assert "at step 12" in out and "trained to step 16" in out
    state = json.loads((more / "latest" / "state.json").read_text())
    assert state["step"] == 16 and state["init_from"]["steps_trained"] == 8

    from export.onnx_export import export_experiment
    card = json.loads((export_experiment(more, tmp_path / "model", which="latest", int8=False)
                       / "model.json").read_text())
    assert card["steps_trained"] == 16
    assert card["training"]["initialised_from"]["steps_trained"] == 8
    assert card["training"]["initialised_from"]["sha256"]["decoder_step.onnx"] == \
        json.loads((model_dir / "model.json").read_text())["files"]["decoder_step.onnx"]["sha256"]


def test_folders_that_do_not_fit_are_clear_errors(capsys, data_dir: Path, exported, tmp_path: Path) -> None:
    _, model_dir = exported
    common = ["--data", "toy", "--data-dir", str(data_dir), "--quiet", "--no-tensorboard"]
    code, _, err = run(capsys, "--init-from", str(model_dir), *common, "--experiment-dir", str(tmp_path / "a"),
                       "--steps", "20", "--hparams", "dec_rnn_size=64")
    assert code == 2 and "dec_rnn_size=64" in err and "Traceback" not in err
    code, _, err = run(capsys, "--init-from", str(model_dir), *common, "--experiment-dir", str(tmp_path / "b"),
                       "--steps", "8")
    assert code == 2 and "8 steps" in err and "--steps" in err
    code, _, err = run(capsys, "--init-from", str(model_dir), "--experiment-dir", str(tmp_path / "c"), "--resume")
    assert code == 2 and "--resume" in err

    altered = tmp_path / "altered"
    altered.mkdir()
    for f in model_dir.iterdir():
        (altered / f.name).write_bytes(f.read_bytes())
    step = altered / "decoder_step.onnx"
    step.write_bytes(step.read_bytes()[:-16] + bytes(16))
    code, _, err = run(capsys, "--init-from", str(altered), *common, "--experiment-dir", str(tmp_path / "d"),
                       "--steps", "20")
    assert code == 2 and str(step) in err and "sha256" in err
    assert not (tmp_path / "d" / "latest").exists()


@pytest.mark.parametrize("name", ["sheep", "sheep_uncond"])
def test_the_shipped_models_load_back_for_more_training(name: str) -> None:
    """The shipped folders hold all their weights: a Keras model rebuilt from them computes their ONNX graphs."""
    import keras

    from training.model import SketchRNN
    from training.warm_start import apply_and_verify, read_initial_model

    folder = REPO_ROOT / "assets" / "models" / name
    if not (folder / "model.json").is_file():
        pytest.skip(f"{folder} is not shipped")
    initial = read_initial_model(folder)
    keras.utils.set_random_seed(0)
    model = SketchRNN(initial.config)
    errors = apply_and_verify(initial, model)
    assert max(errors.values()) < 1e-4


def test_a_graph_whose_weights_do_not_match_is_refused(exported, tmp_path: Path) -> None:
    """Weights that do not reproduce the graph (as a wrong layout would give) stop the run before it starts."""
    import keras

    from training.model import SketchRNN
    from training.warm_start import apply_and_verify, read_initial_model

    _, model_dir = exported
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in model_dir.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    initial = read_initial_model(copy)
    # shift every gate bias by 0.5 in the weights read, as a wrong layout would
    initial.weights["decoder"]["bias"] = initial.weights["decoder"]["bias"] + 0.5
    keras.utils.set_random_seed(0)
    with pytest.raises(ModelError, match="decoder_step.onnx"):
        apply_and_verify(initial, SketchRNN(initial.config))
