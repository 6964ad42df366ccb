"""The app's Qt-free parts: the document, coordinate mappings, morph state and model discovery."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import card_data
from desktop.document import MODEL, USER, SketchDocument, Stroke, strokes_from_stroke3
from desktop.geometry import canvas_mapping, truncate_lines
from desktop.model_catalog import card_facts, card_license, default_model, discover_models, read_card, resolve_model
from desktop.morph import MorphState
from sketchgen.errors import ModelError, SketchError
from sketchgen.geometry import fit_mapping


def test_document_revisions_and_stroke3():
    doc = SketchDocument()
    changes = []
    doc.changed.connect(lambda: changes.append(doc.revision))
    assert doc.to_stroke3() is None
    doc.append([Stroke([[10, 10], [20, 10]]), Stroke([[20, 30]], MODEL)])
    s3 = doc.to_stroke3()
    np.testing.assert_array_equal(s3, [[10, 10, 0], [10, 0, 1], [0, 20, 1]])
    removed = doc.remove_last(1)
    assert removed[0].author == MODEL and len(doc) == 1
    old = doc.replace([])
    assert len(old) == 1 and doc.is_empty()
    assert changes == [1, 2, 3]
    with pytest.raises(IndexError):
        doc.remove_last(2)
    back = strokes_from_stroke3(s3, USER)
    np.testing.assert_array_equal(back[1].points, [[20, 30]])


def test_strokes_are_validated_and_read_only():
    with pytest.raises(SketchError):
        Stroke(np.zeros((0, 2)))
    with pytest.raises(SketchError):
        Stroke([[0, np.nan]])
    with pytest.raises(SketchError):
        Stroke([[0, 0]], author="someone")
    stroke = Stroke([[1.0, 2.0]])
    with pytest.raises(ValueError):
        stroke.points[0, 0] = 5


def test_canvas_mapping_is_fixed_and_centred():
    small, large = canvas_mapping(400, 300), canvas_mapping(1000, 800)
    assert small.scale == large.scale  # the same stroke length means the same model units at any window size
    np.testing.assert_allclose(small.to_model([[200, 150]]), [[0, 0]])
    np.testing.assert_allclose(large.to_screen(small.to_model([[250, 150]])), [[550, 400]])


def test_fit_mapping_keeps_aspect_and_margin():
    mapping = fit_mapping((0, 100, 0, 50), (0, 0, 200, 200), margin=0.1)
    pts = mapping.to_screen([[0, 0], [100, 50]])
    assert pts[1, 0] - pts[0, 0] == pytest.approx(160)  # 80 % of 200 for the long side
    assert pts[1, 1] - pts[0, 1] == pytest.approx(80)
    assert (pts[0] + pts[1]) / 2 == pytest.approx([100, 100])


def test_truncate_lines_counts_points_across_strokes():
    lines = [np.zeros((3, 2)), np.ones((4, 2))]
    assert [len(x) for x in truncate_lines(lines, 0)] == []
    assert [len(x) for x in truncate_lines(lines, 5)] == [3, 2]
    assert [len(x) for x in truncate_lines(lines, 99)] == [3, 4]


def test_morph_state_keeps_latents_only_for_current_slots():
    state = MorphState()
    events = []
    state.changed.connect(events.append)
    state.set_slot("A", np.array([[1, 1, 1]]))
    revision = state.revisions["A"]
    assert state.store_latent("A", revision, np.zeros(4))
    state.set_slot("A", np.array([[2, 2, 1]]))  # a new sketch: the old latent must go
    assert state.missing_latents("A") == ["A"]
    assert not state.store_latent("A", revision, np.zeros(4))  # computed for the old sketch: refused
    state.set_handle(250)
    assert state.handle == 100 and state.t == 1.0
    with pytest.raises(KeyError):
        state.set_slot("E", None)
    assert events == ["slot", "slot"]


def _model_folder(root, name, card):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "model.json").write_text(json.dumps(card))
    return folder


def test_model_discovery_default_and_resolve(tmp_path):
    shipped = tmp_path / "models"
    _model_folder(shipped, "cat", {})
    _model_folder(shipped, "sheep", {})
    (shipped / "not-a-model").mkdir()
    user = _model_folder(tmp_path / "mine", "kanji", {})
    entries = discover_models([str(user), str(shipped / "cat")], shipped_dir=shipped)
    assert [(e.name, e.shipped) for e in entries] == [("cat", True), ("sheep", True), ("kanji", False)]
    assert default_model(entries).name == "sheep"
    assert default_model(entries[:1]).name == "cat"
    assert default_model([]) is None
    assert resolve_model("kanji", entries) == user
    assert resolve_model(str(shipped / "cat"), entries) == shipped / "cat"
    with pytest.raises(ModelError, match="known models: cat, sheep, kanji"):
        resolve_model("dragon", entries)


def test_card_facts_and_license(tmp_path):
    data = card_data(datasets=[{"name": "aaron_sheep", "license": "CC BY-NC 4.0", "attribution": "Aaron Koblin"}],
                     losses={"recon": -0.91234, "kl": 0.25}, training={"steps_trained": 20000})
    data["steps_trained"] = 20000
    folder = _model_folder(tmp_path, "m", data)
    card = read_card(folder)
    assert card.raw == data and card.steps_trained == 20000
    facts = dict(card_facts(card))
    assert facts["Data set"] == "aaron_sheep"
    assert facts["License"] == "aaron_sheep: CC BY-NC 4.0 (Aaron Koblin)"
    assert facts["Steps trained"] == "20000"
    assert facts["Losses"] == "recon -0.9123, kl 0.25"
    assert "license not stated" in card_license(read_card(_model_folder(tmp_path, "bare", card_data())))
    (folder / "model.json").write_text("{oops")
    with pytest.raises(ModelError, match="model.json: is not valid JSON"):
        read_card(folder)
    with pytest.raises(ModelError, match="is missing"):
        read_card(tmp_path)


def test_card_facts_of_an_exported_card(tmp_path):
    """Unknown values are null with a note saying why; a decoder-only model has no encoder or z to show."""
    data = card_data(conditional=False, steps_trained=None, losses=None, losses_source="not available (null)",
                     datasets=[{"name": "cat", "file": "cat.mini25.npz", "license": "CC BY 4.0",
                                "attribution": "Quick, Draw! dataset, Google"}])
    facts = dict(card_facts(read_card(_model_folder(tmp_path, "cat", data))))
    assert facts["Losses"] == "not recorded (not available (null))"
    assert facts["Steps trained"] == "not recorded"
    assert facts["Kind"] == "decoder only"
    assert facts["Size"] == "decoder LSTM 32, 3 mixtures"
    assert facts["License"] == "cat: CC BY 4.0 (Quick, Draw! dataset, Google)"


def test_card_facts_group_split_losses_and_give_the_size(tmp_path):
    """The exporter's flat losses ({"valid_L_R": ..}) read as one line per loss; the config gives the size."""
    data = card_data(datasets=[{"name": "aaron_sheep", "license": "CC BY-NC 4.0"}], steps_trained=300,
                     losses={"valid_L_R": 0.76126, "valid_L_KL": 0.6083, "test_L_R": 0.7441, "test_L_KL": 0.60793})
    facts = dict(card_facts(read_card(_model_folder(tmp_path, "a", data))))
    assert facts["Losses"] == "L_R: valid 0.7613, test 0.7441\nL_KL: valid 0.6083, test 0.6079"
    assert facts["Size"] == "encoder LSTM 16, decoder LSTM 32, z 8, 3 mixtures"
    assert facts["Steps trained"] == "300"
    data["losses"]["best_step"] = 300  # any other key: the plain layout, nothing dropped
    assert "best_step 300" in dict(card_facts(read_card(_model_folder(tmp_path, "b", data))))["Losses"]
