"""Faults in training runs, with real ``sketchgen-train`` / ``sketchgen-export`` processes: a SIGKILL while a
checkpoint is being written, then a resume; resumes that cannot resume refuse (exit 2) and change nothing; damaged
checkpoints give a clean error in resume and in export."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import random_stroke3
from hostile import REPO_ROOT, assert_clean_error, run_script, script

from sketchgen.datafiles import save_npz
from training import checkpoint as ckpt

pytestmark = pytest.mark.slow

TINY = "enc_rnn_size=16,dec_rnn_size=32,z_size=8,num_mixture=4,batch_size=20,save_every=1,eval_every=1000"


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time: "touches nothing" is this, unchanged."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """A real training run, frozen (SIGSTOP) while its temporary checkpoint folder exists and then SIGKILLed.

    Returns the data folder, the experiment folder and the step of the complete checkpoint it left."""
    rng = np.random.default_rng(0)
    splits = {split: [random_stroke3(rng, n_points=int(rng.integers(5, 30)), n_strokes=2) for _ in range(n)]
              for split, n in (("train", 80), ("valid", 20), ("test", 20))}
    data_dir = tmp_path_factory.mktemp("data")
    save_npz(data_dir / "toy.npz", splits)
    experiment = tmp_path_factory.mktemp("runs") / "killed"
    proc = subprocess.Popen([script("sketchgen-train"), "--data", "toy", "--data_dir", str(data_dir),
                             "--experiment_dir", str(experiment), "--steps", "100000", "--hparams", TINY,
                             "--quiet", "--no-tensorboard", "--log_every", "1"],
                            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"})
    caught = False
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if ckpt.checkpoint_dir(experiment, ckpt.LATEST) is not None and list(experiment.glob(".latest.tmp-*")):
                proc.send_signal(signal.SIGSTOP)  # frozen where it is: mid-write if the folder is still there
                if list(experiment.glob(".latest.tmp-*")):
                    caught = True
                    break
                proc.send_signal(signal.SIGCONT)
            time.sleep(0.0005)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert caught, f"the run never wrote a checkpoint while watched: {err[-2000:]}"
    assert proc.returncode == -signal.SIGKILL
    step = json.loads((ckpt.checkpoint_dir(experiment, ckpt.LATEST) / ckpt.STATE_FILE).read_text())["step"]
    return data_dir, experiment, step


def test_sigkill_while_writing_a_checkpoint_then_resume(killed_run: tuple[Path, Path, int],
                                                         tmp_path: Path) -> None:
    _, killed, step = killed_run
    experiment = tmp_path / "run"
    shutil.copytree(killed, experiment)
    assert list(experiment.glob(".latest.tmp-*"))  # the half-written folder is there; the previous one is whole
    assert ckpt.checkpoint_dir(experiment, ckpt.LATEST) is not None and step >= 1

    ran = run_script("sketchgen-train", "--experiment_dir", experiment, "--resume", "--steps", str(step + 2),
                     "--quiet", "--no-tensorboard")
    assert ran.code == 0, ran.err[-3000:]
    assert f"resuming {experiment} at step {step}" in ran.out and f"trained to step {step + 2}" in ran.out
    assert not list(experiment.glob(".*.tmp-*"))  # the killed run's leftovers are gone
    state = json.loads((experiment / ckpt.LATEST / ckpt.STATE_FILE).read_text())
    assert state["step"] == step + 2


def _damaged_copy(killed: Path, tmp_path: Path, damage: str) -> Path:
    experiment = tmp_path / "run"
    shutil.copytree(killed, experiment, ignore=shutil.ignore_patterns(".latest.tmp-*"))
    latest = experiment / ckpt.LATEST
    if damage == "no ckpt.index":
        (latest / f"{ckpt.CKPT_PREFIX}.index").unlink()
    elif damage == "truncated ckpt.data":
        data = next(latest.glob(f"{ckpt.CKPT_PREFIX}.data-*"))
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 3])
    elif damage == "state.json without batcher":
        state = json.loads((latest / ckpt.STATE_FILE).read_text())
        del state["batcher"]
        (latest / ckpt.STATE_FILE).write_text(json.dumps(state))
    elif damage == "data.json without sources":
        info = json.loads((experiment / ckpt.DATA_FILE).read_text())
        del info["sources"]
        (experiment / ckpt.DATA_FILE).write_text(json.dumps(info))
    (experiment / "best").mkdir(exist_ok=True)  # a best/ the resume must not overwrite
    (experiment / "best" / "keep.txt").write_text("mine")
    return experiment


DAMAGE = {
    "no ckpt.index": "no complete 'latest' checkpoint",
    "truncated ckpt.data": "damaged or truncated",
    "state.json without batcher": "has no 'batcher'",
    "data.json without sources": "'sources' must list the run's data files",
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_resume_that_cannot_resume_refuses_and_touches_nothing(killed_run: tuple[Path, Path, int], tmp_path: Path,
                                                                  damage: str) -> None:
    experiment = _damaged_copy(killed_run[1], tmp_path, damage)
    before = _snapshot(experiment)
    assert (experiment / ckpt.METRICS_FILE).is_file()
    ran = run_script("sketchgen-train", "--experiment_dir", experiment, "--resume", "--quiet")
    assert_clean_error(ran, str(experiment), DAMAGE[damage])
    assert _snapshot(experiment) == before  # metrics.jsonl, best/, the checkpoint: all as they were


def test_export_of_a_truncated_checkpoint_is_a_clean_error(killed_run: tuple[Path, Path, int],
                                                           tmp_path: Path) -> None:
    experiment = _damaged_copy(killed_run[1], tmp_path, "truncated ckpt.data")
    shutil.rmtree(experiment / "best")
    ran = run_script("sketchgen-export", experiment, "--out", tmp_path / "model", "--checkpoint", "latest")
    assert_clean_error(ran, str(experiment / ckpt.LATEST), "damaged or truncated")
    assert not (tmp_path / "model").exists() and not list(tmp_path.glob(".model.*"))
