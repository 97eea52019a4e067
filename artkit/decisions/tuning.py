"""Choosing multi-label decision thresholds that maximise F-beta averaged per sample.

The iMet metric is F2 averaged over images: for image i with T true labels, P predicted ones
and TP right ones, ``F = (1 + b^2) TP / (b^2 T + P)``. Every 0/0 (an image with no true and no
predicted label, or a precision/recall with an empty denominator) counts as `zero_division`,
0.0 by default, which is scikit-learn's default for ``fbeta_score(average="samples")``. The
metric itself lives in :mod:`artkit.metrics.fbeta` (re-exported here).

The decisions are always those of :func:`artkit.decisions.rule.decide`: an image's `min_labels`
best-scoring labels are on whatever their scores, labels ranked at or after `max_labels` are
off, and between those a label is on when its score reaches its threshold. The search below
reuses `decide` to find those forced-on and allowed labels, so the thresholds it picks score
the same under `decide` as they did during the search (the tests check this).

Thresholds are searched on a grid of 0.01 steps (0.01 .. 0.99). Each score is binned once
against the grid, so an image's count of labels above any grid threshold is a suffix sum of
its bin histogram; all three strategies then work on small count arrays:

- ``global``: one threshold, every grid value scored at once.
- ``group``: one threshold per ``prefix::`` group of label names, by coordinate ascent over
  the groups (each step scores every grid value of one group with the others fixed),
  started from the best global threshold.
- ``label``: one threshold per label by coordinate ascent, started from the group (or
  global) thresholds. Turning label j on in image i changes the image's F by a gain that
  depends only on that image's current counts, so every grid threshold of label j is scored
  with one weighted histogram of the label's score bins. After each step the label's
  threshold is shrunk towards its starting (group or global) value:
  ``t = w * t_best + (1 - w) * t_prior`` with ``w = n_pos / (n_pos + shrinkage)``, where
  `n_pos` is the label's number of positive validation images, then snapped to the grid.
  A label with no positive image keeps its starting value and is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from artkit.decisions.grids import LABEL_THRESHOLD_GRID
from artkit.decisions.rule import DecisionRule, decide
from artkit.metrics.fbeta import fbeta_from_counts
from artkit.metrics.fbeta import sample_scores as sample_scores  # re-exported: the tuner's metric

Strategy = Literal["global", "group", "label"]
GRID = LABEL_THRESHOLD_GRID
"""Candidate thresholds: 0.01, 0.02, ..., 0.99 (float32, as `decide` compares them); the
same array as :data:`artkit.decisions.grids.LABEL_THRESHOLD_GRID`."""
GROUP_SEPARATOR = "::"
UNGROUPED = "(no group)"
DEFAULT_SHRINKAGE = 3.0
MAX_PASSES = 10


# -- label groups -------------------------------------------------------------------------
def label_groups(labels: list[str]) -> dict[str, np.ndarray]:
    """Column indices per ``prefix::`` group; {} when no label name has a prefix.

    Labels without a prefix, in a data set where others have one, form the group
    ``(no group)``."""
    if not any(GROUP_SEPARATOR in name for name in labels):
        return {}
    members: dict[str, list[int]] = {}
    for index, name in enumerate(labels):
        prefix = name.split(GROUP_SEPARATOR, 1)[0] if GROUP_SEPARATOR in name else UNGROUPED
        members.setdefault(prefix, []).append(index)
    return {prefix: np.array(columns, dtype=np.int64) for prefix, columns in members.items()}


def _closest_best(values: np.ndarray, reference: int) -> int:
    """Index of the maximum of `values`; among (numerically) tied maxima the one nearest
    `reference`, so flat stretches keep the threshold where it was."""
    best = values.max()
    tied = np.flatnonzero(values >= best - 1e-12)
    return int(tied[np.argmin(np.abs(tied - reference))])


def _grid_index(threshold: float) -> int:
    return int(np.argmin(np.abs(GRID - np.float32(threshold))))


# -- the search ---------------------------------------------------------------------------
class ThresholdSearch:
    """Validation scores and truth, binned once, and the searches over them.

    `scores` and `y_true` are (n, L). Memory: one uint8 bin per score plus two boolean
    (n, L) masks; the searches themselves work on (n, 99) counts."""

    def __init__(self, scores: np.ndarray, y_true: np.ndarray, beta: float = 2.0,
                 min_labels: int = 1, max_labels: int | None = None,
                 zero_division: float = 0.0):
        scores = np.asarray(scores, dtype=np.float32)
        y_true = np.asarray(y_true).astype(bool)
        if scores.ndim != 2 or scores.shape != y_true.shape:
            raise ValueError(f"scores {scores.shape} and truth {y_true.shape} differ in shape")
        if not np.isfinite(scores).all():
            raise ValueError("scores hold NaN or infinite values")
        self.n, self.n_labels = scores.shape
        self.beta, self.zero_division = beta, zero_division
        self.min_labels, self.max_labels = min_labels, max_labels
        # The labels `decide` turns on whatever the threshold, and those it may turn on.
        forced = decide(scores, np.inf, min_labels=min_labels, max_labels=max_labels)
        free = ~forced
        if max_labels is not None:
            free &= decide(scores, -np.inf, min_labels=0, max_labels=max_labels)
        self.y = y_true
        self.true = y_true.sum(axis=1)
        self.base_p = forced.sum(axis=1)
        self.base_tp = (forced & y_true).sum(axis=1)
        # bins[i, j] = number of grid thresholds <= score (0: never on at any grid value),
        # column-major so that one label's column is contiguous.
        bins = np.searchsorted(GRID, scores, side="right").astype(np.uint8)
        bins[~free] = 0
        self.bins = np.asfortranarray(bins)
        self.positives = y_true.sum(axis=0)

    # -- counts and scores --------------------------------------------------------------
    def _suffix_counts(self, columns: np.ndarray | None = None) -> tuple[np.ndarray,
                                                                        np.ndarray]:
        """(predicted, true positives), each (n, len(GRID)): how many of `columns` (all
        when None) image i has on at each grid threshold."""
        width = len(GRID) + 1
        predicted = np.zeros((self.n, len(GRID)), dtype=np.int32)
        hits = np.zeros((self.n, len(GRID)), dtype=np.int32)
        chunk = max(1, 4_000_000 // max(1, self.n_labels))
        for start in range(0, self.n, chunk):
            stop = min(self.n, start + chunk)
            bins = self.bins[start:stop] if columns is None else self.bins[start:stop, columns]
            y = self.y[start:stop] if columns is None else self.y[start:stop, columns]
            flat = (np.arange(stop - start, dtype=np.int64)[:, None] * width + bins).ravel()
            size = (stop - start) * width
            counts = np.bincount(flat, minlength=size).reshape(-1, width)
            true_counts = np.bincount(flat[y.ravel()], minlength=size).reshape(-1, width)
            # on at grid index k <=> bin > k: a reversed cumulative sum over bins 1..G
            predicted[start:stop] = np.cumsum(counts[:, :0:-1], axis=1)[:, ::-1]
            hits[start:stop] = np.cumsum(true_counts[:, :0:-1], axis=1)[:, ::-1]
        return predicted, hits

    def _f(self, tp: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        true = self.true if tp.ndim == 1 else self.true[:, None]
        return fbeta_from_counts(tp, predicted, true, self.beta, self.zero_division)

    def score(self, thresholds: np.ndarray) -> float:
        """Mean F of per-label grid `thresholds` (what `decide` would give)."""
        predicted, tp = self._counts(self._indices(thresholds))
        return float(self._f(tp, predicted).mean())

    def _indices(self, thresholds: np.ndarray) -> np.ndarray:
        thresholds = np.asarray(thresholds, dtype=np.float32)
        index = np.searchsorted(GRID, thresholds)
        if (index >= len(GRID)).any() or not np.array_equal(GRID[index], thresholds):
            raise ValueError("thresholds must lie on the 0.01 grid")
        return index

    def _counts(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        on = self.bins > index[None, :]
        return self.base_p + on.sum(axis=1), self.base_tp + (on & self.y).sum(axis=1)

    # -- strategies -----------------------------------------------------------------------
    def global_curve(self) -> np.ndarray:
        """Mean F at every grid threshold used for all labels."""
        predicted, tp = self._suffix_counts()
        return self._f(self.base_tp[:, None] + tp, self.base_p[:, None] + predicted).mean(0)

    def tune_groups(self, groups: dict[str, np.ndarray], start: float) -> dict[str, float]:
        """One threshold per group by coordinate ascent, from the global threshold `start`."""
        names = list(groups)
        counts = {g: self._suffix_counts(groups[g]) for g in names}
        index = {g: _grid_index(start) for g in names}
        predicted = self.base_p + sum(counts[g][0][:, index[g]] for g in names)
        tp = self.base_tp + sum(counts[g][1][:, index[g]] for g in names)
        for _ in range(MAX_PASSES):
            changed = False
            for g in names:
                group_p, group_tp = counts[g]
                rest_p = predicted - group_p[:, index[g]]
                rest_tp = tp - group_tp[:, index[g]]
                values = self._f(rest_tp[:, None] + group_tp, rest_p[:, None] + group_p).mean(0)
                best = _closest_best(values, index[g])
                if best != index[g]:
                    index[g], changed = best, True
                predicted = rest_p + group_p[:, best]
                tp = rest_tp + group_tp[:, best]
            if not changed:
                break
        return {g: round(float(GRID[index[g]]), 2) for g in names}

    def tune_labels(self, prior: np.ndarray, shrinkage: float = DEFAULT_SHRINKAGE
                    ) -> np.ndarray:
        """Per-label thresholds by coordinate ascent from `prior` (grid values), each
        shrunk towards its prior by ``n_pos / (n_pos + shrinkage)``; labels without
        positives keep their prior."""
        prior_index = self._indices(prior)
        index = prior_index.copy()
        predicted, tp = self._counts(index)
        weight = self.positives / (self.positives + shrinkage) if shrinkage > 0 else \
            np.ones(self.n_labels)
        # per label: the images where it can be on at some grid threshold
        rows = [np.flatnonzero(self.bins[:, j]) for j in range(self.n_labels)]
        tunable = [j for j in range(self.n_labels) if self.positives[j] > 0 and len(rows[j])]
        for _ in range(MAX_PASSES):
            changed = False
            for j in tunable:
                r = rows[j]
                bins = self.bins[r, j]
                y = self.y[r, j]
                on = bins > index[j]
                rest_p = predicted[r] - on
                rest_tp = tp[r] - (on & y)
                gain = self._f_rows(r, rest_tp + y, rest_p + 1) - self._f_rows(r, rest_tp,
                                                                                rest_p)
                per_bin = np.bincount(bins, weights=gain, minlength=len(GRID) + 1)
                # value[k] = total gain with threshold GRID[k] = gains of bins > k
                values = np.cumsum(per_bin[:0:-1])[::-1]
                best = _closest_best(values, prior_index[j])
                shrunk = weight[j] * GRID[best] + (1 - weight[j]) * GRID[prior_index[j]]
                new = _grid_index(shrunk)
                if new != index[j]:
                    index[j], changed = new, True
                    on_new = bins > new
                    predicted[r] = rest_p + on_new
                    tp[r] = rest_tp + (on_new & y)
            if not changed:
                break
        return GRID[index]

    def _f_rows(self, rows: np.ndarray, tp: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        return fbeta_from_counts(tp, predicted, self.true[rows], self.beta, self.zero_division)


# -- one call for the CLI -----------------------------------------------------------------
@dataclass
class Tuning:
    """The outcome of :func:`tune`: per-label thresholds and how they were found."""

    strategy: Strategy
    """The strategy actually used (``group`` falls back to ``global`` without groups)."""
    thresholds: np.ndarray
    global_threshold: float
    curve: np.ndarray
    """Validation F at every grid value used as the one global threshold."""
    group_thresholds: dict[str, float] = field(default_factory=dict)
    no_positive: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def rule(self, min_labels: int = 1, max_labels: int | None = None) -> DecisionRule:
        """The decision rule to store (run config, model card), with these label bounds."""
        extra: dict[str, Any] = {"strategy": self.strategy,
                                 "global_threshold": round(self.global_threshold, 2)}
        if self.strategy == "global":
            return DecisionRule(round(self.global_threshold, 2), min_labels, max_labels,
                                strategy="global")
        if self.group_thresholds:
            extra["groups"] = {g: round(t, 2) for g, t in self.group_thresholds.items()}
        return DecisionRule(tuple(round(float(t), 2) for t in self.thresholds), min_labels,
                            max_labels, **extra)

def tune(scores: np.ndarray, y_true: np.ndarray, labels: list[str], strategy: Strategy,
         beta: float = 2.0, min_labels: int = 1, max_labels: int | None = None,
         shrinkage: float = DEFAULT_SHRINKAGE, zero_division: float = 0.0) -> Tuning:
    """Thresholds for `labels` maximising sample-averaged F-beta of `decide` on these
    (validation) scores."""
    search = ThresholdSearch(scores, y_true, beta=beta, min_labels=min_labels,
                             max_labels=max_labels, zero_division=zero_division)
    curve = search.global_curve()
    best_global = round(float(GRID[_closest_best(curve, _grid_index(0.5))]), 2)
    vector = np.full(len(labels), best_global, dtype=np.float32)
    result = Tuning(strategy="global", thresholds=vector, global_threshold=best_global,
                    curve=curve)
    if strategy == "global":
        return result
    groups = label_groups(labels)
    if groups:
        result.group_thresholds = search.tune_groups(groups, best_global)
        for name, columns in groups.items():
            vector[columns] = result.group_thresholds[name]
        result.strategy = "group"
    elif strategy == "group":
        result.notes.append("no label name has a 'prefix::' group: fell back to one global "
                            "threshold")
        return result
    if strategy == "label":
        result.no_positive = [labels[j] for j in np.flatnonzero(search.positives == 0)]
        start = "group" if groups else "global"
        if result.no_positive:
            result.notes.append(f"{len(result.no_positive)} label(s) have no positive "
                                f"validation image and keep the {start} threshold")
        result.thresholds = search.tune_labels(vector, shrinkage=shrinkage)
        result.strategy = "label"
    return result
