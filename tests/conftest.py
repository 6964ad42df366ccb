"""Fixtures shared by every test file: where the real data lives, and small random sketches to test with."""

from __future__ import annotations

import collections
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real data folder (../shared/data); tests that need it are skipped where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA


def random_stroke3(
    rng: np.random.Generator,
    n_points: int = 40,
    n_strokes: int = 3,
    step: float = 8.0,
    integer: bool = True,
) -> np.ndarray:
    """A valid stroke-3 sketch: ``n_strokes`` smooth random-walk strokes, ``n_points`` rows, last row pen 1.

    Integer offsets (like the npz files) by default so round trips can be compared exactly.
    """
    n_strokes = max(1, min(n_strokes, n_points))
    heading = np.cumsum(rng.normal(0.0, 0.4, n_points))
    lengths = step * (0.5 + rng.random(n_points))
    offsets = np.stack([np.cos(heading) * lengths, np.sin(heading) * lengths], axis=1)
    if integer:
        offsets = np.round(offsets)
    ends = np.sort(rng.choice(n_points - 1, size=n_strokes - 1, replace=False)) if n_strokes > 1 else []
    sketch = np.zeros((n_points, 3), dtype=np.float32)
    sketch[:, 0:2] = offsets
    sketch[ends, 2] = 1.0
    sketch[-1, 2] = 1.0
    return sketch


@pytest.fixture
def make_sketch() -> Callable[..., np.ndarray]:
    """Factory: ``make_sketch(seed=0, n_points=40, n_strokes=3, step=8.0, integer=True)`` -> stroke-3 float32."""

    def make(seed: int = 0, **kwargs: object) -> np.ndarray:
        return random_stroke3(np.random.default_rng(seed), **kwargs)  # type: ignore[arg-type]

    return make


def card_data(conditional: bool = True, **fields: object) -> dict:
    """A minimal valid model.json as a dict (the sizes of the tiny test models), with ``fields`` replaced.

    Folders built from it hold no graphs: for what reads cards (the picker, the gallery), not for loading."""
    from sketchgen.config import HParams
    from sketchgen.model_folder import build_card, required_files

    config = HParams(enc_rnn_size=16, dec_rnn_size=32, z_size=8, num_mixture=3, max_seq_len=40,
                     conditional=conditional)
    files = {name: {"sha256": "0" * 64, "bytes": 0} for name in required_files(conditional)}
    card = build_card(name="tiny", config=config, scale_factor=10.0, max_seq_len=40, files=files)
    card.update(fields)
    return card


# -- tiny sketch-rnn models for the export and engine tests (enc 16, dec 32, z 8, M 3): build, train briefly, export.
# TensorFlow is imported only when one is built, so an install without it still collects every test.

TINY = dict(enc_rnn_size=16, dec_rnn_size=32, z_size=8, num_mixture=3, max_seq_len=40, batch_size=16,
            use_recurrent_dropout=False)


def tiny_hparams(**overrides: object):
    from sketchgen.config import HParams

    return HParams.from_dict({**TINY, **overrides})


def sketch_set(seed: int, count: int, max_len: int = 40) -> list[np.ndarray]:
    """Pixel stroke-3 sketches: real sheep when the shared data is here (short ones), else random walks."""
    path = SHARED_DATA / "sketch-rnn-datasets" / "aaron_sheep.npz"
    if path.is_file():
        from sketchgen.datafiles import load_npz

        split = "train" if seed % 2 == 0 else "test"
        sketches = [s for s in load_npz(path)[split] if len(s) <= max_len]
        if len(sketches) >= count:
            return sketches[:count]
    rng = np.random.default_rng(seed)
    return [random_stroke3(rng, n_points=int(rng.integers(8, max_len + 1)), n_strokes=3) for _ in range(count)]


def batch5(sketches: list[np.ndarray], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised stroke-3 -> [B, max_len + 1, 5] with the start token, and lengths."""
    from sketchgen.model_folder import START_TOKEN
    from sketchgen.strokes import stroke3_to_stroke5

    body = np.stack([stroke3_to_stroke5(s, max_len) for s in sketches])
    start = np.tile(START_TOKEN, (len(sketches), 1, 1))
    return np.concatenate([start, body], axis=1), np.array([len(s) for s in sketches], np.int32)


def train_briefly(model, sketches: list[np.ndarray], steps: int = 25, seed: int = 0) -> list[float]:
    """A few Adam steps with training.objective's loss (KL weight 0.5): enough to move every weight."""
    import keras
    import tensorflow as tf

    from training.objective import compute_losses

    hp = model.hp
    optimizer = keras.optimizers.Adam(learning_rate=0.01)
    rng = np.random.default_rng(seed)

    @tf.function(reduce_retracing=True)
    def step(strokes, lengths):
        with tf.GradientTape() as tape:
            loss = compute_losses(strokes, model((strokes, lengths), training=True), hp, 0.5)["loss"]
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply([tf.clip_by_value(g, -1.0, 1.0) for g in grads], model.trainable_variables)
        return loss

    losses = []
    for _ in range(steps):
        chosen = [sketches[i] for i in rng.choice(len(sketches), size=min(hp.batch_size, len(sketches)),
                                                  replace=False)]
        strokes, lengths = batch5(chosen, hp.max_seq_len)
        losses.append(float(step(tf.constant(strokes), tf.constant(lengths))))
    return losses


class TinySetup:
    """A briefly trained tiny model, its data (pixel and normalised) and its scale factor."""

    def __init__(self, seed: int = 0, **overrides: object):
        import keras

        from sketchgen.strokes import normalize, scale_factor
        from training.model import SketchRNN

        self.hp = tiny_hparams(seed=seed, **overrides)
        self.train_pixels = sketch_set(seed * 2, 64, self.hp.max_seq_len)
        self.test_pixels = sketch_set(seed * 2 + 1, 24, self.hp.max_seq_len)
        self.scale = scale_factor(self.train_pixels)
        self.train = [normalize(s, self.scale) for s in self.train_pixels]
        self.test = [normalize(s, self.scale) for s in self.test_pixels]
        keras.utils.set_random_seed(seed)  # the LSTM kernels' initialisers have no seed of their own
        self.model = SketchRNN(self.hp)
        self.losses = train_briefly(self.model, self.train, seed=seed)

    def export(self, out: Path, **kwargs: object) -> Path:
        from export.onnx_export import export_model

        kwargs.setdefault("real_sketches", self.test)
        return export_model(self.model, out, scale_factor=self.scale, **kwargs)


def write_toy_npz(path: Path, seed: int = 0, counts: tuple[int, int, int] = (80, 20, 20), max_points: int = 30,
                  n_strokes: int = 2) -> Path:
    """A small sketch-rnn .npz of random-walk sketches (train, valid, test: ``counts``) for the training tests; the
    same arguments write the same file."""
    from sketchgen.datafiles import save_npz

    rng = np.random.default_rng(seed)
    splits = {split: [random_stroke3(rng, n_points=int(rng.integers(5, max_points)), n_strokes=n_strokes)
                      for _ in range(n)]
              for split, n in zip(("train", "valid", "test"), counts)}
    save_npz(path, splits)
    return path


def tiny_model_folder(out: Path, conditional: bool = True, seed: int = 0, int8: bool = True,
                      scale_factor: float = 10.0, end_bias: float = -3.0) -> Path:
    """A tiny model folder (the TINY sizes) from random weights of a realistic scale, built like an imported model:
    the graphs from :mod:`sketchgen.graphs`, the card by :mod:`sketchgen.model_folder`; no TensorFlow.

    ``end_bias`` is the end-of-sketch pen logit's bias (at -3 about one sketch in four ends before its 40th point).
    With ``int8`` the folder also holds the int8 encoder and sampler, marked verified (as a good export marks them).
    """
    from sketchgen.graphs import (DecoderWeights, EncoderWeights, build_encoder, build_init, build_prime,
                                  build_sampler, build_step)
    from sketchgen.model_folder import (DECODER_INIT, DECODER_PRIME, DECODER_SAMPLE, DECODER_SAMPLE_INT8,
                                        DECODER_STEP, ENCODER, ENCODER_INT8, build_card, file_entries, write_card)

    rng = np.random.default_rng(seed)
    hp = tiny_hparams(conditional=conditional, seed=seed)
    h, he, m = hp.dec_rnn_size, hp.enc_rnn_size, hp.num_mixture
    nz = hp.z_size if conditional else 0

    def normal(scale: float, *shape: int) -> np.ndarray:
        return rng.normal(0.0, scale, shape).astype(np.float32)

    out_bias = normal(0.3, 6 * m + 3)
    out_bias[2] = end_bias  # the pen logits come first: p1, p2, p3 (end of sketch)
    out_bias[3 + 3 * m:3 + 5 * m] -= 1.5  # log sigma_x, log sigma_y: spreads of a trained model's size
    decoder = DecoderWeights(kernel=normal(0.3, 5 + nz, 4 * h), recurrent_kernel=normal(0.25, h, 4 * h),
                             bias=normal(0.1, 4 * h), ln_gamma=None, ln_beta=None, out_kernel=normal(0.3, h, 6 * m + 3),
                             out_bias=out_bias, num_mixture=m, z_size=nz)
    graphs = {DECODER_STEP: build_step(decoder, "fp32"), DECODER_PRIME: build_prime(decoder),
              DECODER_SAMPLE: build_sampler(decoder, "fp32")}
    if conditional:
        encoder = EncoderWeights(kernels=(normal(0.3, 5, 4 * he), normal(0.3, 5, 4 * he)),
                                 recurrent_kernels=(normal(0.25, he, 4 * he), normal(0.25, he, 4 * he)),
                                 biases=(normal(0.1, 4 * he), normal(0.1, 4 * he)),
                                 mu=(normal(0.07, 2 * he, nz), normal(0.1, nz)),
                                 logvar=(normal(0.07, 2 * he, nz), normal(0.1, nz) - 1.0))
        graphs[ENCODER] = build_encoder(encoder, "fp32")
        graphs[DECODER_INIT] = build_init(h, normal(0.3, nz, 2 * h), normal(0.1, 2 * h))
    else:
        graphs[DECODER_INIT] = build_init(h)
    precision: dict = {"default": "fp32", "int8": None}
    if int8:
        graphs[DECODER_SAMPLE_INT8] = build_sampler(decoder, "int8", scales="column")
        files = [DECODER_SAMPLE_INT8]
        if conditional:
            graphs[ENCODER_INT8] = build_encoder(encoder, "int8")
            files.insert(0, ENCODER_INT8)
        precision = {"default": "int8", "int8": {"files": files, "verified": True, "scales": "column"}}
    out.mkdir(parents=True)
    for name, proto in graphs.items():
        (out / name).write_bytes(proto.SerializeToString())
    write_card(out, build_card(name=out.name, config=hp, scale_factor=scale_factor, max_seq_len=hp.max_seq_len,
                               files=file_entries(out, sorted(graphs)), precision=precision,
                               datasets=[{"name": "random weights", "license": None}],
                               training={"steps_trained": 0, "note": "random weights: built for tests"}))
    return out


TRAINING_TINY = dict(enc_rnn_size=16, dec_rnn_size=32, z_size=8, num_mixture=4, batch_size=20, max_seq_len=60,
                     save_every=5, eval_every=5)


def toy_sketch_data(tmp_path_factory: pytest.TempPathFactory):
    """The training loop's data: 200 / 30 / 30 random-walk sketches of up to 40 points, N_max 60."""
    from training.dataset import load_sketch_data

    path = write_toy_npz(tmp_path_factory.mktemp("data") / "toy.npz", 0, (200, 30, 30), max_points=40, n_strokes=3)
    return load_sketch_data([str(path)], None, max_seq_len=60)


# -- training runs in subprocesses (replicas and the JAX backend must be set up before TensorFlow or Keras starts) ----

JAX_PYTHON = os.environ.get("SKETCHGEN_JAX_PYTHON") or (sys.executable if importlib.util.find_spec("jax") else None)

MIRRORED_HPARAMS = dict(enc_rnn_size=16, dec_rnn_size=32, z_size=8, num_mixture=4, batch_size=20, max_seq_len=60,
                        save_every=3, eval_every=3)
# one, then two MirroredStrategy replicas (two logical CPUs) train each variant: argv data file, hparams, variants
MIRRORED_SCRIPT = r"""
import json, sys, tempfile
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from sketchgen.config import HParams
from training.dataset import load_sketch_data
from training.trainer import TrainOptions, Trainer
from sketchgen.errors import ConfigError

data = load_sketch_data([sys.argv[1]], None, 60)
result = {}
for variant, overrides in json.loads(sys.argv[3]).items():
    hp = HParams(**{**json.loads(sys.argv[2]), **overrides})
    for name, strategy in (("one", None), ("two", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))):
        trainer = Trainer(hp, data, tempfile.mkdtemp(), TrainOptions(progress=False), strategy=strategy)
        losses = []
        for _ in range(10):
            batch = trainer.batcher.next_batch()
            losses.append(trainer.train_step(batch.strokes, batch.lengths))
        result[f"{name}_{variant}"] = {"replicas": trainer.replicas, "steps": losses,
                                      "weights": [v.numpy().tolist() for v in trainer.model.trainable_variables]}
try:
    Trainer(HParams(**{**json.loads(sys.argv[2]), "batch_size": 21}), data, tempfile.mkdtemp(),
            strategy=tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    result["odd_batch"] = "accepted"
except ConfigError as exc:
    result["odd_batch"] = str(exc)
print("RESULT " + json.dumps(result))
"""

JAX_HP = dict(enc_rnn_size=16, dec_rnn_size=32, z_size=8, num_mixture=4, batch_size=12, max_seq_len=40,
              learning_rate=0.01, use_recurrent_dropout=False)
JAX_NARROW_LOGVAR = -60.0  # sigma = e^-30: z is mu to float32 precision, whatever noise either backend draws
JAX_METRICS = ("loss", "r_loss", "offset_loss", "pen_loss", "kl_loss", "kl_weight", "lr")
# one JaxTrainStep update from saved weights and batch: argv hparams, case.npz, weights out, further steps
JAX_SCRIPT = r"""
import json, os, sys
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np, keras
from sketchgen.config import HParams
from training.jax_step import JaxTrainStep
from training.model import SketchRNN

hp = HParams(**json.loads(sys.argv[1]))
arrays = np.load(sys.argv[2])
model = SketchRNN(hp)
for i, v in enumerate(model.trainable_variables):
    v.assign(arrays[f"w{i}"])
step = JaxTrainStep(model, hp)
first = step(arrays["strokes"], arrays["lengths"])
np.savez(sys.argv[3], **{f"w{i}": np.asarray(v.value) for i, v in enumerate(model.trainable_variables)})
losses = [first["loss"]] + [step(arrays["strokes"], arrays["lengths"])["loss"] for _ in range(int(sys.argv[4]))]
print("RESULT " + json.dumps({"backend": keras.backend.backend(), "first": first, "losses": losses}))
"""


def jax_update(hp_values: dict, trainer, batch, folder: Path, steps: int, timeout: float = 300) -> tuple[dict, list]:
    """Run JAX_SCRIPT on ``trainer``'s current weights and ``batch``: its RESULT (backend, first metrics, losses over
    ``steps`` more updates; new weights in folder/jax_weights.npz) and the weights it started from."""
    before = [v.numpy() for v in trainer.model.trainable_variables]
    np.savez(folder / "case.npz", strokes=batch.strokes, lengths=batch.lengths,
             **{f"w{i}": w for i, w in enumerate(before)})
    proc = subprocess.run([JAX_PYTHON, "-c", JAX_SCRIPT, json.dumps(hp_values), str(folder / "case.npz"),
                           str(folder / "jax_weights.npz"), str(steps)], cwd=REPO_ROOT, env=subprocess_env(),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return script_result(proc.stdout), before


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a training subprocess: this checkout first on the path, TensorFlow quiet."""
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def script_result(output: str) -> dict:
    """The JSON a subprocess printed on its last ``RESULT `` line."""
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert lines, output[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def read_events(log_dir: Path) -> dict[str, list[tuple[int, object]]]:
    """tag -> [(step, value)]: floats for scalars, the PNG bytes for images (read back as TensorBoard does)."""
    import tensorflow as tf

    found: dict[str, list] = collections.defaultdict(list)
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                array = tf.make_ndarray(value.tensor)
                plugin = value.metadata.plugin_data.plugin_name
                found[value.tag].append((event.step, float(array) if plugin == "scalars" else array))
    return found


# -- the app in a real process ------------------------------------------------------------------------------------

def run_app(script: str, home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``script`` (dedented) in a fresh headless Python with ``home`` as $SKETCHGEN_HOME and ``args`` as argv."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SKETCHGEN_HOME=str(home), PYTHONPATH=str(REPO_ROOT))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )


# the app started by its own main(): prints a JSON report once its window painted and the model loaded
APP_PROBE = """
    import time
    t0 = time.perf_counter()
    import json, sys
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    report = {}

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint and type(obj).__name__ == "MainWindow" and "paint_s" not in report:
                report["paint_s"] = time.perf_counter() - t0
                QTimer.singleShot(300, finish)  # let start-up (autosave, FILE, model discovery) run
            return False

    def finish():
        window = next(w for w in app.topLevelWidgets() if type(w).__name__ == "MainWindow")
        if window.models.loading is not None and time.perf_counter() - t0 < 30:
            QTimer.singleShot(50, finish)  # the model loads on the worker thread: wait for it
            return
        report["model"] = window.model.name if window.model is not None else None
        report["strokes"] = len(window.document)
        report["title"] = window.windowTitle()
        report["tensorflow"] = "tensorflow" in sys.modules
        report["status"] = window.statusBar().currentMessage() + " | " + window.model_label.text()
        report["errors"] = [window.last_error_box.text()] if window.last_error_box else []
        report["suggestions"] = window.draw_view.panel.status.text()
        report["cells_shown"] = window.draw_view.panel.grid.isVisibleTo(window)
        print(json.dumps(report))
        window.close()
        app.quit()

    probe = FirstPaint()
    app.installEventFilter(probe)
    from desktop.app import main
    sys.exit(main(sys.argv[1:]))
"""
