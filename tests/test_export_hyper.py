"""A HyperLSTM decoder exported: decoder_init and decoder_step by tf2onnx, the fused decoder_sample built from its
weights (sketchgen/graphs/hyper.py), all with parity against TensorFlow; the engine and the app run the folder
unchanged (the fused sampler, and the step loop for priming and wherever it is asked for)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from conftest import TinySetup

from sketchgen import model_folder as runtime
from sketchgen.engine import load_model
from sketchgen.errors import ModelError

HYPER = dict(dec_model="hyper", hyper_num_units=8, hyper_embedding_size=4)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    setup = TinySetup(seed=5, **HYPER)
    assert np.mean(setup.losses[-5:]) < np.mean(setup.losses[:5])
    return setup.export(tmp_path_factory.mktemp("export") / "hyper")


def test_the_folder_holds_checked_graphs_and_names_the_cell(folder: Path) -> None:
    card = json.loads((folder / runtime.CARD_FILE).read_text())
    assert card["config"]["dec_model"] == "hyper"
    assert card["export"]["decoder"] == "HyperLSTM 32 (layer norm; hyper LSTM 8, embedding 4)"
    assert card["graphs"]["decoder_step.onnx"]["inputs"]["h"]["shape"] == ["B", 40]  # main 32 + hyper 8 units
    checked = card["export"]["parity"]["max_abs_error"]
    for graph in ("decoder_init.onnx", "decoder_step.onnx", "decoder_sample.onnx"):
        assert graph in checked and checked[graph] <= card["export"]["parity"]["tolerance"], graph
    assert runtime.DECODER_SAMPLE in card["files"] and runtime.DECODER_SAMPLE_INT8 not in card["files"]
    assert runtime.DECODER_PRIME not in card["files"]
    assert card["precision"]["default"] == "fp32" and card["precision"]["int8"]["files"] == []


def test_the_engine_samples_continues_and_reconstructs(folder: Path) -> None:
    fused = load_model(folder, provider="cpu")
    loop = load_model(folder, provider="cpu", sampler="loop")
    assert (fused.sampler, loop.sampler) == ("fused", "loop")
    for temperature in (0.0, 0.4):  # the fused loop draws what the Python loop over decoder_step draws
        a = fused.sample(n=3, temperature=temperature, max_len=30, seed=1)
        b = loop.sample(n=3, temperature=temperature, max_len=30, seed=1)
        assert all(np.isfinite(s).all() for s in a)
        for x, y in zip(a, b):
            assert x.shape == y.shape
            np.testing.assert_array_equal(x[:, 2], y[:, 2])
            np.testing.assert_allclose(x[:, :2], y[:, :2], rtol=1e-4, atol=1e-3)
    prefix = np.array([[0, 0, 0], [10, 4, 0], [6, -3, 1], [-4, 8, 0]], np.float32)
    assert all(np.isfinite(s).all() for s in fused.continue_(prefix, n=2, max_len=20, seed=2))
    assert np.isfinite(fused.reconstruct(prefix, seed=3)).all()
    with pytest.raises(ModelError, match="decoder_sample_int8.onnx"):
        load_model(folder, provider="cpu", precision="int8")


def test_the_app_runs_the_folder(folder: Path, tmp_path: Path) -> None:
    from conftest import APP_PROBE, run_app

    from desktop.sketch_io import write_sketch_file

    sketch = tmp_path / "start.json"
    write_sketch_file(sketch, np.array([[0, 0, 0], [30, 5, 1], [-10, 20, 0], [5, 5, 1]], np.float32))
    result = run_app(APP_PROBE, tmp_path / "home", "--model", str(folder), str(sketch), timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["model"] == "hyper" and not report["errors"], report
    assert report["tensorflow"] is False
