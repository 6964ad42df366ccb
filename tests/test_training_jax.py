"""The model also runs on Keras's JAX backend: the same weights give the same loss, and the JAX step trains.

JAX is not a dependency of the project, so this runs only where it is installed: in this interpreter, or in the
Python named by SKETCHGEN_JAX_PYTHON (e.g. a separate virtualenv with jax and keras but no TensorFlow). The JAX side
runs in a subprocess because Keras picks its backend once per process.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO_ROOT, random_stroke3

from training.config import HParams
from training.dataset import make_batch
from training.model import SketchRNN, split_mixture
from training.objective import kl_loss, reconstruction_loss

JAX_PYTHON = os.environ.get("SKETCHGEN_JAX_PYTHON") or (sys.executable if importlib.util.find_spec("jax") else None)
pytestmark = pytest.mark.skipif(JAX_PYTHON is None, reason="jax is not installed (set SKETCHGEN_JAX_PYTHON to a "
                                                           "Python that has jax and keras)")
HP = dict(enc_rnn_size=16, dec_rnn_size=32, z_size=8, num_mixture=4, batch_size=12, max_seq_len=40, learning_rate=0.01)

_JAX_SIDE = r"""
import json, os, sys
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np, keras
from keras import ops
from training.config import HParams
from training.jax_step import JaxTrainStep
from training.model import SketchRNN, split_mixture
from training.objective import kl_loss, reconstruction_loss

hp = HParams(**json.loads(sys.argv[1]))
arrays = np.load(sys.argv[2])
model = SketchRNN(hp)
for i, v in enumerate(model.trainable_variables):
    v.assign(arrays[f"w{i}"])
strokes, lengths = arrays["strokes"], arrays["lengths"]
mu, logvar = model.encode(strokes[:, 1:], lengths)
raw = model.decode_sequence(strokes[:, :-1], mu)
r_loss = reconstruction_loss(strokes[:, 1:], split_mixture(raw, hp.num_mixture), hp.max_seq_len)[0]
step = JaxTrainStep(model, hp)
losses = [step(strokes, lengths)["loss"] for _ in range(15)]
print("RESULT " + json.dumps({"backend": keras.backend.backend(), "r_loss": float(r_loss),
                              "kl": float(kl_loss(mu, logvar)), "losses": losses}))
"""


def test_the_jax_backend_computes_the_same_loss_and_trains(tmp_path: Path) -> None:
    hp = HParams(**HP)
    tf.keras.utils.set_random_seed(0)
    model = SketchRNN(hp)
    rng = np.random.default_rng(0)
    sketches = [random_stroke3(rng, n_points=int(rng.integers(5, 30))) / np.float32([8, 8, 1]) for _ in range(12)]
    batch = make_batch(sketches, 32)
    mu, logvar = model.encode(batch.strokes[:, 1:], batch.lengths)
    raw = model.decode_sequence(batch.strokes[:, :-1], mu)
    r_loss = float(reconstruction_loss(batch.strokes[:, 1:], split_mixture(raw, hp.num_mixture), hp.max_seq_len)[0])
    weights = {f"w{i}": v.numpy() for i, v in enumerate(model.trainable_variables)}
    np.savez(tmp_path / "case.npz", strokes=batch.strokes, lengths=batch.lengths, **weights)
    proc = subprocess.run([JAX_PYTHON, "-c", _JAX_SIDE, json.dumps(HP), str(tmp_path / "case.npz")], cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads([line for line in proc.stdout.splitlines() if line.startswith("RESULT ")][-1][7:])
    assert result["backend"] == "jax"
    assert result["r_loss"] == pytest.approx(r_loss, rel=1e-5)
    assert result["kl"] == pytest.approx(float(kl_loss(mu, logvar)), abs=1e-8)  # ~1e-6 at init: cancellation
    losses = result["losses"]
    assert all(np.isfinite(losses)) and losses[-1] < 0.9 * losses[0]
