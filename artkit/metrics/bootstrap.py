"""95% bootstrap confidence intervals of evaluation metrics: the one implementation.

On 100 test images one image is a point of accuracy, so every evaluator reports an interval
next to its headline numbers. The test images are resampled with replacement (a paired
resample: an image keeps its truth and its scores) and the metric recomputed on each
resample; the interval is the percentile interval of ``scipy.stats.bootstrap``. The
statistics below are vectorised over resamples (a (B, n) array of image indices), so 2000
resamples of a few thousand images take milliseconds, and they equal scikit-learn's
``accuracy_score``, ``balanced_accuracy_score`` and ``f1_score(average="macro")`` on every
resample (the tests check it).

Intervals are stored in ``metrics.json`` as ``"intervals": {metric: [low, high]}``, the
form ``artkit report`` reads.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

CONFIDENCE = 0.95
N_RESAMPLES = 2000
SEED = 0

Statistic = Callable[[np.ndarray], np.ndarray]
"""Maps a (B, n) array of resampled image indices to B metric values."""


def interval(statistic: Statistic, n: int, *, confidence: float = CONFIDENCE,
             n_resamples: int = N_RESAMPLES, seed: int = SEED) -> tuple[float, float]:
    """The percentile bootstrap interval of `statistic` over `n` images (deterministic for
    a seed). Fewer than 2 images, or a statistic constant on every resample: the interval
    is the point value twice."""
    from scipy.stats import bootstrap

    if n < 2:
        value = float(statistic(np.zeros((1, max(n, 1)), dtype=np.int64))[0]) if n else 0.0
        return value, value
    def vectorised(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        return statistic(idx) if idx.ndim == 2 else statistic(idx[None, :])[0]

    result = bootstrap((np.arange(n),), vectorised, n_resamples=n_resamples,
                       confidence_level=confidence, method="percentile", vectorized=True,
                       batch=200, random_state=np.random.default_rng(seed))
    low, high = result.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)):
        value = float(statistic(np.arange(n)[None, :])[0])
        return value, value
    return float(low), float(high)


def mean_of(values: np.ndarray) -> Statistic:
    """The mean of per-image values (accuracy from 0/1 hits, the iMet F2 from per-image F2)."""
    values = np.asarray(values, dtype=np.float64)
    return lambda idx: values[idx].mean(axis=-1)


def _class_counts(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int, idx: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per resample and class: (true positives, true count, predicted count), each (B, K)."""
    rows = np.arange(idx.shape[0])[:, None] * n_labels
    truth, predicted = rows + y_true[idx], rows + y_pred[idx]
    size = idx.shape[0] * n_labels
    hits = y_true[idx] == y_pred[idx]
    tp = np.bincount(truth[hits], minlength=size)
    true = np.bincount(truth.ravel(), minlength=size)
    pred = np.bincount(predicted.ravel(), minlength=size)
    return (tp.reshape(-1, n_labels), true.reshape(-1, n_labels),
            pred.reshape(-1, n_labels))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> Statistic:
    """Macro F1 over all `n_labels` classes, 0 for a class never true nor predicted
    (scikit-learn's ``f1_score(labels=range(K), average="macro", zero_division=0)``)."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)

    def statistic(idx: np.ndarray) -> np.ndarray:
        tp, true, pred = _class_counts(y_true, y_pred, n_labels, idx)
        den = (true + pred).astype(np.float64)
        f1 = np.divide(2.0 * tp, den, out=np.zeros(den.shape), where=den > 0)
        return f1.mean(axis=-1)

    return statistic


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> Statistic:
    """Mean recall over the classes present in each resample (scikit-learn's
    ``balanced_accuracy_score``)."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)

    def statistic(idx: np.ndarray) -> np.ndarray:
        tp, true, _ = _class_counts(y_true, y_pred, n_labels, idx)
        present = true > 0
        recall = np.divide(tp, true, out=np.zeros(true.shape), where=present)
        return recall.sum(axis=-1) / present.sum(axis=-1)

    return statistic


def multiclass_intervals(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int,
                         **kwargs) -> dict[str, tuple[float, float]]:
    """Intervals of accuracy, balanced accuracy and macro F1 of argmax predictions."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    n = len(y_true)
    return {"accuracy": interval(mean_of(y_true == y_pred), n, **kwargs),
            "balanced_accuracy": interval(balanced_accuracy(y_true, y_pred, n_labels), n,
                                          **kwargs),
            "macro_f1": interval(macro_f1(y_true, y_pred, n_labels), n, **kwargs)}


def as_json(intervals: dict[str, tuple[float, float]]) -> dict[str, list[float]]:
    return {name: [float(low), float(high)] for name, (low, high) in intervals.items()}
