"""Threshold tuning: the metric against scikit-learn, the searches against cases whose best
thresholds are known by construction and against a brute-force loop over `decide`, and
`artkit tune-thresholds` end to end."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import fbeta_score, precision_score, recall_score

from artkit.decisions.rule import DecisionRule, decide
from artkit.decisions.tuning import GRID, ThresholdSearch, label_groups, sample_scores, tune


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
    assert sample_scores(result.rule(min_labels=0).apply(scores), truth)["f"] == 1.0


def test_group_thresholds_known_by_construction():
    labels = ["culture::x", "culture::y", "tag::p", "tag::q", "tag::r"]
    scores, truth = separable(400, [0.28, 0.28, 0.10, 0.10, 0.10])
    result = tune(scores, truth, labels, "group", min_labels=0)
    assert result.strategy == "group"
    assert result.group_thresholds == {"culture": 0.28, "tag": 0.10}
    assert result.curve.max() < 0.999  # no single threshold separates both groups
    assert sample_scores(result.rule(min_labels=0).apply(scores), truth)["f"] == 1.0


def test_label_thresholds_known_by_construction():
    levels = [0.37, 0.57, 0.81, 0.15]
    labels = ["a::1", "a::2", "a::3", "a::4"]
    scores, truth = separable(500, levels)
    result = tune(scores, truth, labels, "label", shrinkage=0, min_labels=0)
    np.testing.assert_array_equal(result.thresholds, np.float32(levels))
    assert sample_scores(result.rule(min_labels=0).apply(scores), truth)["f"] == 1.0


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
    assert result.rule().thresholds == result.global_threshold  # one number, not per label
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
            decided = result.rule(min_labels, max_labels).apply(scores)
            found[strategy] = sample_scores(decided, truth)["f"]
            assert search.score(result.thresholds) == pytest.approx(found[strategy], abs=1e-12)
        # each ascent starts from the previous strategy's answer and never goes down
        assert found["global"] <= found["group"] + 1e-12 <= found["label"] + 2e-12


# -- the command, end to end ----------------------------------------------------------------
def invoke(*args: str):
    from typer.testing import CliRunner

    from artkit.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args])


def hand_made_onnx(path, labels: list[str], task: str = "multilabel", metadata: bool = True,
                   size: int = 16):
    """A tiny image model written with onnx.helper (no TensorFlow): mean colour -> linear
    -> sigmoid, with artkit metadata, so the command runs on a real onnxruntime session."""
    import json

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from artkit import __version__

    rng = np.random.default_rng(0)
    weights = rng.normal(0, 0.08, (3, len(labels))).astype(np.float32)
    bias = (-128.0 * weights.sum(axis=0) - 1.0).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2], keepdims=0),
         helper.make_node("MatMul", ["mean", "w"], ["z"]),
         helper.make_node("Add", ["z", "b"], ["logits"]),
         helper.make_node("Sigmoid", ["logits"], ["scores"])],
        "hand_made",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [None, size, size, 3])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, len(labels)])],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=9)
    if metadata:  # written as artkit 0.1 did (model card schema 1): it must still load
        entry = model.metadata_props.add()
        entry.key, entry.value = "artkit", json.dumps({
            "artkit_version": __version__, "model": "hand-made", "task": task,
            "labels": labels, "input_kind": "image", "outputs": ["scores"],
            "input_size": [size, size], "colour_order": "RGB",
            "preprocessing": {"size": [size, size]}})
    onnx.save(model, str(path))
    return path


def onnx_scores(path, image_paths):
    from artkit.formats.model_card import ModelCard
    from artkit.runtime.scoring import score_batches
    from artkit.runtime.session import create_session

    session = create_session(path, device="cpu")
    card = ModelCard.from_session(session, path)
    batches = list(score_batches(session, card, image_paths))
    return np.concatenate([b.outputs["scores"] for b in batches]), card


def test_onnx_tuning_evaluation_and_predict_agree(synth_multilabel, tmp_path):
    """Tune an ONNX file into a copy, then check on the test split that the tuning report,
    the multilabel evaluator and `artkit predict` (reading the new metadata) give the same
    decisions and the same F2."""
    from artkit.atomic import read_json
    from artkit.data.dataset import load_dataset
    from artkit.data.splits import make_split
    from artkit.formats.model_card import ModelCard
    from artkit_plugins.eval_multilabel import MultilabelEvaluator

    dataset = load_dataset(synth_multilabel)
    source = hand_made_onnx(tmp_path / "model.onnx", dataset.labels)
    tuned = tmp_path / "tuned.onnx"
    result = invoke("tune-thresholds", source, "--data", synth_multilabel, "--strategy",
                    "label", "--max-labels", "6", "--output", tuned, "--quiet")
    assert result.exit_code == 0, result.output
    assert ModelCard.read(source).decision == DecisionRule()  # the source is left alone
    card = ModelCard.read(tuned)
    assert card.schema_version == 2 and card.decision is not None
    assert card.decision.min_labels == 1 and card.decision.max_labels == 6
    assert len(card.decision.thresholds) == len(dataset.labels)
    report = read_json(tmp_path / "tuned-thresholds" / "thresholds.json")
    assert report["strategy"] == "label" and report["n_images"]["test"] > 0
    assert (tmp_path / "tuned-thresholds" / "f_vs_threshold.png").read_bytes()[:4] == \
        b"\x89PNG"

    test = make_split(dataset).test
    paths = [dataset.paths[i] for i in test]
    truth = dataset.targets[test]
    scores, _ = onnx_scores(tuned, paths)
    decided = card.decision.apply(scores)
    expected = sample_scores(decided, truth)["f"]
    assert report["table"][-1]["test F2"] == pytest.approx(expected, abs=1e-12)

    evaluation = MultilabelEvaluator().evaluate(truth, scores, dataset.labels,
                                                tmp_path / "eval",
                                                decision=card.decision)
    assert evaluation.metrics["f2@tuned"] == pytest.approx(expected, abs=1e-12)

    listing = tmp_path / "test_images.txt"
    listing.write_text("\n".join(str(p) for p in paths))
    predicted = invoke("predict", listing, "--model", tuned, "--output",
                       tmp_path / "p.jsonl", "--quiet")
    assert predicted.exit_code == 0, predicted.output
    import json

    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    column = {name: j for j, name in enumerate(dataset.labels)}
    from_predict = np.zeros_like(decided)
    for i, row in enumerate(rows):
        from_predict[i, [column[name] for name in row["labels"]]] = True
    np.testing.assert_array_equal(from_predict, decided)


def test_onnx_without_multilabel_metadata_is_a_clear_error(synth_multilabel, tmp_path):
    labels = ["culture::a", "tag::b"]
    plain = hand_made_onnx(tmp_path / "plain.onnx", labels, metadata=False)
    result = invoke("tune-thresholds", plain, "--data", synth_multilabel)
    assert result.exit_code == 1
    assert "no artkit metadata" in result.output and "Traceback" not in result.output
    multiclass = hand_made_onnx(tmp_path / "mc.onnx", labels, task="multiclass")
    result = invoke("tune-thresholds", multiclass, "--data", synth_multilabel)
    assert result.exit_code == 1 and "not a multi-label model" in result.output
    orphan = hand_made_onnx(tmp_path / "orphan.onnx", labels)
    result = invoke("tune-thresholds", orphan)
    assert result.exit_code == 1 and "--data" in result.output


@pytest.mark.slow
def test_run_tuning_is_used_by_evaluate(synth_multilabel):
    """A tiny multi-label MobileNet run: tune-thresholds writes its config, and `artkit
    evaluate` then reports the same test F2 as the tuning table."""
    from artkit.atomic import read_json
    from artkit.training.runs import resolve_run

    trained = invoke("train", "mobilenet", "--data", synth_multilabel, "--alpha", "0.25",
                     "--input-size", "32", "--epochs", "1", "--weights", "none",
                     "--name", "tiny", "--quiet")
    assert trained.exit_code == 0, trained.output
    result = invoke("tune-thresholds", "mobilenet/tiny", "--strategy", "group", "--quiet")
    assert result.exit_code == 0, result.output
    assert "group thresholds" in result.output
    run = resolve_run("mobilenet/tiny")
    config = run.config
    assert set(config.decision.groups) == {"culture", "tag"}
    assert config.decision.min_labels == 1 and config.decision.max_labels is None
    report = read_json(run.path("thresholds", "thresholds.json"))
    assert invoke("evaluate", "mobilenet/tiny", "--quiet").exit_code == 0
    assert run.metrics["metrics"]["f2@tuned"] == pytest.approx(report["table"][-1]["test F2"],
                                                               abs=1e-6)
    rejected = invoke("tune-thresholds", "mobilenet/tiny", "--output", "x.onnx")
    assert rejected.exit_code == 1 and "ONNX" in result.output + rejected.output
