"""sketchgen-quality and the temperature rules on the shipped model folders, through the real ONNX Runtime and the
console scripts as subprocesses (no TensorFlow)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from sketchgen.datafiles import save_npz
from sketchgen.engine import load_model
from sketchgen.quality import load_test_split, source_ranks

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "assets" / "models"
DATASETS = REPO.parent / "shared" / "data" / "sketch-rnn-datasets"


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    """A console script as the user runs it (its launcher where installed, else ``python -m``)."""
    launcher = Path(sys.executable).parent / script
    module = {"sketchgen-quality": "sketchgen.quality", "sketchgen-sample": "sketchgen.sample_cli"}[script]
    command = [str(launcher)] if launcher.is_file() else [sys.executable, "-m", module]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=600, env=env, cwd=REPO)


def copy_model(name: str, tmp_path: Path) -> Path:
    folder = tmp_path / name
    shutil.copytree(MODELS / name, folder)
    return folder


def card(folder: Path) -> dict:
    return json.loads((folder / "model.json").read_text(encoding="utf-8"))


def test_source_ranks_count_the_latents_nearer_than_the_source():
    latents = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0]], np.float32)
    again = np.array([[0.1, 0.0], [0.4, 0.0], [1.5, 0.0]], np.float32)  # sources 0, 1, 2
    np.testing.assert_array_equal(source_ranks(latents, again, [0, 1, 2]), [0, 1, 2])
    np.testing.assert_array_equal(source_ranks(latents, again[1:], [1, 2]), [1, 2])


def test_decoder_only_model_without_data_is_measured_and_still_loads(tmp_path):
    """The path of an imported official model: no test set, no encoder. The card gains a quality section (prior
    samples only, the rule named) and the folder still verifies, every other entry untouched."""
    folder = copy_model("sheep_uncond", tmp_path)
    before = card(folder)
    assert before.pop("quality")["seed"] == 0  # the shipped card's table is replaced, not added to
    result = run("sketchgen-quality", str(folder), "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert "100 prior samples: ended by the model" in result.stdout and "`js` temperature rule" in result.stdout
    after = card(folder)
    quality = after.pop("quality")
    assert after == before and list(after) == list(before)
    assert quality["temperature_rule"] == "js" and quality["seed"] == 1 and quality["data"] is None
    assert quality["reconstruction"] is None and quality["test_L_R"] is None and quality["continuations"] is None
    by = quality["prior_samples"]["by_temperature"]
    assert sorted(by) == ["0.1", "0.3", "0.5"]
    assert all(0.0 <= v["ended"] <= 1.0 and 0 < v["median_points"] <= 250 for v in by.values())
    load_model(folder)  # the checksums still hold
    # --no-write leaves the card byte for byte; --rule paper is what sketch-rnn's paper text does
    text = (folder / "model.json").read_bytes()
    paper = run("sketchgen-quality", str(folder), "--seed", "1", "--rule", "paper", "--no-write")
    assert paper.returncode == 0, paper.stderr
    assert (folder / "model.json").read_bytes() == text and "`paper` temperature rule" in paper.stdout


def test_conditional_model_with_test_data_gives_every_measure_reproducibly(tmp_path):
    """kanji (88 points) on a small test set of its own drawings: every measure, the same figures for the same
    seed, and the table in the card; sketches longer than the model's limit are left out, as in training."""
    folder = copy_model("kanji", tmp_path)
    model = load_model(folder)
    drawn = [s for s in model.sample(n=16, temperature=0.5, seed=2) if 2 <= len(s)][:12]
    too_long = np.tile(np.array([[1.0, 1.0, 0.0]], np.float32), (model.max_seq_len + 5, 1))
    too_long[-1, 2] = 1.0
    data = tmp_path / "own.npz"
    save_npz(data, {"train": drawn[:2], "valid": drawn[:2], "test": drawn + [too_long]})
    first = run("sketchgen-quality", str(folder), "--data", str(data), "--seed", "4")
    assert first.returncode == 0, first.stderr
    q1 = card(folder)["quality"]
    second = run("sketchgen-quality", str(folder), "--data", str(data), "--seed", "4")
    assert second.returncode == 0, second.stderr
    q2 = card(folder)["quality"]
    q1.pop("created"), q2.pop("created")
    assert q1 == q2
    assert q1["data"]["used"] == len(drawn) and q1["data"]["test_sketches"] == len(drawn) + 1
    recon = q1["reconstruction"]
    assert recon["sketches"] == len(drawn) and sorted(recon["by_temperature"]) == ["0.1", "0.3"]
    for figures in recon["by_temperature"].values():
        assert 0.0 <= figures["top1"] <= figures["top5"] <= 1.0 and 0.0 <= figures["ended"] <= 1.0
    assert q1["test_L_R"]["sketches"] == len(drawn) and np.isfinite(q1["test_L_R"]["per_point"])
    cont = q1["continuations"]["by_fraction"]
    assert sorted(cont) == ["0.4", "0.7"] and all(v["people_median_new_points"] > 0 for v in cont.values())
    for words in ("source ranked first", "nats per real point", "median new points (people's)", "all 4 empty"):
        assert words in first.stdout, words
    load_model(folder)


def test_bad_input_is_a_clear_error(tmp_path):
    missing = run("sketchgen-quality", str(MODELS / "sheep"), "--data", str(tmp_path / "none.npz"))
    assert missing.returncode == 2 and "none.npz" in missing.stderr and "Traceback" not in missing.stderr
    not_a_model = run("sketchgen-quality", str(tmp_path), "--no-write")
    assert not_a_model.returncode == 2 and "model.json" in not_a_model.stderr
    bad_rule = run("sketchgen-quality", str(MODELS / "sheep"), "--rule", "fast")
    assert bad_rule.returncode == 2 and "--rule" in bad_rule.stderr


@pytest.mark.skipif(not (DATASETS / "short_kanji.npz").is_file(), reason="needs ../shared/data")
def test_test_loss_reproduces_the_training_evaluation():
    """The core's teacher-forced L_R over the ONNX graphs gives the figure training.evaluate recorded at export
    (a different z draw: within 0.01 nats), and the per-point figure differs from it as the lengths say."""
    model = load_model(MODELS / "kanji")
    sketches, _ = load_test_split(DATASETS / "short_kanji.npz", model.max_seq_len)
    losses = model.reconstruction_losses(sketches, seed=0)
    assert losses.per_n_max == pytest.approx(model.card.losses["test_L_R"], abs=0.01)
    assert losses.points == sum(len(s) for s in sketches) and losses.sketches == len(sketches)
    assert losses.per_point != pytest.approx(losses.per_n_max, abs=0.05)


def test_sample_cli_rule(tmp_path):
    """At a low temperature the shipped decoder-only sheep ends its drawings under the official demos' rule and
    loops on to its last point under the paper's one-temperature rule; the summary line names the rule."""
    ended = {}
    for rule in ("js", "paper"):
        out = tmp_path / f"{rule}.svg"
        result = run("sketchgen-sample", "--model", "sheep_uncond", "--n", "12", "--temperature", "0.1", "--seed", "2",
                     "--rule", rule, "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert f"({rule} rule)" in result.stdout and out.read_text().startswith("<svg")
        ended[rule] = int(re.search(r"\((\d+) ended by the model", result.stdout).group(1))
    assert ended["js"] >= 4 and ended["paper"] <= 1, ended
    greedy = run("sketchgen-sample", "--model", "sheep_uncond", "--discrete-temperature", "-1", "--out",
                 str(tmp_path / "x.svg"))
    assert greedy.returncode == 2 and "discrete_temperature" in greedy.stderr
