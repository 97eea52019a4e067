"""The classifier: one-vs-rest RBF SVMs, grid-searched by stratified CV, then calibrated.

Why this shape:
- One-vs-rest, not sklearn's native one-vs-one: far more accurate on many-class probes.
- Probabilities come from ``CalibratedClassifierCV(..., ensemble=False)`` (one sigmoid per
  class on out-of-fold decision values), not ``SVC(probability=True)``, which is deprecated
  and whose ``argmax(predict_proba)`` disagrees with ``predict``.
- ONE decision rule everywhere: the predicted class is ``argmax`` of the calibrated
  probabilities, in training reports, evaluation, ONNX export and prediction alike.
- Features are dense float32: a sparse matrix made the SVM fit many times slower.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from artkit.console import warn
from artkit.errors import ArtkitError


def parse_grid(text: str, name: str, allowed_words: Sequence[str] = ()) -> list[Any]:
    """``"0.1,1,10"`` -> [0.1, 1.0, 10.0]; words in `allowed_words` (``scale``) stay strings."""
    values: list[Any] = []
    for piece in str(text).split(","):
        piece = piece.strip()
        if not piece:
            continue
        if piece in allowed_words:
            values.append(piece)
            continue
        try:
            value = float(piece)
        except ValueError:
            words = f" or one of {', '.join(allowed_words)}" if allowed_words else ""
            raise ArtkitError(f"--{name}: '{piece}' is not a number{words}") from None
        if value <= 0:
            raise ArtkitError(f"--{name}: values must be positive, got {piece}")
        values.append(value)
    if not values:
        raise ArtkitError(f"--{name} is empty")
    return values


def fold_count(y: np.ndarray, labels: Sequence[str], requested: int) -> int:
    """Folds for stratified CV: `requested`, or fewer (with a warning) when the smallest
    training class has fewer images; a class with a single image is an error."""
    counts = np.bincount(y, minlength=len(labels))
    smallest = int(counts.min())
    if smallest < 2:
        lonely = [labels[i] for i in np.flatnonzero(counts < 2)]
        raise ArtkitError(
            f"class(es) {', '.join(repr(c) for c in lonely)} have fewer than 2 training "
            "images: the SVM's cross-validation needs at least 2 per class",
            hint="drop small classes with --min-class-images, or add images")
    if smallest < requested:
        small = [labels[i] for i in np.flatnonzero(counts < requested)]
        warn(f"cross-validation reduced from {requested} to {smallest} folds: class(es) "
             f"{', '.join(repr(c) for c in small)} have fewer than {requested} training images")
        return smallest
    return requested


def _base(class_weight: str | None, seed: int):
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return Pipeline([("scale", StandardScaler()),
                     ("svm", OneVsRestClassifier(SVC(kernel="rbf", class_weight=class_weight,
                                                     random_state=seed)))])


def build_pipeline(class_weight: str | None, seed: int, c: float, gamma: Any, folds: int,
                   workers: int) -> Any:
    """The unfitted final model: ``StandardScaler -> CalibratedClassifierCV(OneVsRest(SVC))``
    with sigmoid calibration on stratified `folds`-fold out-of-fold decision values."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline

    base = _base(class_weight, seed)
    scale, ovr = base.steps[0][1], base.steps[1][1]
    ovr.estimator.set_params(C=c, gamma=gamma)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    calibrated = CalibratedClassifierCV(ovr, method="sigmoid", cv=splitter, ensemble=False,
                                        n_jobs=workers)
    return Pipeline([("scale", scale), ("svm", calibrated)])


def fit_svm(features: np.ndarray, y: np.ndarray, labels: Sequence[str], grid_c: list[float],
            grid_gamma: list[Any], folds: int, class_weight: str | None, seed: int,
            workers: int) -> tuple[Any, dict[str, Any]]:
    """(fitted pipeline with ``predict_proba``, report) on training features `features`.

    The pipeline is `build_pipeline`'s; the report holds the grid's CV accuracies, the chosen
    C and gamma, and the fit times."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    folds = fold_count(y, labels, folds)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    started = time.perf_counter()
    search = GridSearchCV(_base(class_weight, seed),
                          {"svm__estimator__C": grid_c, "svm__estimator__gamma": grid_gamma},
                          cv=splitter, scoring="accuracy", n_jobs=workers, refit=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class" notices
        search.fit(features, y)
    grid_seconds = time.perf_counter() - started
    best = search.best_params_
    started = time.perf_counter()
    model = build_pipeline(class_weight, seed, best["svm__estimator__C"],
                           best["svm__estimator__gamma"], folds, workers)
    model.fit(features, y)
    report = {
        "folds": folds,
        "C": best["svm__estimator__C"],
        "gamma": best["svm__estimator__gamma"],
        "cv_accuracy": float(search.best_score_),
        "grid": [{"C": p["svm__estimator__C"], "gamma": p["svm__estimator__gamma"],
                  "cv_accuracy": float(s)}
                 for p, s in zip(search.cv_results_["params"],
                                 search.cv_results_["mean_test_score"], strict=True)],
        "grid_seconds": grid_seconds,
        "final_fit_seconds": time.perf_counter() - started,
    }
    return model, report


def class_scores(model: Any, features: np.ndarray) -> np.ndarray:
    """Calibrated probabilities (n, n_labels); every label has training images (checked by
    `fold_count`), so the columns are the run's labels in order."""
    if len(features) == 0:
        return np.zeros((0, len(model.classes_)), np.float32)
    return model.predict_proba(features).astype(np.float32)
