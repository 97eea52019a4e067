"""The one multi-label decision rule, shared by evaluation, threshold tuning and predict.

An attribute is on when its score reaches its threshold; then each image is given at least
`min_labels` labels (its best-scoring ones, even below threshold) and at most `max_labels`
(its best-scoring ones above threshold). Thresholds are one number or one per label.

Precisely, by rank (position in the image's scores, best first, ties broken by label order):
labels ranked below `min_labels` are always on, labels ranked at or after `max_labels` are
always off, and the threshold decides the rest. With one threshold for all labels this is the
rule above; with per-label thresholds it stays a fixed window per image, which is what lets
`artkit tune-thresholds` score thresholds exactly as this function will apply them.
"""

from __future__ import annotations

import numpy as np


def as_threshold_vector(thresholds: float | list[float] | np.ndarray | dict | None,
                        n_labels: int, default: float = 0.5) -> np.ndarray:
    """Thresholds as a float32 vector of length `n_labels`.

    Accepts None (the default), a number, a sequence with one value per label, or a dict as
    stored in run configs and ONNX metadata: ``{"per_label": [...]}`` or ``{"global": t}``."""
    if thresholds is None:
        return np.full(n_labels, default, dtype=np.float32)
    if isinstance(thresholds, dict):
        if "per_label" in thresholds:
            return as_threshold_vector(thresholds["per_label"], n_labels, default)
        return as_threshold_vector(thresholds.get("global", default), n_labels, default)
    vector = np.asarray(thresholds, dtype=np.float32)
    if vector.ndim == 0:
        return np.full(n_labels, float(vector), dtype=np.float32)
    if vector.shape != (n_labels,):
        raise ValueError(f"{vector.shape[0]} thresholds for {n_labels} labels")
    return vector


def decide(scores: np.ndarray, thresholds: float | np.ndarray | dict | None = 0.5,
           min_labels: int = 1, max_labels: int | None = None) -> np.ndarray:
    """Boolean (n, L) label decisions from (n, L) scores."""
    scores = np.asarray(scores, dtype=np.float32)
    n, n_labels = scores.shape
    vector = as_threshold_vector(thresholds, n_labels)
    on = scores >= vector[None, :]
    if n == 0 or n_labels == 0:
        return on
    if min_labels == 1 and max_labels is None and not np.isnan(scores).any():
        # the common case without a full sort: argmax takes the first of tied maxima, as
        # the stable sort below does
        on[np.arange(n), scores.argmax(axis=1)] = True
        return on
    if min_labels > 0 or max_labels is not None:
        # rank[i, j] = position of label j in image i's scores, best first
        order = np.argsort(-scores, axis=1, kind="stable")
        rank = np.empty_like(order)
        rank[np.arange(n)[:, None], order] = np.arange(n_labels)[None, :]
        if min_labels > 0:
            on |= rank < min(min_labels, n_labels)
        if max_labels is not None:
            on &= rank < max_labels
    return on
