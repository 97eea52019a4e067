"""F-beta of each sample's label set, averaged over samples: the one implementation.

The iMet metric is F2 averaged over images: for image i with T true labels, P predicted ones
and TP right ones, ``F = (1 + b^2) TP / (b^2 T + P)``. Every 0/0 (an image with no true and
no predicted label, or a precision/recall with an empty denominator) counts as
`zero_division`, 0.0 by default. This is scikit-learn's
``fbeta_score(y_true, y_pred, beta=b, average="samples", zero_division=z)`` (and
``precision_score`` / ``recall_score`` likewise), which the tests check.

The threshold tuner (:mod:`artkit.decisions.tuning`), ``artkit thresholds`` and the multi-label
evaluator plugin all score with these functions.
"""

from __future__ import annotations

import numpy as np


def _divide(num: np.ndarray, den: np.ndarray, zero_division: float) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, zero_division, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def fbeta_from_counts(tp: np.ndarray, predicted: np.ndarray, true: np.ndarray,
                      beta: float = 2.0, zero_division: float = 0.0) -> np.ndarray:
    """Per-sample F-beta from counts: ``(1 + b^2) tp / (b^2 true + predicted)``, and
    `zero_division` where both counts are 0. Broadcasts (the tuner scores whole grids)."""
    b2 = beta * beta
    return _divide((1.0 + b2) * np.asarray(tp), b2 * np.asarray(true) + np.asarray(predicted),
                   zero_division)


def sample_scores(decisions: np.ndarray, y_true: np.ndarray, beta: float = 2.0,
                  zero_division: float = 0.0) -> dict[str, float]:
    """F-beta (``f``), ``precision`` and ``recall`` averaged over samples (sklearn's
    ``average="samples"`` with the same `zero_division`). No samples: all 0.0."""
    decisions = np.asarray(decisions, dtype=bool)
    y_true = np.asarray(y_true, dtype=bool)
    if len(y_true) == 0:
        return {"f": 0.0, "precision": 0.0, "recall": 0.0}
    tp = (decisions & y_true).sum(axis=1)
    predicted = decisions.sum(axis=1)
    true = y_true.sum(axis=1)
    return {
        "f": float(fbeta_from_counts(tp, predicted, true, beta, zero_division).mean()),
        "precision": float(_divide(tp, predicted, zero_division).mean()),
        "recall": float(_divide(tp, true, zero_division).mean()),
    }


def f_beta_per_sample(y_true: np.ndarray, decisions: np.ndarray, beta: float = 2.0,
                      zero_division: float = 0.0) -> float:
    """Sample-averaged F-beta in scikit-learn's argument order (truth first): the iMet
    score of a set of (n, L) boolean decisions. No samples: 0.0."""
    return sample_scores(decisions, y_true, beta, zero_division)["f"]
