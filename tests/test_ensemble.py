"""`artkit export average`: several exported classifiers as one ONNX model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from typer.testing import CliRunner

from artkit.cli.main import app
from artkit.formats.model_card import ModelCard

runner = CliRunner()
SIZE = 8


def _toy_classifier(path: Path, seed: int, task: str = "multiclass",
                    labels: tuple[str, ...] = ("painting", "background")) -> Path:
    """A tiny exported-like image classifier: the mean colour times a random matrix, its
    softmax (or sigmoid), and per-pixel maps of the same matrix as 'cams'."""
    import onnx
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 0.005, (3, len(labels))).astype(np.float32)
    last = "Softmax" if task == "multiclass" else "Sigmoid"
    nodes = [helper.make_node("MatMul", ["images", "w"], ["cams"]),
             helper.make_node("ReduceMean", ["cams"], ["logits"], axes=[1, 2], keepdims=0),
             helper.make_node(last, ["logits"], ["scores"], **(
                 {"axis": -1} if task == "multiclass" else {}))]
    n = len(labels)
    graph = helper.make_graph(
        nodes, "toy", [helper.make_tensor_value_info("images", onnx.TensorProto.FLOAT,
                                                     [None, SIZE, SIZE, 3])],
        [helper.make_tensor_value_info("cams", onnx.TensorProto.FLOAT, [None, SIZE, SIZE, n]),
         helper.make_tensor_value_info("scores", onnx.TensorProto.FLOAT, [None, n])],
        initializer=[numpy_helper.from_array(weights, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    ModelCard(model="toy", task=task, labels=list(labels), input_kind="image",
              input_size=(SIZE, SIZE), outputs=["cams", "scores"],
              test_metrics={"accuracy": 0.5 + seed / 100}).embed(model)
    onnx.save(model, str(path))
    return path


def _run(path: Path, images: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"images": images}), strict=True))


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_the_average_is_the_mean_logit_of_its_members(task: str, tmp_path: Path) -> None:
    members = [_toy_classifier(tmp_path / f"m{k}.onnx", k, task, ("a", "b", "c"))
               for k in range(3)]
    out = tmp_path / "mean.onnx"
    result = runner.invoke(app, ["export", "average", *map(str, members), "-o", str(out)])
    assert result.exit_code == 0, result.output
    images = np.random.default_rng(9).uniform(0, 255, (4, SIZE, SIZE, 3)).astype(np.float32)
    outputs = [_run(m, images) for m in members]
    probabilities = np.array([o["scores"] for o in outputs], np.float64)
    if task == "multiclass":
        mean_log = np.log(probabilities).mean(axis=0)
        expected = np.exp(mean_log) / np.exp(mean_log).sum(axis=1, keepdims=True)
    else:
        mean_logit = np.log(probabilities / (1 - probabilities)).mean(axis=0)
        expected = 1 / (1 + np.exp(-mean_logit))
    averaged = _run(out, images)
    assert averaged["scores"] == pytest.approx(expected, abs=1e-5)
    assert not np.allclose(expected, probabilities[0], atol=1e-3)  # the members differ
    assert averaged["cams"] == pytest.approx(np.mean([o["cams"] for o in outputs], axis=0),
                                             rel=1e-5, abs=1e-5)
    card = ModelCard.read(out)
    assert card.labels == ["a", "b", "c"] and card.task == task and card.test_metrics == {}
    assert card.extra["ensemble"]["members"] == ["m0.onnx", "m1.onnx", "m2.onnx"]
    assert [m["accuracy"] for m in card.extra["ensemble"]["members_test_metrics"]] == \
        [0.5, 0.51, 0.52]


def test_models_that_cannot_be_averaged_get_a_one_line_error(tmp_path: Path) -> None:
    first = _toy_classifier(tmp_path / "first.onnx", 0)
    other = _toy_classifier(tmp_path / "other.onnx", 1, labels=("painting", "sculpture"))
    out = tmp_path / "mean.onnx"
    result = runner.invoke(app, ["export", "average", str(first), str(other), "-o", str(out)])
    assert result.exit_code != 0 and not out.exists()
    assert "other.onnx" in result.output and "labels differs" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["export", "average", str(first), "-o", str(out)])
    assert result.exit_code != 0 and "at least two models" in result.output
