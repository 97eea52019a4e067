"""Evaluator `multilabel`: the iMet competition's F2, averaged per sample, at the seed
paper's fixed thresholds (0.2, 0.3, 0.4, 0.5: its Table 3) and at the run's tuned
thresholds when it has them; ROC AUC and PR AUC (micro and macro); a per-label table; and a
plot of F2 against one global threshold.

Decisions go through :func:`artkit.decisions.rule.decide`, the rule `predict` uses. The
fixed-threshold columns use ``min_labels=0`` (a pure threshold, comparable with
scikit-learn and with the paper); the tuned column uses the run's own rule
(the run's :class:`~artkit.decisions.rule.DecisionRule`, as predict applies it).
The F2 columns come with 95% bootstrap confidence intervals (:mod:`artkit.metrics.bootstrap`).
Macro AUCs average over the labels that have both a positive and a negative test image.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from artkit.contracts import EvalResult
from artkit.decisions.grids import F2_PLOT_SWEEP
from artkit.decisions.rule import decide
from artkit.errors import ArtkitError
from artkit.hookspecs import hookimpl
from artkit.metrics.bootstrap import interval, mean_of
from artkit.metrics.fbeta import f_beta_per_sample, fbeta_from_counts
from artkit.reports.plots import save_figure

FIXED_THRESHOLDS = (0.2, 0.3, 0.4, 0.5)


def f2_each(y_true: np.ndarray, decisions: np.ndarray) -> np.ndarray:
    """Each image's F2 (their mean is :func:`~artkit.metrics.fbeta.f_beta_per_sample`)."""
    truth, decisions = np.asarray(y_true, bool), np.asarray(decisions, bool)
    return fbeta_from_counts((truth & decisions).sum(axis=1), decisions.sum(axis=1),
                             truth.sum(axis=1))


def _auc_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    metrics: dict[str, float] = {}
    positives = y_true.sum(axis=0)
    usable = (positives > 0) & (positives < len(y_true))
    if 0 < y_true.sum() < y_true.size:
        metrics["roc_auc_micro"] = float(roc_auc_score(y_true.ravel(), scores.ravel()))
        metrics["pr_auc_micro"] = float(average_precision_score(y_true.ravel(),
                                                                scores.ravel()))
    if usable.any():
        metrics["roc_auc_macro"] = float(roc_auc_score(y_true[:, usable], scores[:, usable],
                                                       average="macro"))
        metrics["pr_auc_macro"] = float(average_precision_score(
            y_true[:, usable], scores[:, usable], average="macro"))
    return metrics


def per_label_table(y_true: np.ndarray, scores: np.ndarray, names: Sequence[str],
                    threshold: float = 0.5) -> list[dict[str, Any]]:
    """Support, AP, ROC AUC and precision/recall at `threshold`, rarest label last."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    on = decide(scores, threshold, min_labels=0)
    rows = []
    for j, name in enumerate(names):
        truth, predicted = y_true[:, j].astype(bool), on[:, j]
        support = int(truth.sum())
        both = 0 < support < len(truth)
        tp = int((truth & predicted).sum())
        rows.append({"label": name, "support": support,
                     "predicted": int(predicted.sum()),
                     f"precision@{threshold}": tp / max(int(predicted.sum()), 1),
                     f"recall@{threshold}": tp / support if support else 0.0,
                     "ap": float(average_precision_score(truth, scores[:, j])) if both
                     else float("nan"),
                     "roc_auc": float(roc_auc_score(truth, scores[:, j])) if both
                     else float("nan")})
    return sorted(rows, key=lambda r: -r["support"])


def plot_f2_sweep(y_true: np.ndarray, scores: np.ndarray, path: Path,
                  tuned: float | None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = [f_beta_per_sample(y_true, decide(scores, t, min_labels=0)) for t in F2_PLOT_SWEEP]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(F2_PLOT_SWEEP, values, "o-", ms=3, label="one global threshold")
    best = int(np.argmax(values))
    best_t = F2_PLOT_SWEEP[best]
    ax.annotate(f"best {values[best]:.3f} at {best_t:.2f}", (best_t, values[best]),
                textcoords="offset points", xytext=(8, -14), fontsize=8)
    if tuned is not None:
        ax.axhline(tuned, color="C2", ls="--", label=f"tuned thresholds: {tuned:.3f}")
    ax.set_xlabel("threshold")
    ax.set_ylabel("F2 (per sample)")
    ax.set_title(f"F2 against the threshold ({len(y_true)} images)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


class MultilabelEvaluator:
    name = "multilabel"
    description = ("iMet F2 per sample at 0.2/0.3/0.4/0.5 and tuned thresholds, ROC and PR "
                   "AUC (micro, macro), per-label table, F2-vs-threshold plot.")
    task = "multilabel"

    def evaluate(self, y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str],
                 out_dir: Path, **kwargs: Any) -> EvalResult:
        y_true = np.asarray(y_true, dtype=np.uint8)
        scores = np.asarray(scores, dtype=np.float32)
        if scores.ndim != 2 or scores.shape != y_true.shape or \
                scores.shape[1] != len(labels):
            raise ArtkitError(f"scores of shape {scores.shape} do not match the truth "
                              f"{y_true.shape} and {len(labels)} labels")
        if len(y_true) == 0:
            raise ArtkitError("no images to evaluate")
        each = {f"f2@{t}": f2_each(y_true, decide(scores, t, min_labels=0))
                for t in FIXED_THRESHOLDS}
        rule = kwargs.get("decision")  # the run's tuned DecisionRule, if any
        if rule is not None:
            each["f2@tuned"] = f2_each(y_true, rule.apply(scores))
        metrics = {name: float(values.mean()) for name, values in each.items()}
        intervals = {name: interval(mean_of(values), len(values))
                     for name, values in each.items()}
        tuned_f2 = metrics.get("f2@tuned")
        metrics |= _auc_metrics(y_true, scores)
        metrics["mean_labels_true"] = float(y_true.sum(axis=1).mean())
        metrics["mean_labels_predicted@0.5"] = float(decide(scores, 0.5, min_labels=0)
                                                     .sum(axis=1).mean())
        plot = plot_f2_sweep(y_true, scores, Path(out_dir) / "f2_vs_threshold.png", tuned_f2)
        headline = tuple(k for k in ("f2@0.2", "f2@0.5", "f2@tuned", "roc_auc_macro",
                                     "pr_auc_micro") if k in metrics)
        return EvalResult(metrics=metrics, per_class=per_label_table(y_true, scores, labels),
                          plots=[plot], headline=headline, intervals=intervals)


@hookimpl
def register_evaluators(register) -> None:
    register(MultilabelEvaluator())
