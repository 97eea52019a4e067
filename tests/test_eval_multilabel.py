"""The `multilabel` evaluator against scikit-learn and a hand-computed case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from artkit.metrics.fbeta import f_beta_per_sample
from artkit_plugins.eval_multilabel import MultilabelEvaluator


def random_case(seed: int = 0, n: int = 60, labels: int = 8):
    rng = np.random.default_rng(seed)
    truth = (rng.random((n, labels)) < 0.25).astype(np.uint8)
    truth[:3] = 0  # images without labels: F2 0 when nothing is predicted, as sklearn
    scores = np.clip(truth * 0.35 + rng.random((n, labels)) * 0.7, 0, 1).astype(np.float32)
    return truth, scores


def test_f2_by_hand() -> None:
    truth = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    decided = np.array([[1, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    # image 1: tp 1, fn 1, fp 1 -> 5 / (5 + 4 + 1) = 0.5; image 2: 1; image 3: 0 (empty)
    assert f_beta_per_sample(truth, decided) == pytest.approx((0.5 + 1 + 0) / 3)


@pytest.mark.parametrize("threshold", [0.2, 0.3, 0.4, 0.5])
def test_f2_matches_sklearn(threshold: float, tmp_path: Path) -> None:
    from sklearn.metrics import fbeta_score

    truth, scores = random_case()
    result = MultilabelEvaluator().evaluate(truth, scores, [f"l{i}" for i in range(8)],
                                            tmp_path)
    want = fbeta_score(truth, scores >= threshold, beta=2, average="samples",
                       zero_division=0)
    assert result.metrics[f"f2@{threshold}"] == pytest.approx(want, abs=1e-9)


def test_aucs_and_table_match_sklearn(tmp_path: Path) -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    truth, scores = random_case(1)
    truth[:, 5] = 0  # a label absent from the test images is left out of macro AUC
    names = [f"l{i}" for i in range(8)]
    result = MultilabelEvaluator().evaluate(truth, scores, names, tmp_path)
    kept = [i for i in range(8) if i != 5]
    assert result.metrics["roc_auc_macro"] == pytest.approx(
        roc_auc_score(truth[:, kept], scores[:, kept], average="macro"))
    assert result.metrics["pr_auc_micro"] == pytest.approx(
        average_precision_score(truth.ravel(), scores.ravel()))
    rows = {r["label"]: r for r in result.per_class}
    assert rows["l2"]["roc_auc"] == pytest.approx(roc_auc_score(truth[:, 2], scores[:, 2]))
    assert np.isnan(rows["l5"]["roc_auc"]) and rows["l5"]["support"] == 0
    assert result.plots[0].read_bytes()[:4] == b"\x89PNG"
    assert "f2@tuned" not in result.metrics


def test_tuned_thresholds_use_the_shared_decision_rule(tmp_path: Path) -> None:
    from artkit.decisions.rule import DecisionRule, decide

    truth, scores = random_case(2)
    per_label = np.linspace(0.2, 0.6, 8).tolist()
    tuned = DecisionRule(tuple(per_label), min_labels=1, max_labels=3)
    result = MultilabelEvaluator().evaluate(truth, scores, [f"l{i}" for i in range(8)],
                                            tmp_path, decision=tuned)
    want = f_beta_per_sample(truth, decide(scores, per_label, min_labels=1, max_labels=3))
    assert result.metrics["f2@tuned"] == pytest.approx(want)
    assert "f2@tuned" in result.headline
