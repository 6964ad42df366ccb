"""docs/models.md and the shipped models' measured quality (issue: models that ship with the app)."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import card_data
from export import gallery
from sketchgen.model_folder import ModelCard

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "assets" / "models"
SHIPPED = ("sheep", "sheep_uncond", "omniglot", "kanji")


def _card(conditional: bool, test_l_r: float, test_l_kl: float, sha: str, steps: int = 100) -> ModelCard:
    data = card_data(conditional, steps_trained=steps, max_seq_len=250, datasets=[{"file": "a.npz", "sha256": sha}],
                     losses={"test_L_R": test_l_r, "test_L_KL": test_l_kl})
    data["config"].update(kl_tolerance=0.2, z_size=128)
    return ModelCard.from_dict(data, Path("m"))


def test_latent_comparison_pairs_models_of_the_same_data():
    cards = {"a": _card(True, 0.40, 0.33, "x"), "a_uncond": _card(False, 0.65, 0.0, "x"),
             "b": _card(True, 0.10, 0.25, "other")}
    text = gallery.latent_comparison(cards)
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == 1, text  # b was trained on other data: no pair
    assert "`a` (100 steps)" in rows[0] and "`a_uncond`" in rows[0] and "**0.250**" in rows[0]
    # z's nats per step: L_KL 0.33 x 128 dimensions / 250 steps = 0.169; the bound on -log p(x): 0.40 + 0.169
    assert rows[0].endswith("| 0.169 | 0.569 |"), rows[0]


def test_latent_comparison_is_empty_without_a_pair():
    assert gallery.latent_comparison({"a": _card(True, 0.4, 0.3, "x")}) == ""


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_model_has_a_complete_card(name):
    card = ModelCard.read(MODELS / name)
    assert card.steps_trained > 0
    for key in ("valid_L_R", "valid_L_KL", "test_L_R", "test_L_KL"):
        assert isinstance(card.losses[key], float), key
    assert card.hardware and card.wall_time_s > 0
    assert card.datasets and all(d.license for d in card.datasets)


def test_sheep_latent_carries_part_of_the_drawing():
    """Both sheep models trained for the same number of steps; the conditional one reconstructs the test set better
    than the decoder-only one and its L_KL is above KL_min (no posterior collapse), as the evaluation tool measured
    at export. (The project's 0.2-nat target is not met: with L_KL ~0.32, z carries ~0.16 nats per step, which
    bounds the gap unless the decoder-only model is the worse density model; docs/models.md gives both.)"""
    cond, uncond = ModelCard.read(MODELS / "sheep"), ModelCard.read(MODELS / "sheep_uncond")
    assert cond.conditional and not uncond.conditional
    assert cond.steps_trained == uncond.steps_trained
    assert uncond.losses["test_L_R"] - cond.losses["test_L_R"] > 0.0
    assert cond.losses["test_L_KL"] > cond.config.kl_tolerance


def test_gallery_writes_the_page_and_pictures(tmp_path):
    out = tmp_path / "models.md"
    assert gallery.main([str(MODELS / "sheep"), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "## `sheep`" in text and "CC BY-NC 4.0" in text
    pictures = sorted(p.name for p in (tmp_path / "models").glob("*.png"))
    samples = ["sheep-samples-t0.1.png", "sheep-samples-t0.5.png", "sheep-samples-t1.0.png"]
    has_data = (REPO.parent / "shared" / "data" / "sketch-rnn-datasets" / "aaron_sheep.npz").is_file()
    assert pictures == sorted(samples + (["sheep-reconstructions.png"] if has_data else []))
    for name in pictures:
        assert (tmp_path / "models" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
