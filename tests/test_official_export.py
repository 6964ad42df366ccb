"""sketchgen-export MODEL_FOLDER --format sketch-rnn-js: the shipped models written in the official JavaScript format,
read back by the official loader's rules (the numpy reference), and imported again within the format's int16
rounding."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sketchgen.engine import load_model
from sketchgen.graphs import DecoderWeights
from sketchgen.official.convert import import_js_model
from sketchgen.official.jsformat import js_weights, read_js_model
from sketchgen.official.reference import JSReference

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS = REPO_ROOT / "assets" / "models"
ROUNDING = 2e-2   # outputs after the weights moved by at most half an int16 step (1.5e-4) each


def run_export(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "export", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def sheep_sketches(scale: float, count: int = 4) -> list[np.ndarray]:
    from sketchgen.datafiles import load_npz

    path = REPO_ROOT.parent / "shared" / "data" / "sketch-rnn-datasets" / "aaron_sheep.npz"
    if not path.is_file():
        pytest.skip("aaron_sheep.npz not present")
    sketches = [np.asarray(s, np.float32) for s in load_npz(path)["test"][:count]]
    return sketches


def steps(engine, sketch: np.ndarray, z=None) -> list[dict[str, np.ndarray]]:
    rows = np.zeros((len(sketch) + 1, 5), np.float32)
    rows[0, 2] = 1.0
    rows[1:, 0:2] = sketch[:, 0:2] / np.float32(engine.scale_factor)
    rows[1:, 3], rows[1:, 2] = sketch[:, 2], 1 - sketch[:, 2]
    h, c = engine._initial_state(z, 1)
    out = []
    for t in range(len(rows)):
        o = engine._step(rows[None, t], z, h, c)
        out.append(o)
        h, c = o["h_out"], o["c_out"]
    return out


@pytest.mark.parametrize("name, suffix", [("sheep_uncond", ".gen.json"), ("sheep", ".vae.json")])
def test_shipped_models_export_and_import_back_within_int16_rounding(tmp_path: Path, name: str, suffix: str) -> None:
    out = tmp_path / f"{name}{suffix}"
    result = run_export(str(MODELS / name), "--format", "sketch-rnn-js", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    parsed = read_js_model(out)  # the official loader's rules: [info, shapes, weights], its order and shapes
    assert parsed.kind == ("vae" if suffix == ".vae.json" else "gen") and parsed.units == 512
    assert parsed.info["mode"] == (1 if parsed.kind == "vae" else 2) and parsed.info["version"] == 6
    original = load_model(MODELS / name, provider="cpu", precision="fp32", sampler="loop")
    assert parsed.scale_factor == original.scale_factor and parsed.max_seq_len == original.max_seq_len
    back = load_model(import_js_model(out, tmp_path / "back", int8=False), provider="cpu", sampler="loop")
    assert back.start_token.tolist() == [0, 0, 1, 0, 0]  # a SketchGen model keeps its training start token
    sketches = sheep_sketches(original.scale_factor)
    ref = JSReference(parsed)
    for sketch in sketches[:2]:
        z = None
        if original.conditional:
            z = original.encode(sketch)
            assert np.max(np.abs(back.encode(sketch) - z)) <= ROUNDING
            rows = np.zeros((1, len(sketch), 5), np.float32)
            rows[0, :, 0:2] = sketch[:, 0:2] / np.float32(original.scale_factor)
            rows[0, :, 3], rows[0, :, 2] = sketch[:, 2], 1 - sketch[:, 2]
            assert np.max(np.abs(ref.encode(rows, np.array([len(sketch)]))[0] - z)) <= ROUNDING
        want, got = steps(original, sketch, z), steps(back, sketch, z)
        for a, b in zip(want, got):
            for key in ("pi", "mu_x", "mu_y", "sigma_x", "sigma_y", "rho", "pen"):
                err = np.max(np.abs(a[key] - b[key]) / np.maximum(1.0, np.abs(a[key])))
                assert err <= ROUNDING, (key, err)


def test_export_refuses_what_the_format_cannot_hold(tmp_path: Path) -> None:
    wrong = run_export(str(MODELS / "sheep_uncond"), "--format", "sketch-rnn-js", "--out", "x.vae.json",
                       cwd=tmp_path)
    assert wrong.returncode == 2 and "NAME.gen.json" in wrong.stderr and not (tmp_path / "x.vae.json").exists()
    rng = np.random.default_rng(0)
    layer_norm = DecoderWeights(kernel=rng.normal(size=(5, 16)), recurrent_kernel=rng.normal(size=(4, 16)), bias=None,
                                ln_gamma=np.ones((5, 4)), ln_beta=np.zeros((5, 4)),
                                out_kernel=rng.normal(size=(4, 123)), out_bias=np.zeros(123), num_mixture=20, z_size=0)
    with pytest.raises(ValueError, match="plain LSTMs only"):
        js_weights(layer_norm)
    five = DecoderWeights(kernel=rng.normal(size=(5, 16)), recurrent_kernel=rng.normal(size=(4, 16)),
                          bias=np.zeros(16), ln_gamma=None, ln_beta=None, out_kernel=rng.normal(size=(4, 33)),
                          out_bias=np.zeros(33), num_mixture=5, z_size=0)
    with pytest.raises(ValueError, match="exactly 20"):
        js_weights(five)
