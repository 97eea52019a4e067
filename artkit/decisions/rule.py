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

from dataclasses import dataclass
from typing import Any

import numpy as np


def as_threshold_vector(thresholds: float | list[float] | tuple[float, ...] | np.ndarray | None,
                        n_labels: int, default: float = 0.5) -> np.ndarray:
    """Thresholds as a float32 vector of length `n_labels`.

    Accepts None (the default), a number, or a sequence with one value per label."""
    if thresholds is None:
        return np.full(n_labels, default, dtype=np.float32)
    vector = np.asarray(thresholds, dtype=np.float32)
    if vector.ndim == 0:
        return np.full(n_labels, float(vector), dtype=np.float32)
    if vector.shape != (n_labels,):
        raise ValueError(f"{vector.shape[0]} thresholds for {n_labels} labels")
    return vector


def decide(scores: np.ndarray, thresholds: float | np.ndarray | tuple[float, ...] | None = 0.5,
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


@dataclass(frozen=True)
class DecisionRule:
    """Which labels a multi-label model gives an image: thresholds plus min/max labels.

    One object for every place that decides (evaluation, threshold tuning, export, predict),
    stored once (``"decision"`` in a run's config and in a model card) and applied by
    :func:`decide`. `thresholds` is one number for all labels or one per label; `strategy`
    and `groups` record how ``artkit tune-thresholds`` chose them (informational)."""

    thresholds: float | tuple[float, ...] = 0.5
    min_labels: int = 1
    max_labels: int | None = None
    strategy: str | None = None
    global_threshold: float | None = None
    groups: dict[str, float] | None = None

    def __post_init__(self) -> None:
        if self.min_labels < 0:
            raise ValueError("min_labels must be 0 or more")
        if self.max_labels is not None and self.max_labels < max(1, self.min_labels):
            raise ValueError("max_labels must be at least 1 and at least min_labels")
        if not isinstance(self.thresholds, int | float):
            object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))

    def vector(self, n_labels: int) -> np.ndarray:
        """The thresholds as a float32 vector of length `n_labels`."""
        return as_threshold_vector(self.thresholds, n_labels)

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Boolean (n, L) decisions for (n, L) scores."""
        return decide(scores, self.vector(np.shape(scores)[1]), self.min_labels,
                      self.max_labels)

    def check(self, n_labels: int) -> None:
        """ValueError unless the thresholds fit a model with `n_labels` labels."""
        self.vector(n_labels)

    def replace(self, *, thresholds: float | None = None, min_labels: int | None = None,
                max_labels: int | None = None) -> DecisionRule:
        """This rule with the given parts overridden (``predict --threshold`` and friends)."""
        return DecisionRule(
            thresholds=self.thresholds if thresholds is None else float(thresholds),
            min_labels=self.min_labels if min_labels is None else min_labels,
            max_labels=self.max_labels if max_labels is None else max_labels,
            strategy=self.strategy if thresholds is None else "global",
            global_threshold=self.global_threshold if thresholds is None else None,
            groups=self.groups if thresholds is None else None)

    # -- the stored form -------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        if isinstance(self.thresholds, tuple):
            thresholds: dict[str, Any] = {"per_label": list(self.thresholds)}
            if self.global_threshold is not None:
                thresholds["global"] = self.global_threshold
        else:
            thresholds = {"global": float(self.thresholds)}
        if self.strategy:
            thresholds["strategy"] = self.strategy
        if self.groups:
            thresholds["groups"] = dict(self.groups)
        return {"thresholds": thresholds, "min_labels": self.min_labels,
                "max_labels": self.max_labels}

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> DecisionRule:
        """Read :meth:`to_json`'s form; ValueError naming what is wrong."""
        if not isinstance(stored, dict):
            raise ValueError("a decision rule must be a JSON object")
        return cls.from_parts(stored.get("thresholds"), stored.get("min_labels", 1),
                              stored.get("max_labels"))

    @classmethod
    def from_parts(cls, thresholds: Any, min_labels: Any = 1, max_labels: Any = None
                   ) -> DecisionRule:
        """From the separate pieces artkit 0.1 stored (``thresholds`` as a number, a list or
        ``{"global": t}`` / ``{"per_label": [...]}``, with the bounds beside it or inside)."""
        extra: dict[str, Any] = {}
        if isinstance(thresholds, dict):
            if not {"global", "per_label"} & thresholds.keys():
                raise ValueError('thresholds must be {"global": t} or {"per_label": [...]}')
            min_labels = thresholds.get("min_labels", min_labels)
            max_labels = thresholds.get("max_labels", max_labels)
            extra = {"strategy": thresholds.get("strategy"),
                     "groups": thresholds.get("groups") or None}
            if "per_label" in thresholds:
                extra["global_threshold"] = thresholds.get("global")
                thresholds = thresholds["per_label"]
            else:
                thresholds = thresholds["global"]
        if thresholds is None:
            thresholds = 0.5
        if isinstance(thresholds, list | tuple):
            value: float | tuple[float, ...] = tuple(float(t) for t in thresholds)
        else:
            value = float(thresholds)
        return cls(thresholds=value, min_labels=int(1 if min_labels is None else min_labels),
                   max_labels=None if max_labels is None else int(max_labels), **extra)
