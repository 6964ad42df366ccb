"""A HyperLSTM decoder exported: decoder_init and decoder_step by tf2onnx with parity against TensorFlow, and the
engine and the app run the folder unchanged (with the step loop where the folder has no fused graph)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from conftest import TinySetup  # noqa: E402

from sketchgen import model_folder as runtime  # noqa: E402
from sketchgen.engine import load_model  # noqa: E402
from sketchgen.errors import ModelError  # noqa: E402

HYPER = dict(dec_model="hyper", hyper_num_units=8, hyper_embedding_size=4)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    setup = TinySetup(seed=5, **HYPER)
    assert np.mean(setup.losses[-5:]) < np.mean(setup.losses[:5])
    return setup.export(tmp_path_factory.mktemp("export") / "hyper")


def test_the_folder_holds_checked_step_graphs_and_names_the_cell(folder: Path) -> None:
    card = json.loads((folder / runtime.CARD_FILE).read_text())
    assert card["config"]["dec_model"] == "hyper"
    assert card["export"]["decoder"] == "HyperLSTM 32 (layer norm; hyper LSTM 8, embedding 4)"
    assert card["graphs"]["decoder_step.onnx"]["inputs"]["h"]["shape"] == ["B", 40]  # main 32 + hyper 8 units
    parity = card["export"]["parity"]
    assert any(key.startswith("decoder_step.onnx") for key in json.dumps(parity).split('"'))
    assert runtime.DECODER_SAMPLE not in card["files"] and runtime.DECODER_SAMPLE_INT8 not in card["files"]
    assert card["precision"]["default"] == "fp32" and card["precision"]["int8"]["files"] == []


def test_the_engine_samples_continues_and_reconstructs_with_the_step_loop(folder: Path) -> None:
    model = load_model(folder, provider="cpu")
    assert model.sampler == "loop"
    sketches = model.sample(n=3, temperature=0.4, max_len=30, seed=1)
    assert len(sketches) == 3 and all(np.isfinite(s).all() for s in sketches)
    again = load_model(folder, provider="cpu", sampler="loop").sample(n=3, temperature=0.4, max_len=30, seed=1)
    for a, b in zip(sketches, again):
        np.testing.assert_array_equal(a, b)
    prefix = np.array([[0, 0, 0], [10, 4, 0], [6, -3, 1], [-4, 8, 0]], np.float32)
    assert all(np.isfinite(s).all() for s in model.continue_(prefix, n=2, max_len=20, seed=2))
    assert np.isfinite(model.reconstruct(prefix, seed=3)).all()
    with pytest.raises(ModelError, match="decoder_sample.onnx"):
        load_model(folder, provider="cpu", sampler="fused")


def test_the_app_runs_the_folder(folder: Path, tmp_path: Path) -> None:
    from test_app_cli import PROBE, _run

    from desktop.sketch_io import write_sketch_file

    sketch = tmp_path / "start.json"
    write_sketch_file(sketch, np.array([[0, 0, 0], [30, 5, 1], [-10, 20, 0], [5, 5, 1]], np.float32))
    result = _run(PROBE, tmp_path / "home", "--model", str(folder), str(sketch), timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["model"] == "hyper" and not report["errors"], report
    assert report["tensorflow"] is False
