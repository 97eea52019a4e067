"""The Python API without the CLI runner: load/predict, detect, train, evaluate, export and
tune, typed formats (model card, run config, decision rule), errors and progress events."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from onnx_helpers import SIZE, exported_tiny_model, finished_run, register_tiny_plugin

import artkit
from artkit.decisions.rule import DecisionRule, decide
from artkit.formats.model_card import ModelCard, NotArtkitModelError
from artkit.formats.run_config import RunConfig

pytest.importorskip("tf2onnx")


@pytest.fixture(scope="module")
def tiny_model(synth_multiclass: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported_tiny_model(synth_multiclass, tmp_path_factory.mktemp("api-model"))


def _ort_scores(model: Path, paths: list[Path]) -> np.ndarray:
    import onnxruntime as ort

    from artkit.data.decode import load_resized

    images = np.stack([load_resized(p, SIZE)[0] for p in paths]).astype(np.float32)
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return session.run(["scores"], {"images": images})[0]


def test_predict_streams_typed_results_in_input_order(tiny_model: Path,
                                                      synth_multiclass: Path,
                                                      tmp_path: Path) -> None:
    good = sorted(synth_multiclass.rglob("*.jpg"))[:7]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    inputs = [*good[:3], broken, *good[3:]]
    model = artkit.load(tiny_model)
    assert model.task == "multiclass" and model.card.model == "tiny-cnn"
    stream = model.predict(inputs, batch_size=3)
    assert not isinstance(stream, list)  # a generator: nothing is scored before it is asked
    results = list(stream)
    assert [p.path for p in results] == inputs and [p.index for p in results] == list(range(8))
    assert results[3].status == "error" and "broken.jpg" not in (results[3].error or "x")
    assert results[3].to_dict() == {"path": str(broken), "status": "error",
                                    "error": results[3].error}
    ok = [p for p in results if p.ok]
    want = _ort_scores(tiny_model, [p.path for p in ok])
    np.testing.assert_allclose(np.stack([p.scores for p in ok]), want, atol=1e-5)
    assert [p.label for p in ok] == [model.labels[i] for i in want.argmax(axis=1)]
    row = ok[0].to_dict()
    assert row["label"] == ok[0].label and set(row["scores"]) == set(model.labels)
    json.dumps(row)  # plain JSON
    assert ok[0].top[0] == (ok[0].label, pytest.approx(float(want[0].max())))


def test_multilabel_decision_rule_and_override(synth_multilabel: Path, tmp_path: Path) -> None:
    register_tiny_plugin()
    run = finished_run("tiny-cnn", synth_multilabel, decision=DecisionRule(0.3, max_labels=5))
    model = artkit.load(artkit.export(run, tmp_path / "ml.onnx", check_images=2).path)
    assert model.card.decision == DecisionRule(0.3, 1, 5)
    paths = sorted((synth_multilabel / "images").iterdir())[:6]
    scores = _ort_scores(model.path, paths)
    for rule in (None, DecisionRule(0.05, min_labels=0, max_labels=2)):
        used = rule or model.card.decision
        want = decide(scores, used.thresholds, used.min_labels, used.max_labels)
        got = [set(p.labels) for p in model.predict(paths, decision=rule)]
        assert got == [{model.labels[j] for j in np.flatnonzero(row)} for row in want]


def test_progress_goes_to_the_callback_and_nothing_is_printed(tiny_model: Path,
                                                              synth_multiclass: Path,
                                                              capsys: pytest.CaptureFixture
                                                              ) -> None:
    from artkit.console import Reporter, set_reporter

    set_reporter(Reporter())  # a library user's process: no CLI reporter installed
    events: list[artkit.Event] = []
    paths = sorted(synth_multiclass.rglob("*.jpg"))[:5]
    assert len(list(artkit.load(tiny_model).predict(paths, batch_size=2,
                                                    progress=events.append))) == 5
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and "advance" in kinds
    assert events[-1].completed == 5 and events[-1].total == 5
    list(artkit.load(tiny_model).predict(paths))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_errors_are_artkit_errors(tmp_path: Path) -> None:
    with pytest.raises(artkit.ArtkitError, match="model file not found"):
        artkit.load(tmp_path / "missing.onnx")
    with pytest.raises(artkit.PluginError, match="has no option"):
        artkit.train("bow-svm", no_such_option=3)
    with pytest.raises(artkit.PluginError, match="unknown model"):
        artkit.train("no-such-model")


def test_detect_through_the_api(synth_detection: Path) -> None:
    from artkit.detection.coco import read_coco_truth

    photos = sorted((synth_detection / "images").iterdir())
    found = list(artkit.detect(photos, method="frames"))
    assert [d.path for d in found] == photos and all(d.ok for d in found)
    assert all(d.boxes.shape == (len(d.scores), 4) for d in found)
    truth = read_coco_truth(synth_detection / "annotations_coco.json")
    report = artkit.evaluate_detections(found, truth, synth_detection.parent / "eval", 0.2)
    assert report.n_photos == len(photos) and report.result.metrics["recall50"] > 0.3
    assert found[0].to_dict()["boxes"] == found[0].boxes.round(1).tolist()


def test_detect_results_leave_the_api_as_plain_types(synth_detection: Path) -> None:
    """evaluate_detections takes the annotations file itself; Detections have a length;
    scores leave as Python floats and paths as pathlib.Path."""
    gt = synth_detection / "annotations_coco.json"
    photos = sorted((synth_detection / "images").iterdir())[:4]
    found = artkit.detect([str(p) for p in photos], method="frames", crops="crops")
    detections = list(found)
    assert all(isinstance(d.path, Path) for d in detections)
    assert all(isinstance(c, Path) for d in detections for c in d.crops)
    assert [len(d.candidates) for d in detections] == [len(d.candidates.scores)
                                                        for d in detections]
    row = detections[0].to_dict()
    assert row["scores"] and all(type(s) is float for s in row["scores"])
    for coco in (gt, str(gt)):
        report = artkit.evaluate_detections(detections, coco, Path("eval"))
        assert report.n_photos == 4 and type(report.metrics["ap50"]) is float
        assert all(isinstance(p, Path) for p in report.plots)
    assert found.paths.boxes is None and found.metrics is None  # no output, no gt: no file
    assert found.photos == 4 and found.reported == sum(len(d.boxes) for d in detections)


def test_train_evaluate_export_tune_without_the_cli(synth_multiclass: Path,
                                                   tmp_path: Path) -> None:
    run = artkit.train("bow-svm", data=synth_multiclass, vocab="16", cv_folds=2,
                       grid_c="1", grid_gamma="scale", name="api")
    assert isinstance(run.config, RunConfig) and run.config.options["vocab"] == "16"
    assert run.config.options["features"]  # the plugin's default filled in
    accuracy = run.result().metrics["accuracy"]
    assert run.evaluate().metrics["accuracy"] == pytest.approx(accuracy)
    assert artkit.get_run("bow-svm/api").dir == run.dir
    exported = artkit.export(run, tmp_path / "bow.onnx")
    assert exported.card.model == "bow-svm" and exported.path.is_file()
    with pytest.raises(artkit.ArtkitError, match="multi-label"):
        artkit.tune_thresholds(run)


# -- typed formats -----------------------------------------------------------------------
def test_decision_rule_round_trip_and_legacy_forms() -> None:
    rule = DecisionRule((0.2, 0.4, 0.6), min_labels=0, max_labels=2, strategy="label",
                        global_threshold=0.3, groups={"tag": 0.3})
    assert DecisionRule.from_json(json.loads(json.dumps(rule.to_json()))) == rule
    legacy = DecisionRule.from_parts({"per_label": [0.2, 0.4, 0.6], "min_labels": 0,
                                      "max_labels": 2}, 1, None)
    assert legacy.thresholds == (0.2, 0.4, 0.6) and legacy.min_labels == 0
    assert legacy.max_labels == 2
    scores = np.array([[0.3, 0.5, 0.7], [0.1, 0.1, 0.1]], np.float32)
    # all three pass their thresholds; max_labels=2 keeps the two best (0.7, 0.5)
    np.testing.assert_array_equal(rule.apply(scores), [[False, True, True],
                                                       [False, False, False]])
    with pytest.raises(ValueError, match="max_labels"):
        DecisionRule(0.5, min_labels=3, max_labels=2)


def test_model_card_schema_versions(tiny_model: Path) -> None:
    card = ModelCard.read(tiny_model)
    stored = card.to_json()
    assert stored["schema_version"] == 2 and ModelCard.from_json(stored) == card
    with pytest.raises(NotArtkitModelError, match="schema 3"):
        ModelCard.from_json({**stored, "schema_version": 3}, "x.onnx")
    missing = {k: v for k, v in stored.items() if k != "labels"}
    with pytest.raises(NotArtkitModelError, match="lacks labels"):
        ModelCard.from_json(missing, "x.onnx")
    old = {k: v for k, v in stored.items() if k not in ("schema_version", "decision")}
    old.update(task="multilabel", thresholds={"global": 0.25}, min_labels=0, max_labels=3)
    assert ModelCard.from_json(old).decision == DecisionRule(0.25, 0, 3)
    future = {**stored, "new_field": [1, 2]}  # unknown keys survive a rewrite
    assert ModelCard.from_json(future).to_json()["new_field"] == [1, 2]


def test_run_config_reads_artkit_0_1_files(tmp_path: Path) -> None:
    old = {"artkit_version": "0.1.0", "model": "mobilenet", "task": "multilabel",
           "labels": ["a", "b"], "data": "/data", "options": {"epochs": 3},
           "thresholds": {"per_label": [0.2, 0.7], "min_labels": 1, "max_labels": None,
                          "strategy": "label"}, "min_labels": 1, "max_labels": None,
           "input_size": 96, "cam_layers": None}
    config = RunConfig.from_json(old)
    assert config.decision == DecisionRule((0.2, 0.7), 1, None, strategy="label")
    assert config.extra == {"input_size": 96, "cam_layers": None}
    stored = config.to_json()
    assert "thresholds" not in stored and stored["decision"]["thresholds"]["per_label"]
    assert RunConfig.from_json(stored) == config
    with pytest.raises(artkit.ArtkitError, match="run config schema 9"):
        RunConfig.from_json({**stored, "schema_version": 9}, tmp_path / "config.json")
