"""Training data: file lookup, combining, filtering with a count, normalisation, batches and exact data order."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import random_stroke3

from sketchgen.datafiles import save_npz
from sketchgen.errors import ConfigError, DataFileError
from sketchgen.model_folder import START_TOKEN
from sketchgen.strokes import scale_factor
from training.dataset import (BatchingOptions, TrainBatcher, bucket_length, evaluation_batches,
                              load_sketch_data, make_batch, resolve_data_file)


def write_data(path: Path, seed: int, counts=(60, 10, 10), lengths=(5, 40)) -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    splits = {split: [random_stroke3(rng, n_points=int(rng.integers(*lengths)), n_strokes=3) for _ in range(n)]
              for split, n in zip(("train", "valid", "test"), counts)}
    save_npz(path, splits)
    return splits


def test_names_resolve_in_data_dir_and_missing_files_say_how_to_download(tmp_path: Path) -> None:
    write_data(tmp_path / "cat.npz", 0)
    assert resolve_data_file("cat", tmp_path) == tmp_path / "cat.npz"
    assert resolve_data_file("cat.npz", tmp_path) == tmp_path / "cat.npz"
    assert resolve_data_file(str(tmp_path / "cat.npz"), None) == tmp_path / "cat.npz"
    with pytest.raises(DataFileError) as err:
        resolve_data_file("pig", tmp_path)
    assert str(tmp_path / "pig.npz") in str(err.value)
    assert "sketchgen-data download pig" in str(err.value)
    with pytest.raises(DataFileError, match="data folder does not exist"):
        resolve_data_file("pig", tmp_path / "nowhere")


def test_files_are_combined_filtered_with_a_count_and_normalised_on_train(tmp_path: Path) -> None:
    a = write_data(tmp_path / "a.npz", 1, lengths=(5, 30))
    b = write_data(tmp_path / "b.npz", 2, lengths=(20, 60))
    data = load_sketch_data(["a", "b"], tmp_path, max_seq_len=40)
    too_long = {split: sum(len(s) > 40 for s in b[split]) for split in ("train", "valid", "test")}
    assert too_long["train"] > 0  # the test data really has sketches to drop
    assert data.filtered == too_long
    for split in ("train", "valid", "test"):
        assert len(data.splits[split]) == len(a[split]) + len(b[split]) - too_long[split]
        assert max(len(s) for s in data.splits[split]) <= 40
    kept_train = [s for s in a["train"] + b["train"] if len(s) <= 40]
    assert data.scale_factor == pytest.approx(scale_factor(kept_train))
    np.testing.assert_allclose(data.splits["valid"][0][:, :2], a["valid"][0][:, :2] / data.scale_factor, rtol=1e-6)
    np.testing.assert_array_equal(data.splits["valid"][0][:, 2], a["valid"][0][:, 2])
    assert "dropped" in data.summary() and str(too_long["train"]) in data.summary()
    info = data.info()
    assert info["data_sets"] == ["a.npz", "b.npz"] and info["max_seq_len"] == data.max_seq_len
    assert len(info["sources"][0]["sha256"]) == 64


def test_max_seq_len_shrinks_to_the_longest_sketch_like_the_original(tmp_path: Path) -> None:
    splits = write_data(tmp_path / "a.npz", 3, lengths=(5, 30))
    longest = max(len(s) for v in splits.values() for s in v)
    data = load_sketch_data(["a"], tmp_path, max_seq_len=250)
    assert data.max_seq_len == longest and data.requested_max_seq_len == 250
    assert data.filtered == {"train": 0, "valid": 0, "test": 0}


def test_a_changed_file_is_refused_when_resuming(tmp_path: Path) -> None:
    write_data(tmp_path / "a.npz", 4)
    with pytest.raises(DataFileError, match="changed since the run started"):
        load_sketch_data(["a"], tmp_path, 250, expected_sha256={"a.npz": "0" * 64})


def test_batches_are_stroke5_with_start_token_and_end_of_sketch_padding(tmp_path: Path) -> None:
    sketches = [random_stroke3(np.random.default_rng(i), n_points=n) for i, n in enumerate((4, 7))]
    batch = make_batch(sketches, pad_to=9)
    assert batch.strokes.shape == (2, 10, 5) and batch.lengths.tolist() == [4, 7]
    np.testing.assert_array_equal(batch.strokes[:, 0], [START_TOKEN, START_TOKEN])
    first = batch.strokes[0]
    np.testing.assert_array_equal(first[1:5, :2], sketches[0][:, :2])
    np.testing.assert_array_equal(first[1:5, 3], sketches[0][:, 2])
    np.testing.assert_array_equal(first[1:5, 2], 1 - sketches[0][:, 2])
    np.testing.assert_array_equal(first[5:], np.tile([0, 0, 0, 0, 1], (5, 1)))
    with pytest.raises(Exception, match="more than max_len"):  # never cut silently
        make_batch(sketches, pad_to=5)


def test_bucket_length_leaves_room_for_the_end_of_sketch_row() -> None:
    assert bucket_length(30, 250, 1) == 31
    assert bucket_length(30, 250, 8) == 32
    assert bucket_length(31, 250, 8) == 32
    assert bucket_length(250, 250, 8) == 250
    assert bucket_length(247, 250, 8) == 248
    assert bucket_length(248, 250, 8) == 250


def test_evaluation_batches_cover_every_sketch_padded_to_n_max() -> None:
    sketches = [random_stroke3(np.random.default_rng(i), n_points=10 + i) for i in range(7)]
    batches = list(evaluation_batches(sketches, batch_size=3, max_seq_len=30))
    assert [b.size for b in batches] == [3, 3, 1]
    assert all(b.strokes.shape[1] == 31 for b in batches)
    assert np.concatenate([b.lengths for b in batches]).tolist() == [len(s) for s in sketches]


def _batcher(sketches, seed=0, **options) -> TrainBatcher:
    return TrainBatcher(sketches, batch_size=10, max_seq_len=120, seed=seed, random_scale_factor=0.15,
                        augment_stroke_prob=0.1, options=BatchingOptions(**options))


def _sketches(n=100) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [random_stroke3(rng, n_points=int(rng.integers(5, 120)), n_strokes=4, integer=False) for _ in range(n)]


def test_bucketing_groups_similar_lengths_and_pads_less_than_n_max() -> None:
    sketches = _sketches()
    bucketed, plain = _batcher(sketches), _batcher(sketches, bucketing=False)
    spread = lambda b: np.ptp(b.lengths)  # noqa: E731
    bucket_batches = [bucketed.next_batch() for _ in range(10)]
    plain_batches = [plain.next_batch() for _ in range(10)]
    assert np.mean([spread(b) for b in bucket_batches]) < 0.5 * np.mean([spread(b) for b in plain_batches])
    assert all(b.strokes.shape[1] == 121 for b in plain_batches)
    assert all(b.strokes.shape[1] - 1 == bucket_length(int(b.lengths.max()), 120, 1) for b in bucket_batches)
    legacy = _batcher(sketches, pool_batches=3, pad_multiple=8, sort_augmented=False)
    assert all((b.strokes.shape[1] - 1) % 8 == 0 or b.strokes.shape[1] == 121
               for b in (legacy.next_batch() for _ in range(10)))


def test_sorting_by_augmented_length_leaves_almost_no_padding() -> None:
    sketches = _sketches(300)
    tight, legacy = _batcher(sketches), _batcher(sketches, **BatchingOptions.LEGACY)
    waste = lambda b: b.strokes.shape[1] - 1 - b.lengths.mean()  # noqa: E731  padded steps per sketch
    tight_waste = np.mean([waste(tight.next_batch()) for _ in range(30)])
    legacy_waste = np.mean([waste(legacy.next_batch()) for _ in range(30)])
    assert tight_waste < 0.5 * legacy_waste, (tight_waste, legacy_waste)


def test_checkpoints_written_before_the_new_batching_options_keep_their_data_order() -> None:
    """state.json of a phase-1 run has bucketing, pool_batches and pad_multiple; it must batch exactly as then."""
    options = BatchingOptions.from_dict({"bucketing": True, "pool_batches": 10, "pad_multiple": 8})
    assert options == BatchingOptions(True, 10, 8, sort_augmented=False)
    batcher = TrainBatcher(_sketches(), batch_size=10, max_seq_len=120, seed=3, random_scale_factor=0.15,
                           augment_stroke_prob=0.1, options=options)
    batches = [batcher.next_batch() for _ in range(12)]
    # what the phase-1 code (git 7a5fb74) produced for this data and seed, crossing an epoch boundary
    first, twelfth = batches[0], batches[11]
    assert first.strokes.shape[1] - 1 == 64 and first.lengths.tolist() == [54, 53, 55, 55, 56, 56, 54, 52, 57, 60]
    assert float(first.strokes[:, 1:, :2].sum()) == pytest.approx(284.1852, abs=1e-3)
    assert twelfth.strokes.shape[1] - 1 == 80 and twelfth.lengths.tolist() == [77, 74, 74, 79, 77, 76, 76, 78, 70, 78]
    assert float(twelfth.strokes[:, 1:, :2].sum()) == pytest.approx(-214.6351, abs=1e-3)


def test_an_epoch_uses_each_sketch_once_and_augments_it() -> None:
    sketches = _sketches(95)
    batcher = _batcher(sketches, pool_batches=3)
    seen: list[int] = []
    for _ in range(batcher.batches_per_epoch):
        plan = batcher._plan[batcher.position]  # which sketch each row of the next batch comes from
        seen.extend(int(i) for i in plan)
        batch = batcher.next_batch()
        for row, index in enumerate(plan):
            n = int(batch.lengths[row])
            assert n <= len(sketches[index])  # dropping points only shortens
            # point dropping keeps the total displacement; the random scale changes it by at most 15 % per axis
            total, original = batch.strokes[row, 1:n + 1, :2].sum(0), sketches[index][:, :2].sum(0)
            assert np.all(np.abs(total - original) <= 0.15 * np.abs(original) + 1e-3)
    assert len(seen) == 90 and len(set(seen)) == 90  # 9 full batches of 10; 5 sketches wait for the next epoch


def test_data_order_resumes_exactly_from_the_saved_state() -> None:
    sketches = _sketches()
    straight = _batcher(sketches, seed=3)
    expected = [straight.next_batch() for _ in range(25)]  # crosses epoch boundaries (10 batches per epoch)
    first = _batcher(sketches, seed=3)
    for _ in range(13):
        first.next_batch()
    state = json.loads(json.dumps(first.state()))  # it goes through state.json
    resumed = _batcher(sketches, seed=3)
    resumed.restore(state)
    for want in expected[13:]:
        got = resumed.next_batch()
        np.testing.assert_array_equal(got.strokes, want.strokes)
        np.testing.assert_array_equal(got.lengths, want.lengths)
    other_seed = _batcher(sketches, seed=4).next_batch()
    assert not np.array_equal(other_seed.lengths, expected[0].lengths)


def test_restoring_onto_different_data_is_refused() -> None:
    state = _batcher(_sketches(100)).state()
    with pytest.raises(ConfigError, match="same data"):
        _batcher(_sketches(90)).restore(state)


def test_real_aaron_sheep_loads_with_the_reference_facts(shared_data: Path) -> None:
    data = load_sketch_data(["aaron_sheep"], shared_data / "sketch-rnn-datasets", max_seq_len=250)
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 7400, "valid": 300, "test": 300}
    assert data.max_seq_len == 250 and data.filtered == {"train": 0, "valid": 0, "test": 0}
    all_train = np.concatenate(data.splits["train"])[:, :2]
    assert np.std(all_train.astype(np.float64)) == pytest.approx(1.0, rel=1e-5)
