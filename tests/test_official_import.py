"""sketchgen-import: official sketch-rnn-js models -> model folders the engine loads, proven against an independent
numpy copy of the official loader's arithmetic; hostile files refused; official names downloaded from a local HTTP
server standing in for the official storage. The real official files are read from ../shared/data (never copied)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sketchgen.engine import load_model
from sketchgen.errors import DataFileError, ModelError
from sketchgen.official import jsformat
from sketchgen.official.catalogue import catalogue, parse_name, resolve_source
from sketchgen.official.convert import REFERENCE_TOLERANCE, import_js_model
from sketchgen.official.jsformat import parse_js_model, read_js_model
from sketchgen.official.reference import JSReference, softmax

from official_support import Storage, official_storage, tiny_js_model

REPO_ROOT = Path(__file__).resolve().parents[1]
OFFICIAL = "sketch-rnn-js-models"


def run_import(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "sketchgen.official.cli", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def official_dir() -> Path:
    folder = REPO_ROOT.parent / "shared" / "data" / OFFICIAL
    if not folder.is_dir():
        pytest.skip(f"the official models are not present at {folder}")
    return folder


def real_sketches(scale: float, count: int = 6) -> list[np.ndarray]:
    """Human QuickDraw drawings (shared data) normalised by an official model's scale factor."""
    from sketchgen.datafiles import load_npz

    path = REPO_ROOT.parent / "shared" / "data" / "quickdraw-mini" / "cat.mini25.npz"
    sketches = [np.asarray(s, np.float32) for s in load_npz(path)["test"]][:count]
    for s in sketches:
        s[:, 0:2] /= scale
    return sketches


# -- the format ------------------------------------------------------------------------------------------------------

def test_gate_and_state_layouts_round_trip() -> None:
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(5, 32)).astype(np.float32)
    assert np.array_equal(jsformat.keras_to_js_gates(jsformat.js_to_keras_gates(kernel)), kernel)
    bias = rng.normal(size=32).astype(np.float32)
    keras = jsformat.js_to_keras_bias(bias)
    assert np.allclose(keras[8:16], bias[16:24] + 1.0)  # JS f (third block) -> Keras f (second) + forget bias
    assert np.allclose(jsformat.keras_to_js_bias(keras), bias, atol=1e-6)


def test_tiny_models_parse_and_write_back_within_int16_rounding() -> None:
    for kind in ("gen", "vae"):
        model = parse_js_model(tiny_js_model(kind).encode(), "tiny")
        assert model.kind == kind and model.units == 16
        again = parse_js_model(jsformat.dumps_js_model(model.info, model.weights).encode(), "again")
        for name, array in model.weights.items():
            assert np.array_equal(again.weights[name], array), name  # decoded values re-encode exactly


def test_header_variants_read_like_the_official_loader() -> None:
    assert parse_js_model(tiny_js_model("gen", mode="gen", version=2).encode(), "bear-like").kind == "gen"
    with pytest.raises(DataFileError, match="info.mode 7"):
        parse_js_model(tiny_js_model("gen", mode=7).encode(), "odd")


@pytest.mark.parametrize("damage, problem", [
    (lambda t: t[: len(t) // 2], "ends too early"),
    (lambda t: t.replace("[16,123]", "[17,123]", 1), "dec_output_w has shape"),
    (lambda t: t.replace("[16,123]", "[32768,32768]", 1), "outside what a sketch-rnn model can be"),
    (lambda t: t[:-11] + t[-3:], "base64 characters"),
    (lambda t: t[:-40] + "!!!!" + t[-36:], "not valid base64"),
    (lambda t: "<html><head><title>403 Forbidden</title></head></html>", "HTML"),
    (lambda t: json.dumps({"not": "a model"}), "expected a JSON list"),
])
def test_hostile_files_exit_2_naming_the_file_and_leave_no_folder(tmp_path: Path, damage, problem: str) -> None:
    bad = tmp_path / "bad.gen.json"
    bad.write_text(damage(tiny_js_model("gen")), encoding="utf-8")
    result = run_import(str(bad), "--out", "model", "--quiet", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {bad}: ") and problem in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "model").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.gen.json"]


# -- the import ------------------------------------------------------------------------------------------------------

def test_tiny_vae_imports_and_its_graphs_match_the_reference(tmp_path: Path, make_sketch) -> None:
    text = tiny_js_model("vae")
    model = parse_js_model(text.encode(), "tiny.vae.json")
    folder = import_js_model(model, tmp_path / "tiny")
    card = json.loads((folder / "model.json").read_text())
    assert card["conditional"] and card["config"]["z_size"] == 4 and card["scale_factor"] == 20.0
    assert card["provenance"] == "official sketch-rnn model" and card["data"] == "QuickDraw tiny (CC BY 4.0)"
    assert max(v for k, v in card["export"]["parity"]["max_abs_error"].items() if "whole" not in k) <= 1e-5
    engine = load_model(folder, provider="cpu", precision="fp32")
    ref = JSReference(model)
    sketch = make_sketch(seed=1, n_points=12)
    strokes = np.zeros((1, 12, 5), np.float32)
    strokes[0, :, 0:2], strokes[0, :, 3] = sketch[:, 0:2] / np.float32(20.0), sketch[:, 2]
    strokes[0, :, 2] = 1 - sketch[:, 2]
    want_mu, _ = ref.encode(strokes, np.array([12]))
    assert np.allclose(engine.encode(sketch), want_mu, atol=1e-5)
    assert engine.reconstruct(sketch, seed=0).shape[1:] == (3,)  # a random model may end at once


def test_every_shared_official_file_imports_and_draws(tmp_path: Path, official_dir: Path) -> None:
    files = sorted(official_dir.glob("*.gen.json"))
    assert len(files) == 24
    for path in files:
        folder = import_js_model(path, tmp_path / path.stem, int8=False)
        engine = load_model(folder, provider="cpu")
        sketches = engine.sample(n=2, temperature=0.5, seed=0, max_len=30)
        assert all(np.isfinite(s).all() for s in sketches), path.name
        card = json.loads((folder / "model.json").read_text())
        assert card["name"] == path.name.split(".")[0] and not card["conditional"]
        assert card["start_token"] == [0, 0, 0, 0, 0] and not engine.start_token.any()  # as the JS demos feed
        assert card["max_seq_len"] == read_js_model(path).max_seq_len
        with pytest.raises(ModelError, match="no encoder"):
            engine.reconstruct(sketches[0])


def test_parity_over_real_sketches_every_step(tmp_path: Path, official_dir: Path) -> None:
    """The imported step graph against the reference on human drawings: mixture parameters (weights, means, sigmas,
    correlations) and pen logits of every step within 1e-5 (each step from the graph's state); a continuation
    draws from the primed state."""
    path = official_dir / "sheep.gen.json"
    model = read_js_model(path)
    real = real_sketches(model.scale_factor)
    folder = import_js_model(model, tmp_path / "sheep", sketches=real, int8=False)
    card = json.loads((folder / "model.json").read_text())
    assert card["export"]["parity"]["real_sketches_checked"] == len(real)
    engine = load_model(folder, provider="cpu", sampler="loop")
    ref = JSReference(model)
    for sketch in real[:3]:
        rows = np.zeros((len(sketch) + 1, 5), np.float32)
        rows[0, 2] = 1.0
        rows[1:, 0:2], rows[1:, 3], rows[1:, 2] = sketch[:, 0:2], sketch[:, 2], 1 - sketch[:, 2]
        h, c = engine._initial_state(None, 1)
        for t in range(len(rows)):
            out = engine._step(rows[None, t], None, h, c)
            pdf, _, _ = ref.step(rows[None, t], None, h, c)
            out["pi"], pdf["pi"] = softmax(out["pi"]), softmax(pdf["pi"])  # the mixture weights
            for key in pdf:
                err = np.max(np.abs(out[key] - pdf[key]) / np.maximum(1.0, np.abs(pdf[key])))
                assert err <= REFERENCE_TOLERANCE, (key, t, err)
            h, c = out["h_out"], out["c_out"]
    pixels = real[0].copy()
    pixels[:, 0:2] *= np.float32(model.scale_factor)
    continued = engine.continue_(pixels, n=2, temperature=0.3, seed=0)
    assert len(continued) == 2


def test_official_names_download_from_the_storage_and_resume(tmp_path: Path, official_dir: Path) -> None:
    storage = Storage()
    body = (official_dir / "rabbit.gen.json").read_bytes()
    storage.add("rabbit.gen.json", body)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "rabbit.gen.json.part").write_bytes(body[:100_000])  # an earlier, interrupted download
    with official_storage(storage) as base:
        result = run_import("rabbit", "--base-url", base, "--cache", str(cache), "--out", "rabbit", "--quiet",
                            cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "wrote rabbit: gen model 'rabbit', 512 units" in result.stdout
        card = json.loads((tmp_path / "rabbit" / "model.json").read_text())
        assert card["official"]["source"] == f"{base}/rabbit.gen.json"
        assert card["provenance"] == "official sketch-rnn model" and card["datasets"][0]["license"] == "CC BY 4.0"
        assert (cache / "rabbit.gen.json").read_bytes() == body and not (cache / "rabbit.gen.json.part").exists()
        assert load_model(tmp_path / "rabbit").sample(n=1, max_len=20, seed=0)

        missing = run_import("cat.vae", "--base-url", base, "--cache", str(cache), "--out", "cat", cwd=tmp_path)
        assert missing.returncode == 2
        assert missing.stderr.splitlines()[-1].startswith(f"error: {base}/cat.vae.json: HTTP 404")
        storage.html_errors = True
        html = run_import("sheep", "--base-url", base, "--cache", str(cache), "--out", "sheep", cwd=tmp_path)
        assert html.returncode == 2 and "HTML" in html.stderr and "nothing was saved" in html.stderr, html.stderr
        assert not (tmp_path / "cat").exists() and not (tmp_path / "sheep").exists()
        assert not list(cache.glob("sheep*"))
    offline = run_import("sheep", "--base-url", "http://127.0.0.1:9/x", "--cache", str(cache), "--out", "s",
                         cwd=tmp_path)
    assert offline.returncode == 2 and "cannot reach the server" in offline.stderr


def test_catalogue_names_and_sources() -> None:
    names = [m.name for m in catalogue()]
    assert len(names) == 2 * 114 - 1 and "everything.gen" in names and "everything.vae" not in names
    assert parse_name("cat").name == "cat.gen" and parse_name("cat.vae").file_name == "cat.vae.json"
    assert resolve_source("the_mona_lisa", "http://x/y/").url == "http://x/y/the_mona_lisa.gen.json"
    with pytest.raises(Exception, match="not an official"):
        parse_name("dragon")
