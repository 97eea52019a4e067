"""Threshold tuning: the metric against scikit-learn, the searches against cases whose best
thresholds are known by construction and against a brute-force loop over `decide`, and
`artkit tune-thresholds` end to end."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import fbeta_score, precision_score, recall_score

from artkit.decision import decide
from artkit.thresholds import GRID, ThresholdSearch, label_groups, sample_scores, tune


def separable(n: int, levels: list[float], seed: int = 0, positive_rate: float = 0.3):
    """Label j's positives score levels[j] + 0.005 and its negatives levels[j] - 0.005, so
    F2 = 1 needs exactly the grid threshold nearest levels[j] (the one between the two)."""
    rng = np.random.default_rng(seed)
    truth = rng.random((n, len(levels))) < positive_rate
    truth[np.arange(n), rng.integers(0, len(levels), n)] = True  # every image has a label
    level = np.asarray(levels, dtype=np.float64)[None, :]
    scores = np.where(truth, level + 0.005, level - 0.005).astype(np.float32)
    return scores, truth.astype(np.uint8)


def random_case(n: int = 300, n_labels: int = 12, seed: int = 1):
    rng = np.random.default_rng(seed)
    truth = rng.random((n, n_labels)) < 0.15
    scores = np.clip(rng.normal(0.25 + 0.35 * truth, 0.18), 0, 1).astype(np.float32)
    return scores, truth.astype(np.uint8)


# -- the metric -----------------------------------------------------------------------------
@pytest.mark.parametrize("zero_division", [0.0, 1.0])
def test_sample_scores_match_sklearn_including_empty_rows(zero_division):
    rng = np.random.default_rng(3)
    truth = rng.random((200, 9)) < 0.2
    decisions = rng.random((200, 9)) < 0.25
    truth[:10] = False  # no true label: 0/0 recall; with no prediction either, 0/0 F
    decisions[:5] = False
    decisions[10:15] = False  # predicted nothing: 0/0 precision
    ours = sample_scores(decisions, truth, beta=2.0, zero_division=zero_division)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {"average": "samples", "zero_division": zero_division}
        assert ours["f"] == pytest.approx(fbeta_score(truth, decisions, beta=2, **kw))
        assert ours["precision"] == pytest.approx(precision_score(truth, decisions, **kw))
        assert ours["recall"] == pytest.approx(recall_score(truth, decisions, **kw))
    # image 0: no truth, no prediction -> counts as zero_division
    assert sample_scores(decisions[:1], truth[:1], zero_division=zero_division)["f"] == \
        zero_division


def test_f2_by_hand():
    truth = np.array([[1, 1, 0, 0]])
    decisions = np.array([[1, 0, 1, 1]])  # tp 1, fp 2, fn 1: 5 / (4*2 + 3)
    assert sample_scores(decisions, truth)["f"] == pytest.approx(5 / 11)


# -- the shared decision function --------------------------------------------------------
def test_decide_top_label_shortcut_equals_the_sorted_rule():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(200, 7)).astype(np.float32) / 10  # many ties
    thresholds = rng.choice([0.2, 0.35, 0.9], size=7)
    fast = decide(scores, thresholds, min_labels=1)
    sorted_rule = decide(scores, thresholds, min_labels=1, max_labels=7)  # full sort path
    np.testing.assert_array_equal(fast, sorted_rule)
    assert fast.sum(axis=1).min() >= 1


# -- the searches ---------------------------------------------------------------------------
@pytest.mark.parametrize(("min_labels", "max_labels"), [(0, None), (1, None), (2, 4)])
def test_global_curve_equals_brute_force_over_decide(min_labels, max_labels):
    scores, truth = random_case()
    curve = ThresholdSearch(scores, truth, min_labels=min_labels,
                            max_labels=max_labels).global_curve()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        brute = [fbeta_score(truth, decide(scores, t, min_labels, max_labels), beta=2,
                             average="samples", zero_division=0) for t in GRID]
    np.testing.assert_allclose(curve, brute, atol=1e-12)


def test_global_threshold_known_by_construction():
    scores, truth = separable(400, [0.37, 0.37, 0.37, 0.37])
    result = tune(scores, truth, ["a", "b", "c", "d"], "global", min_labels=0)
    assert result.global_threshold == 0.37
    assert result.curve.max() == pytest.approx(1.0)
    assert sample_scores(decide(scores, result.stored(), 0), truth)["f"] == 1.0


def test_group_thresholds_known_by_construction():
    labels = ["culture::x", "culture::y", "tag::p", "tag::q", "tag::r"]
    scores, truth = separable(400, [0.28, 0.28, 0.10, 0.10, 0.10])
    result = tune(scores, truth, labels, "group", min_labels=0)
    assert result.strategy == "group"
    assert result.group_thresholds == {"culture": 0.28, "tag": 0.10}
    assert result.curve.max() < 0.999  # no single threshold separates both groups
    assert sample_scores(decide(scores, result.stored(), 0), truth)["f"] == 1.0


def test_label_thresholds_known_by_construction():
    levels = [0.37, 0.57, 0.81, 0.15]
    labels = ["a::1", "a::2", "a::3", "a::4"]
    scores, truth = separable(500, levels)
    result = tune(scores, truth, labels, "label", shrinkage=0, min_labels=0)
    np.testing.assert_array_equal(result.thresholds, np.float32(levels))
    assert sample_scores(decide(scores, result.stored(), 0), truth)["f"] == 1.0


@pytest.mark.parametrize(("n", "rate"), [(60, 0.2), (400, 0.3)])
def test_shrinkage_moves_n_over_n_plus_s_of_the_way(n, rate):
    scores, truth = separable(n, [0.37], positive_rate=rate)  # one label: no interplay
    search = ThresholdSearch(scores, truth, min_labels=0)
    positives = int(truth.sum())
    weight = positives / (positives + 10.0)
    expected = GRID[np.argmin(np.abs(GRID - (weight * 0.37 + (1 - weight) * 0.6)))]
    assert search.tune_labels(np.float32([0.6]), shrinkage=10.0)[0] == expected != 0.37
    assert search.tune_labels(np.float32([0.6]), shrinkage=0.0)[0] == np.float32(0.37)


def test_label_without_positives_keeps_group_threshold_and_is_reported():
    labels = ["style::a", "style::b", "tag::c", "tag::never"]
    scores, truth = separable(300, [0.3, 0.3, 0.12, 0.5])
    truth[:, 3] = 0
    scores[:, 3] = 0.95  # confidently wrong everywhere: would want 0.99 if it were tuned
    result = tune(scores, truth, labels, "label")
    assert result.no_positive == ["tag::never"]
    assert result.thresholds[3] == np.float32(result.group_thresholds["tag"])
    assert any("no positive" in note for note in result.notes)


def test_no_groups_falls_back_to_global_with_a_note():
    scores, truth = random_case()
    labels = [f"label{j}" for j in range(scores.shape[1])]
    assert label_groups(labels) == {}
    result = tune(scores, truth, labels, "group")
    assert result.strategy == "global"
    assert result.notes and "global" in result.notes[0]
    assert "per_label" not in result.stored()
    assert set(np.unique(result.thresholds)) == {np.float32(result.global_threshold)}


def test_each_strategy_is_scored_exactly_as_decide_applies_it():
    scores, truth = random_case(n=400, n_labels=20, seed=5)
    labels = [f"{'g' if j % 2 else 'h'}::{j}" for j in range(20)]
    for min_labels, max_labels in [(1, None), (0, 3), (2, 5)]:
        search = ThresholdSearch(scores, truth, min_labels=min_labels, max_labels=max_labels)
        found = {}
        for strategy in ("global", "group", "label"):
            result = tune(scores, truth, labels, strategy, min_labels=min_labels,
                          max_labels=max_labels, shrinkage=0)
            decided = decide(scores, result.stored(), min_labels, max_labels)
            found[strategy] = sample_scores(decided, truth)["f"]
            assert search.score(result.thresholds) == pytest.approx(found[strategy], abs=1e-12)
        # each ascent starts from the previous strategy's answer and never goes down
        assert found["global"] <= found["group"] + 1e-12 <= found["label"] + 2e-12
