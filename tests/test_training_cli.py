"""``sketchgen-train``: clear errors with status 2, a whole run on a generated .npz, resume, evaluate."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, random_stroke3

from sketchgen.datafiles import save_npz
from training import checkpoint as ckpt
from training.cli import build_evaluate_parser, build_train_parser, main
from training.evaluate import evaluate_experiment

TINY = "enc_rnn_size=16,dec_rnn_size=32,z_size=8,num_mixture=4,batch_size=20,save_every=4,eval_every=4"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    splits = {split: [random_stroke3(rng, n_points=int(rng.integers(5, 30)), n_strokes=2) for _ in range(n)]
              for split, n in (("train", 80), ("valid", 20), ("test", 20))}
    folder = tmp_path_factory.mktemp("data")
    save_npz(folder / "toy.npz", splits)
    return folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_unknown_hyperparameter_is_an_error_without_traceback(capsys, data_dir: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, "--data", "toy", "--data-dir", str(data_dir), "--experiment-dir", str(tmp_path),
                       "--hparams", "dec_rnn_sise=64")
    assert code == 2
    assert err.startswith("error: ") and "dec_rnn_sise" in err and "Traceback" not in err


def test_a_missing_data_file_names_it_and_says_how_to_download(capsys, data_dir: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, "--data", "cat", "--data-dir", str(data_dir), "--experiment-dir", str(tmp_path))
    assert code == 2
    assert str(data_dir / "cat.npz") in err and "sketchgen-data download cat" in err


def test_a_bad_config_file_is_an_error(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"batch_size": "many"}')
    code, _, err = run(capsys, "--config", str(bad), "--experiment-dir", str(tmp_path / "run"))
    assert code == 2 and str(bad) in err and "batch_size" in err
    (tmp_path / "broken.json").write_text("{not json")
    code, _, err = run(capsys, "--config", str(tmp_path / "broken.json"))
    assert code == 2 and "not valid JSON" in err


def test_the_module_entry_point_reports_errors_with_status_2(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "training", "--hparams", "learning_rate=-1",
                           "--experiment-dir", str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=120)
    assert proc.returncode == 2
    assert "error: " in proc.stderr and "learning_rate" in proc.stderr and "Traceback" not in proc.stderr


def test_sigterm_saves_the_step_it_stopped_at_and_resume_goes_on_from_there(data_dir: Path, tmp_path: Path) -> None:
    """A shutdown or ``kill`` (SIGTERM) stops a run like Ctrl-C: a checkpoint of the step it reached, not only of
    the last periodic save (every 1000 steps here, so a periodic save cannot be what is found)."""
    experiment = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "training", "--data", "toy", "--data-dir", str(data_dir),
                             "--experiment-dir", str(experiment), "--steps", "100000", "--log-every", "1",
                             "--no-tensorboard", "--quiet", "--hparams",
                             TINY.replace("save_every=4,eval_every=4", "save_every=1000,eval_every=1000")],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"})
    try:
        metrics = experiment / "metrics.jsonl"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if metrics.is_file() and sum('"train"' in line for line in metrics.read_text().splitlines()) >= 3:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted at step" in err and "--resume" in err and "Traceback" not in err
    stopped = int(err.split("interrupted at step ")[1].split(";")[0])
    state = json.loads((ckpt.checkpoint_dir(experiment, ckpt.LATEST) / ckpt.STATE_FILE).read_text())
    assert stopped >= 3 and state["step"] == stopped


def test_train_resume_and_evaluate_end_to_end(capsys, data_dir: Path, tmp_path: Path) -> None:
    common = ["--data", "toy", "--data-dir", str(data_dir), "--hparams", TINY, "--quiet"]
    code, out, err = run(capsys, *common, "--experiment-dir", str(tmp_path / "straight"), "--steps", "8")
    assert code == 0, err
    assert "80/20/20 train/valid/test" in out and "trained to step 8" in out

    split = tmp_path / "split"
    assert run(capsys, *common, "--experiment-dir", str(split), "--steps", "4")[0] == 0
    code, _, err = run(capsys, *common, "--experiment-dir", str(split), "--steps", "8")
    assert code == 2 and "--resume" in err  # never trains over an existing run by accident
    code, _, err = run(capsys, "--experiment-dir", str(split), "--resume", "--hparams", "dec_rnn_size=64")
    assert code == 2 and "dec_rnn_size" in err
    code, out, err = run(capsys, "--experiment-dir", str(split), "--resume", "--steps", "8", "--quiet")
    assert code == 0, err
    assert "resuming" in out and "at step 4" in out

    straight = ckpt.load_trained_model(tmp_path / "straight", "latest")
    resumed = ckpt.load_trained_model(split, "latest")
    assert straight.step == resumed.step == 8
    for a, b in zip(straight.model.trainable_variables, resumed.model.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)

    config = json.loads((split / "config.json").read_text())
    assert config["data_set"] == ["toy.npz"] and config["enc_rnn_size"] == 16
    data_info = json.loads((split / "data.json").read_text())
    assert data_info["scale_factor"] > 0 and data_info["data_sets"] == ["toy.npz"]

    code, out, err = run(capsys, "evaluate", str(split), "--split", "valid,test")
    assert code == 0, err
    assert "L_R" in out and "L_KL" in out and out.count("\nvalid") == 1 and out.count("\ntest") == 1
    results = evaluate_experiment(split, ("valid", "test"))
    assert set(results) >= {"valid", "test", "step", "checkpoint"}
    assert results["valid"]["sketches"] == 20 and np.isfinite(results["test"]["r_loss"])
    code, out, _ = run(capsys, "evaluate", str(split), "--json", "--checkpoint", "latest")
    assert code == 0 and json.loads(out)["step"] == 8


def test_epochs_and_unconditional_shortcuts(capsys, data_dir: Path, tmp_path: Path) -> None:
    code, out, err = run(capsys, "--data", str(data_dir / "toy.npz"), "--experiment-dir", str(tmp_path),
                         "--hparams", TINY, "--epochs", "1.5", "--unconditional", "--quiet")
    assert code == 0, err
    assert "unconditional" in out and "trained to step 6" in out  # 80 // 20 = 4 steps per epoch
    assert json.loads((tmp_path / "config.json").read_text())["conditional"] is False


def test_evaluate_on_a_folder_without_a_run_is_an_error(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "evaluate", str(tmp_path))
    assert code == 2 and str(tmp_path) in err and "checkpoint" in err


def test_the_snake_case_spellings_stay_aliases_of_the_kebab_case_flags() -> None:
    new = ["--data-dir", "d", "--experiment-dir", "e", "--bucket-pool", "3", "--log-every", "4",
           "--tensorboard-every", "5", "--init-from", "m", "--resume"]
    old = ["--data_dir", "d", "--log_root", "e", "--bucket_pool", "3", "--log_every", "4",
           "--tensorboard_every", "5", "--init_from", "m", "--resume_training"]
    parser = build_train_parser()
    assert vars(parser.parse_args(old)) == vars(parser.parse_args(new))
    assert parser.parse_args(["--experiment_dir", "e"]).experiment_dir == "e"
    assert build_evaluate_parser().parse_args(["run", "--data_dir", "d"]).data_dir == "d"
    assert "--data-dir" in parser.format_help() and "--data_dir" in parser.format_help()
