"""Scale-out: a run split across replicas (tf.distribute) follows the one-replica run at the same global batch.

Each scenario runs in a subprocess: the two logical CPU devices (MirroredStrategy) must be configured before
TensorFlow starts, and the multi-worker run needs two processes that talk over 127.0.0.1.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import MIRRORED_HPARAMS, MIRRORED_SCRIPT, REPO_ROOT, script_result, subprocess_env, write_toy_npz

# each is run on one replica and on two: plain; with recurrent dropout (masks drawn per replica); with no KL floor,
# so the KL term's gradients (L_KL ~ 1e-3 at init, under the default floor of 0.2) are summed across replicas
VARIANTS = {"plain": {"use_recurrent_dropout": False}, "dropout": {"use_recurrent_dropout": True},
            "kl_live": {"use_recurrent_dropout": False, "kl_tolerance": 0.0}}


_WORKER = r"""
import json, os, sys
import tensorflow as tf
strategy = tf.distribute.MultiWorkerMirroredStrategy() if os.environ.get("TF_CONFIG") else None
from sketchgen.config import HParams
from training.dataset import load_sketch_data
from training.trainer import TrainOptions, Trainer

data = load_sketch_data([sys.argv[1]], None, 60)
trainer = Trainer(HParams(**json.loads(sys.argv[2])), data, sys.argv[3], TrainOptions(progress=False),
                  strategy=strategy)
metrics = trainer.train(6)
print("RESULT " + json.dumps({"chief": trainer.is_chief, "replicas": trainer.replicas, "loss": metrics["loss"],
                              "weights": [float(v.numpy().sum()) for v in trainer.model.trainable_variables]}))
"""


@pytest.fixture(scope="module")
def toy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_npz(tmp_path_factory.mktemp("data") / "toy.npz", 0, (200, 30, 30), max_points=40, n_strokes=3)


def test_two_mirrored_replicas_follow_the_one_replica_run(toy_file: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT, str(toy_file), json.dumps(MIRRORED_HPARAMS),
                           json.dumps(VARIANTS)], cwd=REPO_ROOT, env=subprocess_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = script_result(proc.stdout)
    for variant in VARIANTS:  # dropout masks and z noise are the one-replica run's rows: exact either way
        one, two = result[f"one_{variant}"], result[f"two_{variant}"]
        assert one["replicas"] == 1 and two["replicas"] == 2
        for step, (a, b) in enumerate(zip(one["steps"], two["steps"])):
            for key in ("loss", "r_loss", "offset_loss", "pen_loss", "kl_loss", "lr", "kl_weight"):
                assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-7), (variant, step, key)
        for a, b in zip(one["weights"], two["weights"]):
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    plain, dropout, kl_live = (result[f"one_{variant}"] for variant in VARIANTS)
    assert dropout["steps"][-1]["loss"] != plain["steps"][-1]["loss"]
    # without the floor the loss is L_R + w_KL * L_KL, and the KL gradients changed the weights
    assert all(0 < s["kl_loss"] < 0.2 for s in kl_live["steps"])
    for step in kl_live["steps"]:
        assert step["loss"] == pytest.approx(step["r_loss"] + step["kl_weight"] * step["kl_loss"], rel=1e-6)
    assert kl_live["weights"][0] != plain["weights"][0]
    assert "does not split evenly across 2 replicas" in result["odd_batch"]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_local_workers_train_like_one_process(toy_file: Path, tmp_path: Path) -> None:
    hp = json.dumps(MIRRORED_HPARAMS)
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    procs = []
    for index in range(2):
        config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen([sys.executable, "-c", _WORKER, str(toy_file), hp, str(tmp_path / "multi")],
                                      cwd=REPO_ROOT, env=subprocess_env(TF_CONFIG=config), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    single = subprocess.run([sys.executable, "-c", _WORKER, str(toy_file), hp, str(tmp_path / "single")],
                            cwd=REPO_ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    outputs = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=300)
        finally:
            proc.kill()
        assert proc.returncode == 0, err[-3000:]
        outputs.append(script_result(out))
    assert single.returncode == 0, single.stderr[-3000:]
    alone = script_result(single.stdout)
    assert [o["chief"] for o in outputs] == [True, False] and all(o["replicas"] == 2 for o in outputs)
    for worker in outputs:
        assert worker["loss"] == pytest.approx(alone["loss"], rel=1e-5)
        np.testing.assert_allclose(worker["weights"], alone["weights"], rtol=1e-5, atol=1e-6)
    # only the chief writes the run: the same checkpoints as the single process
    assert sorted(p.name for p in (tmp_path / "multi").iterdir()) == ["best", "latest", "metrics.jsonl"]
    assert json.loads((tmp_path / "multi" / "latest" / "state.json").read_text())["step"] == 6
