"""sketchgen.model_folder: the card read, checked and written by the core; hostile cards refused at the door
(through the console script, as a user meets them); names resolved; folders replaced atomically."""
from __future__ import annotations

import json
import math
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import card_data
from sketchgen.config import LIMITS, HParams
from sketchgen.errors import ConfigError, ModelError
from sketchgen.fileio import UMASK, aside_name, atomic_dir, recover_dir
from sketchgen.model_folder import (CARD_FILE, MODELS_DIR, ModelCard, build_card, required_files, resolve_model,
                                    shipped_models, write_card)

SHEEP = MODELS_DIR / "sheep"


@pytest.mark.parametrize("name", sorted(shipped_models()))
def test_every_shipped_card_reads_as_a_typed_card(name: str) -> None:
    card = ModelCard.read(MODELS_DIR / name)
    raw = json.loads((MODELS_DIR / name / CARD_FILE).read_text())
    assert card.config == HParams.from_dict(raw["config"])
    assert card.conditional == raw["config"]["conditional"] == raw["conditional"]
    assert card.scale_factor == raw["scale_factor"] and card.max_seq_len == raw["max_seq_len"]
    assert set(card.files) == set(raw["files"]) and set(required_files(card.conditional)) <= set(card.files)
    assert card.datasets and all(d.license for d in card.datasets)
    assert card.int8_ready == (raw["precision"]["int8"]["verified"] and "decoder_sample_int8.onnx" in raw["files"])
    assert card.opset == 17 and card.raw == raw


def test_a_written_card_reads_back(tmp_path: Path) -> None:
    hp = HParams(enc_rnn_size=16, dec_rnn_size=32, z_size=8, num_mixture=3, conditional=False)
    files = {name: {"sha256": "a" * 64, "bytes": 1} for name in required_files(False)}
    data = build_card(name="mine", config=hp, scale_factor=12.5, max_seq_len=60, files=files,
                      datasets=[{"name": "cat", "file": "cat.npz", "license": "CC BY 4.0"}],
                      training={"steps_trained": 7, "hardware": "cpu", "wall_time_s": 3.0})
    written = write_card(tmp_path, data)
    card = ModelCard.read(tmp_path)
    assert card == written
    assert card.config == hp and not card.conditional and card.name == "mine"
    assert card.steps_trained == 7 and card.hardware == "cpu" and card.wall_time_s == 3.0
    assert card.datasets[0].license == "CC BY 4.0" and not card.int8_ready
    assert card.precision.default == "fp32"
    with pytest.raises(ModelError, match="scale_factor"):
        write_card(tmp_path / "x", {**data, "scale_factor": -1.0})  # a writer cannot write what a reader refuses
    assert not (tmp_path / "x").exists()


def test_verify_files_names_the_altered_file(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    shutil.copytree(SHEEP, folder)
    card = ModelCard.read(folder)
    card.verify_files()
    (folder / "decoder_step.onnx").write_bytes(b"not a graph")
    with pytest.raises(ModelError, match=r"decoder_step.onnx: sha256 .* does not match model.json"):
        card.verify_files()


# -- hostile cards, through the console script -----------------------------------------------------------------------

def _sample(folder: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("sketchgen-sample")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "sketchgen.sample_cli"]
    return subprocess.run([*command, "--model", str(folder), "--out", str(tmp_path / "out.svg")],
                          capture_output=True, text=True, timeout=120)


def _bad_folder(tmp_path: Path, change) -> Path:
    folder = tmp_path / "bad"
    folder.mkdir()
    data = json.loads((SHEEP / CARD_FILE).read_text())
    change(data)
    (folder / CARD_FILE).write_text(json.dumps(data))
    return folder


BAD_CARDS = {
    "precision is not an object": (lambda c: c.update(precision="yes"), "precision must be an object"),
    "int8 verified is not a boolean": (lambda c: c["precision"]["int8"].update(verified="yes"),
                                       "precision.int8.verified must be true or false"),
    "huge max_seq_len": (lambda c: c.update(max_seq_len=100_000_000),
                         f"max_seq_len must be an integer from 1 to {LIMITS['max_seq_len']}"),
    "huge config max_seq_len": (lambda c: c["config"].update(max_seq_len=100_000_000),
                                f"max_seq_len must be at most {LIMITS['max_seq_len']}"),
    "huge layer": (lambda c: c["config"].update(dec_rnn_size=10**9), "dec_rnn_size must be at most"),
    "infinite scale": (lambda c: c.update(scale_factor=math.inf), "scale_factor must be a positive finite number"),
    "NaN scale": (lambda c: c.update(scale_factor=math.nan), "scale_factor must be a positive finite number"),
    "zero scale": (lambda c: c.update(scale_factor=0), "scale_factor must be a positive finite number"),
    "negative scale": (lambda c: c.update(scale_factor=-3.0), "scale_factor must be a positive finite number"),
    "string conditional": (lambda c: c["config"].update(conditional="yes"),
                           "conditional='yes': expected true or false"),
    "NaN hyperparameter": (lambda c: c["config"].update(kl_weight=math.nan), "kl_weight must be a finite number"),
    "no config": (lambda c: c.pop("config"), "config is missing or not an object"),
    "files outside the folder": (lambda c: c["files"].update({"../x.onnx": {"sha256": "0"}}),
                                 "lists a file outside the model folder"),
    "datasets not a list": (lambda c: c.update(datasets="aaron_sheep"), "datasets must be a list"),
    "newer format": (lambda c: c.update(format_version=99), "format_version 99 is not one this SketchGen reads"),
    "start token of 4 numbers": (lambda c: c.update(start_token=[0, 0, 0, 0]),
                                 "start_token must be a list of 5 finite numbers"),
}


@pytest.mark.parametrize("case", sorted(BAD_CARDS))
def test_a_hostile_card_is_refused_by_name_with_exit_status_2(case: str, tmp_path: Path) -> None:
    change, message = BAD_CARDS[case]
    folder = _bad_folder(tmp_path, change)
    result = _sample(folder, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {folder / CARD_FILE}: "), result.stderr
    assert message in result.stderr, result.stderr
    assert not (tmp_path / "out.svg").exists()


def test_card_errors_are_model_errors_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="must hold a JSON object"):
        ModelCard.from_dict([1, 2], tmp_path)
    (tmp_path / CARD_FILE).write_text("[" * 100_000)
    with pytest.raises(ModelError, match=r"model.json: (is not valid JSON|is nested too deeply)"):
        ModelCard.read(tmp_path)
    with pytest.raises(ModelError, match=r"config.z_size is missing"):
        ModelCard.from_dict({**card_data(), "config": {"dec_rnn_size": 8, "num_mixture": 3}}, tmp_path)
    with pytest.raises(ModelError, match="conditional is False but config.conditional is True"):
        ModelCard.from_dict({**card_data(), "conditional": False}, tmp_path)


def test_hparams_refuse_non_finite_and_unbounded_values() -> None:
    with pytest.raises(ConfigError, match="kl_weight must be a finite number"):
        HParams(kl_weight=math.inf)
    with pytest.raises(ConfigError, match="num_mixture must be at most"):
        HParams(num_mixture=LIMITS["num_mixture"] + 1)
    assert HParams().with_overrides("conditional=yes").conditional  # --hparams still parses strings
    with pytest.raises(ConfigError, match="expected true or false"):
        HParams.from_dict({"conditional": "yes"}, strict=True)  # a card does not


# -- names -----------------------------------------------------------------------------------------------------------

def test_names_resolve_to_shipped_folders_and_unknown_ones_list_the_known(tmp_path: Path) -> None:
    assert resolve_model("sheep") == SHEEP
    assert resolve_model(str(tmp_path)) == tmp_path
    assert resolve_model("mine", {"mine": tmp_path}) == tmp_path
    with pytest.raises(ModelError, match="known models: a, b"):
        resolve_model("dragon", {"a": tmp_path, "b": tmp_path})
    with pytest.raises(ModelError, match="none installed"):
        resolve_model("dragon", {})


# -- atomic folders --------------------------------------------------------------------------------------------------

def test_atomic_dir_replaces_a_folder_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("one")
    assert (target / "a.txt").read_text() == "one"
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~UMASK  # a plain folder, not mkdtemp's private one
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "b.txt").write_text("two")
            raise RuntimeError("failed half-way")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary left, the old folder untouched
    assert [p.name for p in target.iterdir()] == ["a.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("two")
    assert [p.name for p in target.iterdir()] == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_swap_killed_half_way_is_finished_by_recover_dir(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    os.rename(target, aside_name(target))  # killed after moving the old folder aside, before the new one arrived
    recover_dir(target)
    assert target.is_dir() and not aside_name(target).exists()
