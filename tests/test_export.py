"""sketchgen-export: the model folder it writes, parity with TensorFlow, atomicity, and its command line."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
onnx = pytest.importorskip("onnx")

import onnxruntime as ort
from conftest import TinySetup, batch5, sketch_set, tiny_hparams

from export import parity
from export.model_card import dataset_entry
from export.onnx_export import export_model
from sketchgen.errors import SketchGenError
from sketchgen.fileio import sha256_file
from training.model import SketchRNN

GRAPHS = ("encoder.onnx", "encoder_int8.onnx", "decoder_init.onnx", "decoder_step.onnx", "decoder_prime.onnx",
          "decoder_sample.onnx",
          "decoder_sample_int8.onnx")


@pytest.fixture(scope="module")
def trained() -> TinySetup:
    return TinySetup(seed=1)


@pytest.fixture(scope="module")
def folder(trained: TinySetup, tmp_path_factory) -> Path:
    return trained.export(tmp_path_factory.mktemp("models") / "tiny", data_sets=["aaron_sheep.npz"],
                          training={"steps_trained": 25, "hardware": "test", "wall_time_s": 1.5},
                          losses={"valid_L_R": 1.0, "valid_L_KL": 0.2, "test_L_R": 1.1, "test_L_KL": 0.3})


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _ops(model: onnx.ModelProto) -> list[str]:
    found = []

    def walk(graph):
        for node in graph.node:
            found.append(node.op_type)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)

    walk(model.graph)
    return found


def test_folder_holds_every_graph_and_a_complete_card(folder: Path, trained: TinySetup) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(GRAPHS + ("model.json",))
    umask = os.umask(0o022)
    os.umask(umask)
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask  # a normal folder, not mkdtemp's private one
    card = json.loads((folder / "model.json").read_text())
    assert card["config"] == trained.hp.to_dict()
    assert card["scale_factor"] == pytest.approx(trained.scale)
    assert card["max_seq_len"] == trained.hp.max_seq_len
    assert card["datasets"][0]["name"] == "aaron_sheep"
    assert card["datasets"][0]["license"] == "CC BY-NC 4.0" and "Aaron Koblin" in card["datasets"][0]["attribution"]
    assert card["steps_trained"] == 25 and card["training"]["hardware"] == "test"
    assert card["losses"]["test_L_R"] == 1.1
    assert card["export"]["opset"] == 17
    assert set(card["export"]["tools"]) >= {"tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"}
    assert all(card["export"]["tools"][t] for t in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"))
    for name in GRAPHS:
        assert card["files"][name]["sha256"] == sha256_file(folder / name)
    assert max(card["export"]["parity"]["max_abs_error"].values()) <= 1e-4
    assert card["export"]["real_sketches_checked"] is True
    int8 = card["precision"]["int8"]
    assert abs(int8["delta_nats"]) <= 0.01 and int8["verified"] is True  # measured on the test sketches
    assert int8["int8_graphs"] == ["decoder_step", "encoder"]
    assert card["export"]["parity"]["max_abs_error"]["encoder_int8.onnx (its fp32 twin)"] <= 1e-4


def test_graphs_pass_the_checker_and_the_encoder_is_native_lstm(folder: Path) -> None:
    for name in GRAPHS:
        onnx.checker.check_model(onnx.load(str(folder / name)))
    ops = _ops(onnx.load(str(folder / "encoder.onnx")))
    assert ops.count("LSTM") == 2
    assert "Loop" not in ops and "Scan" not in ops
    prime = _ops(onnx.load(str(folder / "decoder_prime.onnx")))
    assert prime.count("LSTM") == 1 and "Loop" not in prime
    assert _ops(onnx.load(str(folder / "decoder_sample.onnx"))).count("Loop") == 1
    int8_encoder = _ops(onnx.load(str(folder / "encoder_int8.onnx")))
    assert int8_encoder.count("DynamicQuantizeLSTM") == 1 and "Loop" not in int8_encoder


def test_graphs_match_tensorflow_on_fresh_real_and_random_sketches(folder: Path, trained: TinySetup) -> None:
    """Independent of the export's own checks: new sketches, new states."""
    model, hp = trained.model, trained.hp
    rng = np.random.default_rng(42)
    real = [s for s in trained.train[:6]]
    strokes, lengths = batch5(real, hp.max_seq_len)
    target = strokes[:, 1:]
    random_case = parity.random_strokes(rng, [3, 17, 40, 1])
    for x, n in ((target, lengths), (random_case.strokes, random_case.lengths)):
        mu, logvar = _session(folder / "encoder.onnx").run(["mu", "logvar"], {"strokes": x, "lengths": n})
        tf_mu, tf_logvar = model.encode(x, n)
        assert np.abs(mu - np.asarray(tf_mu)).max() <= 1e-4
        assert np.abs(logvar - np.asarray(tf_logvar)).max() <= 1e-4
    z = rng.normal(size=(len(real), hp.z_size)).astype(np.float32)
    h, c = _session(folder / "decoder_init.onnx").run(["h", "c"], {"z": z})
    tf_h, tf_c = model.initial_state(z)
    assert np.abs(h - np.asarray(tf_h)).max() <= 1e-4 and np.abs(c - np.asarray(tf_c)).max() <= 1e-4
    step = _session(folder / "decoder_step.onnx")
    for t in range(6):  # teacher forcing along the real sketches
        out = dict(zip([o.name for o in step.get_outputs()],
                       step.run(None, {"x": strokes[:, t], "z": z, "h": h, "c": c})))
        p, tf_h, tf_c = model.decoder_step(strokes[:, t], z, h, c)
        for name, want in (("pi", p.pi_logits), ("mu_x", p.mu_x), ("mu_y", p.mu_y), ("sigma_x", p.sigma_x),
                           ("sigma_y", p.sigma_y), ("rho", p.rho), ("pen", p.pen_logits), ("h_out", tf_h),
                           ("c_out", tf_c)):
            assert np.abs(out[name] - np.asarray(want)).max() <= 1e-4, name
        h, c = out["h_out"], out["c_out"]


def test_a_mismatch_fails_loudly_and_writes_nothing(tmp_path: Path) -> None:
    """A diverged model (NaN weights) is refused: an error naming the weight, no folder, no temporary left."""
    model = SketchRNN(tiny_hparams())
    kernel = model.output_head.kernel
    kernel.assign(np.full(kernel.shape, np.nan, np.float32))
    with pytest.raises(parity.ExportError, match="decoder_output/kernel.*NaN"):
        export_model(model, tmp_path / "broken", scale_factor=10.0)
    assert list(tmp_path.iterdir()) == []


def test_a_parity_failure_fails_loudly_and_writes_nothing(tmp_path: Path) -> None:
    """Weights so large (std 1e5) that float32 rounding differences between TensorFlow and ONNX Runtime exceed
    1e-4 in mu: a real mismatch. ParityError names graph and output; the target folder was never created."""
    model = SketchRNN(tiny_hparams())
    kernel = model.mu_head.kernel
    kernel.assign(np.random.default_rng(0).normal(0, 1e5, kernel.shape).astype(np.float32))
    with pytest.raises(parity.ParityError, match=r"encoder\.onnx: output 'mu' differs from TensorFlow by"):
        export_model(model, tmp_path / "loose", scale_factor=10.0)
    assert list(tmp_path.iterdir()) == []


def test_compare_names_graph_output_and_size_of_a_mismatch() -> None:
    report = parity.ParityReport()
    parity.compare(report, "g.onnx", "case", {"y": np.zeros(3)}, {"y": np.full(3, 5e-5)})
    with pytest.raises(parity.ParityError, match=r"g\.onnx: output 'y' differs from TensorFlow by 0\.001"):
        parity.compare(report, "g.onnx", "case", {"y": np.zeros(3)}, {"y": np.array([0, 1e-3, 0])})


def test_sigmas_and_sampled_offsets_are_compared_relative_above_one() -> None:
    """exp(log sigma) and the offsets it scales carry float32 rounding relative to their size: 233.0898 against
    233.08943 (kanji's sampler from a random z) is 1.6e-6 relative and passes; below 1 the tolerance stays absolute."""
    report = parity.ParityReport()
    for name in ("sigma_x", "offsets"):
        parity.compare(report, "g.onnx", "case", {name: np.array([233.08943, 0.5])}, {name: np.array([233.0898, 0.5])})
        with pytest.raises(parity.ParityError, match=f"output '{name}' differs"):
            parity.compare(report, "g.onnx", "case", {name: np.array([233.1, 0.5002])}, {name: np.array([233.1, 0.5])})
    with pytest.raises(parity.ParityError, match="output 'mu_x' differs"):
        parity.compare(report, "g.onnx", "case", {"mu_x": np.array([233.08943])}, {"mu_x": np.array([233.0898])})


def test_existing_folder_is_kept_unless_forced(folder: Path, trained: TinySetup, tmp_path: Path) -> None:
    target = tmp_path / "m"
    trained.export(target, int8=False, real_sketches=None)
    before = (target / "model.json").read_text()
    with pytest.raises(SketchGenError, match="already exists"):
        trained.export(target, int8=False, real_sketches=None)
    assert (target / "model.json").read_text() == before
    trained.export(target, force=True)
    assert (target / "decoder_sample_int8.onnx").is_file() and (target / "encoder_int8.onnx").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary or old folder left


def test_unconditional_model(tmp_path: Path) -> None:
    hp = tiny_hparams(conditional=False)
    out = export_model(SketchRNN(hp), tmp_path / "u", scale_factor=5.0, int8=False)
    assert not (out / "encoder.onnx").exists()
    init = _session(out / "decoder_init.onnx")
    assert [i.name for i in init.get_inputs()] == ["batch"]
    h, c = init.run(["h", "c"], {"batch": np.array(3, np.int64)})
    assert h.shape == (3, hp.dec_rnn_size) and not h.any() and not c.any()
    assert "z" not in [i.name for i in _session(out / "decoder_step.onnx").get_inputs()]
    card = json.loads((out / "model.json").read_text())
    assert card["conditional"] is False and card["losses"] is None and "int8" not in card["precision"]


def test_layer_norm_model_goes_the_generic_way(tmp_path: Path) -> None:
    hp = tiny_hparams(enc_model="layer_norm", dec_model="layer_norm", max_seq_len=12)
    out = export_model(SketchRNN(hp), tmp_path / "ln", scale_factor=5.0, int8=False)
    card = json.loads((out / "model.json").read_text())
    assert "generic" in card["export"]["encoder"]
    assert "Loop" in _ops(onnx.load(str(out / "encoder.onnx")))
    assert max(card["export"]["parity"]["max_abs_error"].values()) <= 1e-4


def test_license_table() -> None:
    assert dataset_entry("kanji.rdp100.npz")["license"] == "CC BY-SA 3.0"
    assert dataset_entry("short_kanji")["license"] == "CC BY-SA 3.0"
    assert dataset_entry("omniglot.npz")["license"] == "MIT"
    assert "Brenden Lake" in dataset_entry("omniglot.npz")["attribution"]
    cat = dataset_entry("/data/cat.npz")
    assert cat["name"] == "cat" and cat["license"] == "CC BY 4.0" and "Google" in cat["attribution"]
    assert dataset_entry("My_Drawings_2024.npz")["license"] is None


# -- the command line, on a real (two-step) sketchgen-train experiment -------------------------------------------

@pytest.fixture(scope="module")
def experiment(tmp_path_factory) -> Path:
    from sketchgen.datafiles import save_npz
    from training.dataset import load_sketch_data
    from training.trainer import Trainer, TrainOptions

    root = tmp_path_factory.mktemp("experiment")
    sketches = sketch_set(10, 60, 30)
    save_npz(root / "tiny.npz", {"train": sketches[:40], "valid": sketches[40:50], "test": sketches[50:]})
    hp = tiny_hparams(max_seq_len=30, data_set=["tiny.npz"], eval_every=2, save_every=2, num_steps=2)
    data = load_sketch_data(["tiny.npz"], root, hp.max_seq_len)
    Trainer(hp, data, root / "run", TrainOptions(progress=False)).train(2)
    return root / "run"


def test_cli_exports_an_experiment(experiment: Path, tmp_path: Path, capsys) -> None:
    from export.cli import main

    assert main([str(experiment), "--out", str(tmp_path / "sheep")]) == 0
    printed = capsys.readouterr().out
    assert "parity with TensorFlow" in printed
    card = json.loads((tmp_path / "sheep" / "model.json").read_text())
    assert card["steps_trained"] == 2
    assert card["training"]["best_rule"] == "L_R + kl_weight_start * max(L_KL, kl_tolerance)"  # what chose best/
    assert set(card["losses"]) == {"valid_L_R", "valid_L_KL", "test_L_R", "test_L_KL"}
    assert all(np.isfinite(v) for v in card["losses"].values())
    assert card["datasets"][0]["file"] == "tiny.npz" and card["datasets"][0]["sha256"]
    assert card["export"]["real_sketches_checked"] is True
    assert "delta_nats" in card["precision"]["int8"]


def test_cli_errors_are_one_line(experiment: Path, tmp_path: Path, capsys) -> None:
    from export.cli import main

    assert main([str(tmp_path / "nothing"), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nothing" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()
    os.makedirs(tmp_path / "m")
    (tmp_path / "m" / "notes.txt").write_text("mine")
    assert main([str(experiment), "--out", str(tmp_path / "m"), "--force"]) == 2
    assert "not a model folder" in capsys.readouterr().err
    assert (tmp_path / "m" / "notes.txt").read_text() == "mine"


def test_a_model_folder_exports_again_with_its_weights_config_and_facts(experiment: Path, tmp_path: Path,
                                                                        capsys) -> None:
    """A shipped model outlives its run's checkpoints: ``sketchgen-export MODEL_FOLDER`` reads the weights back
    from its graphs and writes the folder anew (here in place), keeping its config, scale, data and steps."""
    from export.cli import main

    first = tmp_path / "tiny"
    assert main([str(experiment), "--out", str(first), "--no-int8"]) == 0
    before = json.loads((first / "model.json").read_text())
    x = np.random.default_rng(0).normal(0, 1, (3, 5)).astype(np.float32)
    feeds = {"x": x, "z": np.random.default_rng(1).normal(0, 1, (3, before["config"]["z_size"])).astype(np.float32),
             "h": np.zeros((3, before["config"]["dec_rnn_size"]), np.float32),
             "c": np.zeros((3, before["config"]["dec_rnn_size"]), np.float32)}
    want = _session(first / "decoder_step.onnx").run(None, feeds)
    capsys.readouterr()

    assert main([str(first), "--out", str(first), "--force", "--data-dir", str(experiment.parent)]) == 0
    after = json.loads((first / "model.json").read_text())
    for key in ("config", "scale_factor", "max_seq_len", "steps_trained", "conditional"):
        assert after[key] == before[key], key
    assert after["datasets"][0]["sha256"] == before["datasets"][0]["sha256"]
    assert after["training"]["experiment"] == before["training"]["experiment"]
    assert after["training"]["reexported_from"]["steps_trained"] == before["steps_trained"]
    assert after["losses_source"].startswith("computed at export")
    assert all(np.isfinite(v) for v in after["losses"].values())
    assert "delta_nats" in after["precision"]["int8"]  # this time with the int8 measurement
    got = _session(first / "decoder_step.onnx").run(None, feeds)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-5)
