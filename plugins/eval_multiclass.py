"""Evaluator `multiclass`: every score is scikit-learn's, on ``argmax(scores)`` predictions.

Metrics: accuracy, balanced accuracy, macro and weighted precision / recall / F1, one-vs-rest
macro ROC AUC, top-5 accuracy, a per-class table, and two confusion-matrix PNGs (raw counts
and rows normalised to recall) with the class names on the axes. Used unchanged by every
multi-class model (bow-svm and the CNNs).

Accuracy, balanced accuracy and macro F1 come with 95% bootstrap confidence intervals
(:mod:`artkit.metrics.bootstrap`).

ROC AUC averages over the classes present in `y_true` (a class with no test image has no
ROC curve); with every class present this is exactly sklearn's
``roc_auc_score(multi_class="ovr", average="macro")``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from artkit.contracts import EvalResult
from artkit.errors import ArtkitError
from artkit.hookspecs import hookimpl
from artkit.metrics.bootstrap import multiclass_intervals
from artkit.reports.plots import save_figure

TOP_K = 5


def multiclass_metrics(y_true: np.ndarray, scores: np.ndarray, n_labels: int,
                       ) -> dict[str, float]:
    """The headline numbers; `scores` (n, n_labels), predictions are their argmax."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        precision_recall_fscore_support,
        roc_auc_score,
        top_k_accuracy_score,
    )

    labels = np.arange(n_labels)
    y_pred = scores.argmax(axis=1)
    metrics = {"accuracy": float(accuracy_score(y_true, y_pred)),
               "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred))}
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0)
        metrics |= {f"{average}_precision": float(precision),
                    f"{average}_recall": float(recall), f"{average}_f1": float(f1)}
    present = np.unique(y_true)
    if len(present) >= 2:
        onehot = (y_true[:, None] == present[None, :]).astype(np.int64)
        metrics["roc_auc_ovr_macro"] = float(roc_auc_score(onehot, scores[:, present],
                                                           average="macro"))
    k = min(TOP_K, n_labels - 1)
    if k >= 2:
        metrics[f"top{k}_accuracy"] = float(top_k_accuracy_score(y_true, scores, k=k,
                                                                 labels=labels))
    return metrics


def per_class_table(y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str],
                    ) -> list[dict[str, Any]]:
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(len(names)), zero_division=0)
    predicted = np.bincount(y_pred, minlength=len(names))
    return [{"class": name, "precision": float(p), "recall": float(r), "f1": float(f),
             "support": int(s), "predicted": int(n)}
            for name, p, r, f, s, n in zip(names, precision, recall, f1, support, predicted,
                                            strict=True)]


def plot_confusion(matrix: np.ndarray, names: Sequence[str], path: Path, title: str,
                   normalised: bool) -> Path:
    """A confusion-matrix heatmap with class names on both axes, sized to the class count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(names)
    side = min(40.0, max(5.0, 0.45 * n + 2.5))
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1 if normalised else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    short = [name if len(name) <= 28 else name[:27] + "…" for name in names]
    ax.set_xticks(range(n), short, rotation=90 if n > 6 else 45,
                  ha="center" if n > 6 else "right", fontsize=8 if n > 20 else 9)
    ax.set_yticks(range(n), short, fontsize=8 if n > 20 else 9)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    if n <= 25:
        peak = matrix.max() if matrix.size else 0
        for (row, col), value in np.ndenumerate(matrix):
            if value:
                text = f"{value:.2f}" if normalised else f"{int(value)}"
                ax.text(col, row, text, ha="center", va="center", fontsize=7,
                        color="white" if value > 0.6 * peak else "black")
    return save_figure(fig, path)


class MulticlassEvaluator:
    name = "multiclass"
    description = ("Accuracy, macro/weighted precision-recall-F1, OvR macro ROC AUC, top-5, "
                   "per-class table, confusion matrices (PNG).")
    task = "multiclass"

    def evaluate(self, y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str],
                 out_dir: Path, **kwargs: Any) -> EvalResult:
        from sklearn.metrics import confusion_matrix

        y_true = np.asarray(y_true, dtype=np.int64)
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 2 or scores.shape != (len(y_true), len(labels)):
            raise ArtkitError(f"scores of shape {scores.shape} do not match {len(y_true)} "
                              f"images x {len(labels)} classes")
        if len(y_true) == 0:
            raise ArtkitError("no images to evaluate")
        y_pred = scores.argmax(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "y_pred has classes not in y_true"
            metrics = multiclass_metrics(y_true, scores, len(labels))
        raw = confusion_matrix(y_true, y_pred, labels=np.arange(len(labels)))
        rows = raw.sum(axis=1, keepdims=True)
        normalised = np.divide(raw, rows, out=np.zeros(raw.shape), where=rows > 0)
        out_dir = Path(out_dir)
        plots = [
            plot_confusion(raw, labels, out_dir / "confusion_matrix.png",
                           f"confusion matrix ({len(y_true)} images)", normalised=False),
            plot_confusion(normalised, labels, out_dir / "confusion_matrix_normalised.png",
                           "confusion matrix, rows normalised (recall)", normalised=True),
        ]
        headline = tuple(k for k in ("accuracy", "macro_f1", "roc_auc_ovr_macro",
                                     f"top{min(TOP_K, len(labels) - 1)}_accuracy")
                         if k in metrics)
        return EvalResult(metrics=metrics, per_class=per_class_table(y_true, y_pred, labels),
                          plots=plots, headline=headline,
                          intervals=multiclass_intervals(y_true, y_pred, len(labels)))


@hookimpl
def register_evaluators(register) -> None:
    register(MulticlassEvaluator())
