"""Bootstrap confidence intervals (artkit.metrics.bootstrap) and their place in the evaluators."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from artkit.decisions.rule import DecisionRule
from artkit.metrics import bootstrap
from artkit.metrics.fbeta import f_beta_per_sample
from artkit_plugins.eval_multiclass import MulticlassEvaluator
from artkit_plugins.eval_multilabel import MultilabelEvaluator, f2_each


def noisy_predictions(n: int, k: int, right: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    return y, np.where(rng.random(n) < right, y, rng.integers(0, k, n))


def test_vectorised_statistics_equal_sklearn_on_every_resample():
    y, p = noisy_predictions(60, 6, 0.6, seed=1)
    idx = np.random.default_rng(2).integers(0, 60, (25, 60))
    idx[0] = 0  # a resample holding one image (one class) only
    f1 = bootstrap.macro_f1(y, p, 6)(idx)
    balanced = bootstrap.balanced_accuracy(y, p, 6)(idx)
    accuracy = bootstrap.mean_of(y == p)(idx)
    for b, rows in enumerate(idx):
        t, q = y[rows], p[rows]
        assert f1[b] == pytest.approx(f1_score(t, q, labels=np.arange(6), average="macro",
                                               zero_division=0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
            assert balanced[b] == pytest.approx(balanced_accuracy_score(t, q))
        assert accuracy[b] == pytest.approx(accuracy_score(t, q))


def test_interval_matches_a_plain_percentile_bootstrap_and_the_normal_approximation():
    hits = np.zeros(400)
    hits[:300] = 1  # accuracy 0.75 on 400 images
    low, high = bootstrap.interval(bootstrap.mean_of(hits), len(hits))
    # an independent percentile bootstrap, written out by hand
    rng = np.random.default_rng(123)
    means = hits[rng.integers(0, len(hits), (4000, len(hits)))].mean(axis=1)
    ref_low, ref_high = np.percentile(means, [2.5, 97.5])
    assert low == pytest.approx(ref_low, abs=0.012) and high == pytest.approx(ref_high, abs=0.012)
    half = 1.96 * np.sqrt(0.75 * 0.25 / 400)  # the binomial normal approximation
    assert low == pytest.approx(0.75 - half, abs=0.012)
    assert high == pytest.approx(0.75 + half, abs=0.012)
    assert bootstrap.interval(bootstrap.mean_of(hits), len(hits)) == (low, high)  # seeded


def test_interval_of_a_constant_and_of_one_image():
    assert bootstrap.interval(bootstrap.mean_of(np.ones(50)), 50) == (1.0, 1.0)
    assert bootstrap.interval(bootstrap.mean_of(np.array([0.4])), 1) == (0.4, 0.4)


def test_multiclass_evaluator_reports_intervals_around_its_metrics(tmp_path):
    y, p = noisy_predictions(120, 4, 0.7, seed=3)
    scores = np.eye(4)[p] + 0.01
    result = MulticlassEvaluator().evaluate(y, scores, ["a", "b", "c", "d"], tmp_path)
    assert set(result.intervals) == {"accuracy", "balanced_accuracy", "macro_f1"}
    for name, (low, high) in result.intervals.items():
        assert low < result.metrics[name] < high
        assert high - low < 0.3
    assert result.metrics["macro_f1"] == pytest.approx(
        bootstrap.macro_f1(y, p, 4)(np.arange(120)[None])[0])


def test_multilabel_evaluator_reports_f2_intervals(tmp_path):
    rng = np.random.default_rng(4)
    truth = (rng.random((80, 6)) < 0.3).astype(np.uint8)
    scores = np.clip(truth * 0.6 + rng.random((80, 6)) * 0.5, 0, 1).astype(np.float32)
    rule = DecisionRule(0.35)
    result = MultilabelEvaluator().evaluate(truth, scores, list("abcdef"), tmp_path,
                                            decision=rule)
    assert {"f2@0.2", "f2@0.5", "f2@tuned"} <= set(result.intervals)
    decisions = rule.apply(scores)
    assert f2_each(truth, decisions).mean() == pytest.approx(
        f_beta_per_sample(truth, decisions))
    for name, (low, high) in result.intervals.items():
        assert low <= result.metrics[name] <= high


def test_intervals_reach_metrics_json_and_the_report(synth_multiclass):
    import json

    import artkit
    from artkit.reports.run_report import intervals

    run = artkit.train("bow-svm", data=synth_multiclass, vocab="16", cv_folds=2,
                       grid_c="1", grid_gamma="scale", seed=0)
    stored = json.loads((run.dir / "metrics.json").read_text())
    assert set(stored["intervals"]) == {"accuracy", "balanced_accuracy", "macro_f1"}
    assert intervals(stored)["accuracy"] == tuple(stored["intervals"]["accuracy"])
    assert run.result().intervals == intervals(stored)


def test_make_folds_test_every_image_once_stratified(synth_multiclass, synth_multilabel):
    from artkit.data.dataset import load_dataset
    from artkit.data.splits import make_folds

    for root in (synth_multiclass, synth_multilabel):
        dataset = load_dataset(root)
        folds = make_folds(dataset, 3, seed=0)
        tests = np.concatenate([f.test for f in folds])
        assert sorted(tests.tolist()) == list(range(len(dataset)))
        for fold in folds:
            parts = [set(fold.train), set(fold.val), set(fold.test)]
            assert sum(map(len, parts)) == len(dataset) and not parts[0] & parts[2]
            assert not parts[1] & parts[2] and not parts[0] & parts[1]
        if dataset.task == "multiclass":  # every class in every test fold, evenly
            counts = np.array([np.bincount(dataset.targets[f.test],
                                           minlength=len(dataset.labels)) for f in folds])
            assert counts.min() >= 1 and (counts.max(axis=0) - counts.min(axis=0)).max() <= 1


def test_cross_validate_reports_mean_and_spread_over_folds(synth_multiclass):
    import json

    from typer.testing import CliRunner

    import artkit
    from artkit.cli.main import app

    cv = artkit.cross_validate("bow-svm", 2, data=synth_multiclass, min_class_images=5,
                               vocab="16", cv_folds=2, grid_c="1", grid_gamma="scale")
    assert [run.dir.name for run in cv.runs] == ["cv1-fold1", "cv1-fold2"]
    accuracies = [run.result().metrics["accuracy"] for run in cv.runs]
    assert cv.summary["accuracy"]["mean"] == pytest.approx(np.mean(accuracies))
    assert cv.summary["accuracy"]["std"] == pytest.approx(np.std(accuracies, ddof=1))
    split_tests = [set(json.loads((r.dir / "split.json").read_text())["test"]) for r in cv.runs]
    assert not split_tests[0] & split_tests[1]
    assert json.loads(cv.path.read_text())["summary"] == cv.summary

    result = CliRunner().invoke(app, ["train", "bow-svm", "--data", str(synth_multiclass),
                                      "--cv", "2", "--min-class-images", "5", "--vocab", "16",
                                      "--cv-folds", "2",
                                      "--grid-c", "1", "--grid-gamma", "scale", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "2-fold cross-validation" in result.output and "cv2-cv.json" in result.output
    assert "macro_f1" in result.output
