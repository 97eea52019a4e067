"""The `multiclass` evaluator: its numbers against a hand-computed case and scikit-learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artkit.errors import ArtkitError
from artkit_plugins.eval_multiclass import MulticlassEvaluator


def test_hand_computed_case(tmp_path: Path) -> None:
    # predictions (argmax): [0, 1, 1, 1, 2] for truth [0, 0, 1, 1, 2]
    y_true = np.array([0, 0, 1, 1, 2])
    scores = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.1, 0.8, 0.1],
                       [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])
    result = MulticlassEvaluator().evaluate(y_true, scores, ["a", "b", "c"], tmp_path)
    m = result.metrics
    assert m["accuracy"] == pytest.approx(4 / 5)
    assert m["macro_precision"] == pytest.approx((1 + 2 / 3 + 1) / 3)
    assert m["macro_recall"] == pytest.approx((1 / 2 + 1 + 1) / 3)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 1) / 3)
    # weighted by support 2, 2, 1
    assert m["weighted_f1"] == pytest.approx((2 * 2 / 3 + 2 * 0.8 + 1) / 5)
    # AUC a: positives 0.7, 0.3 above negatives 0.1, 0.2, 0.1 -> 1; b: positive 0.5 is
    # below negative 0.6 -> 5 of 6 pairs ordered; c: 1
    assert m["roc_auc_ovr_macro"] == pytest.approx((1 + 5 / 6 + 1) / 3)
    # 3 classes: "top-5" would be trivially 1, so the evaluator reports top-2
    assert "top2_accuracy" in m and "top5_accuracy" not in m
    assert m["top2_accuracy"] == pytest.approx(1.0)
    rows = {r["class"]: r for r in result.per_class}
    assert rows["a"] == {"class": "a", "precision": 1.0, "recall": 0.5,
                         "f1": pytest.approx(2 / 3), "support": 2, "predicted": 1}


def test_equals_sklearn_on_random_predictions(tmp_path: Path) -> None:
    from sklearn import metrics as skm

    rng = np.random.default_rng(3)
    n, k = 300, 9
    y_true = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y_true]
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y_pred = scores.argmax(axis=1)
    labels = [f"class {i}" for i in range(k)]
    result = MulticlassEvaluator().evaluate(y_true, scores, labels, tmp_path)
    m = result.metrics
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    for average in ("macro", "weighted"):
        assert m[f"{average}_precision"] == pytest.approx(
            skm.precision_score(y_true, y_pred, average=average, zero_division=0))
        assert m[f"{average}_recall"] == pytest.approx(
            skm.recall_score(y_true, y_pred, average=average, zero_division=0))
        assert m[f"{average}_f1"] == pytest.approx(
            skm.f1_score(y_true, y_pred, average=average, zero_division=0))
    assert m["roc_auc_ovr_macro"] == pytest.approx(
        skm.roc_auc_score(y_true, scores, multi_class="ovr", average="macro"))
    assert m["top5_accuracy"] == pytest.approx(skm.top_k_accuracy_score(y_true, scores, k=5))
    assert set(result.headline) <= set(m) and "accuracy" in result.headline

    raw = skm.confusion_matrix(y_true, y_pred)
    support = [r["support"] for r in result.per_class]
    assert support == raw.sum(axis=1).tolist()
    assert [r["predicted"] for r in result.per_class] == raw.sum(axis=0).tolist()
    for plot in result.plots:
        assert plot.exists() and Image.open(plot).size[0] > 400
    assert {p.name for p in result.plots} == {"confusion_matrix.png",
                                              "confusion_matrix_normalised.png"}


def test_class_missing_from_test_set(tmp_path: Path) -> None:
    """A class without test images has no ROC curve: AUC averages over the others, and
    per-class rows still list it with support 0."""
    from sklearn.metrics import roc_auc_score

    y_true = np.array([0, 0, 1, 1, 1, 0])
    scores = np.array([[.6, .3, .1], [.2, .5, .3], [.1, .7, .2], [.3, .3, .4],
                       [.2, .6, .2], [.5, .1, .4]])
    result = MulticlassEvaluator().evaluate(y_true, scores, ["a", "b", "c"], tmp_path)
    expected = np.mean([roc_auc_score(y_true == c, scores[:, c]) for c in (0, 1)])
    assert result.metrics["roc_auc_ovr_macro"] == pytest.approx(expected)
    assert result.per_class[2]["support"] == 0


def test_shape_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArtkitError, match="do not match"):
        MulticlassEvaluator().evaluate(np.array([0, 1]), np.zeros((2, 3)), ["a", "b"],
                                       tmp_path)
