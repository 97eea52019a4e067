"""Deterministic train / validation / test splits, saved with the run.

Defaults follow the seed paper: 20% of the images for test, then 20% of the rest for
validation. Multi-class splits are stratified by class; multi-label splits use iterative
stratification (Sechidis et al. 2011, the `iterative-stratification` package) so that rare
attributes appear in every split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from artkit.data.dataset import Dataset
from artkit.errors import DataError

TEST_FRACTION = 0.2
VAL_FRACTION = 0.2


@dataclass
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def to_json(self, dataset: Dataset) -> dict:
        return {name: [dataset.relative(int(i)) for i in getattr(self, name)]
                for name in ("train", "val", "test")}

    @classmethod
    def from_json(cls, obj: dict, dataset: Dataset) -> Split:
        """Map saved relative paths back to indices of `dataset`; all must be present."""
        position = {dataset.relative(i): i for i in range(len(dataset))}
        parts = {}
        for name in ("train", "val", "test"):
            missing = [p for p in obj[name] if p not in position]
            if missing:
                raise DataError(f"{len(missing)} images of the saved {name} split are not in "
                                f"the data set (first: {missing[0]})", dataset.root)
            parts[name] = np.array([position[p] for p in obj[name]], dtype=np.int64)
        return cls(**parts)


def _two_way(targets: np.ndarray, indices: np.ndarray, fraction: float, task: str,
             seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split `indices` into (rest, held_out) with `fraction` held out, stratified."""
    if fraction <= 0:
        return indices, indices[:0]
    y = targets[indices]
    if task == "multilabel":
        from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

        splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=fraction,
                                                    random_state=seed)
        rest, held = next(splitter.split(np.zeros(len(y)), y))
    else:
        from sklearn.model_selection import StratifiedShuffleSplit, train_test_split

        counts = np.bincount(y) if len(y) else np.array([])
        if len(y) and counts[counts > 0].min() >= 2:
            splitter = StratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
            rest, held = next(splitter.split(np.zeros(len(y)), y))
        else:  # a class with one image cannot be stratified; fall back to a random split
            rest, held = train_test_split(np.arange(len(y)), test_size=fraction,
                                          random_state=seed)
    return np.sort(indices[rest]), np.sort(indices[held])


def make_split(dataset: Dataset, seed: int = 0, test_fraction: float = TEST_FRACTION,
               val_fraction: float = VAL_FRACTION) -> Split:
    """The deterministic split of `dataset` for `seed` (same inputs -> same split)."""
    n = len(dataset)
    if n < 5:
        raise DataError(f"only {n} images: at least 5 are needed to split into train, "
                        "validation and test", dataset.root)
    targets = dataset.targets
    if dataset.task == "detection":
        targets = np.zeros(n, dtype=np.int64)
    everything = np.arange(n, dtype=np.int64)
    rest, test = _two_way(targets, everything, test_fraction, dataset.task, seed)
    train, val = _two_way(targets, rest, val_fraction, dataset.task, seed + 1)
    return Split(train=train, val=val, test=test)


def make_folds(dataset: Dataset, folds: int, seed: int = 0,
               val_fraction: float = VAL_FRACTION) -> list[Split]:
    """`folds` stratified cross-validation splits: each image is in exactly one test fold;
    the validation images of a fold come from its other images, stratified as in
    :func:`make_split`. Multi-label folds use iterative stratification."""
    n = len(dataset)
    if folds < 2:
        raise DataError(f"cross-validation needs at least 2 folds, not {folds}")
    if n < 2 * folds:
        raise DataError(f"only {n} images: too few for {folds} folds", dataset.root)
    if dataset.task == "multilabel":
        from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

        splitter = MultilabelStratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    elif dataset.task == "multiclass":
        from sklearn.model_selection import StratifiedKFold

        counts = np.bincount(dataset.targets)
        if counts[counts > 0].min() < folds:
            raise DataError(f"a class has fewer than {folds} images: it cannot be in every "
                            "fold", dataset.root, hint="use fewer folds or --min-class-images")
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        raise DataError(f"cross-validation is for classification, not {dataset.task}")
    splits = []
    for rest, test in splitter.split(np.zeros(n), dataset.targets):
        train, val = _two_way(dataset.targets, np.sort(rest), val_fraction, dataset.task,
                              seed + 1)
        splits.append(Split(train=train, val=val, test=np.sort(test)))
    return splits
