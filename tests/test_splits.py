"""Splits are deterministic by seed, stratified, and survive a save/load round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from artkit.data.dataset import Dataset
from artkit.data.splits import Split, make_split


def multiclass(n_per_class=(60, 30, 10)) -> Dataset:
    targets = np.concatenate([np.full(n, c) for c, n in enumerate(n_per_class)])
    paths = [Path(f"/d/{i}.png") for i in range(len(targets))]
    return Dataset(root=Path("/d"), task="multiclass", paths=paths,
                   labels=[f"c{i}" for i in range(len(n_per_class))], targets=targets,
                   reader="test")


def test_same_seed_same_split_and_other_seed_differs():
    data = multiclass()
    a, b, c = make_split(data, seed=3), make_split(data, seed=3), make_split(data, seed=4)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.test, c.test)


def test_paper_fractions_and_stratification():
    data = multiclass()
    split = make_split(data, seed=0)
    assert len(split.test) == 20 and len(split.val) == 16 and len(split.train) == 64
    everything = np.concatenate([split.train, split.val, split.test])
    assert sorted(everything.tolist()) == list(range(100))
    # each class keeps its share in the test split: 12 / 6 / 2
    assert np.bincount(data.targets[split.test]).tolist() == [12, 6, 2]


def test_multilabel_iterative_stratification_keeps_rare_labels_everywhere():
    rng = np.random.default_rng(0)
    targets = (rng.random((200, 6)) < [0.5, 0.3, 0.2, 0.1, 0.08, 0.06]).astype(np.uint8)
    data = Dataset(root=Path("/d"), task="multilabel",
                   paths=[Path(f"/d/{i}.png") for i in range(200)],
                   labels=[f"tag::{i}" for i in range(6)], targets=targets, reader="test")
    split = make_split(data, seed=1)
    assert split == split and len(split.test) == 40
    for part in (split.train, split.val, split.test):
        assert (targets[part].sum(axis=0) > 0).all()
    share = targets[split.test].mean(axis=0) / targets.mean(axis=0)
    assert np.all(np.abs(share - 1) < 0.35)


def test_round_trip_through_json():
    data = multiclass()
    split = make_split(data, seed=0)
    again = Split.from_json(split.to_json(data), data)
    np.testing.assert_array_equal(again.test, split.test)
    np.testing.assert_array_equal(again.train, split.train)
