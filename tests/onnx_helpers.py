"""Test helpers for export and predict: a tiny CAM network as a model plugin, and finished
run folders built without the evaluators (so these tests depend on no other plugin).

The network is the real thing at toy size (conv, conv, global average pooling, dense) and
goes through the same shared converter as the built-in Keras models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from artkit.contracts import OnnxGraph, TrainContext
from artkit.data.dataset import load_dataset
from artkit.data.decode import load_resized
from artkit.data.splits import make_split
from artkit.decisions.rule import DecisionRule
from artkit.formats.run_config import RunConfig
from artkit.hookspecs import hookimpl
from artkit.training.runs import Run, new_run

SIZE = (24, 24)
PREPROCESSING = {"scale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}


def _images(paths: list[Path]) -> np.ndarray:
    return np.stack([load_resized(p, SIZE)[0] for p in paths]).astype(np.float32)


def _build(n_labels: int, multilabel: bool):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((*SIZE, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv_a")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="last_conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    activation = "sigmoid" if multilabel else "softmax"
    outputs = keras.layers.Dense(n_labels, activation=activation, name="classifier")(x)
    return keras.Model(inputs, outputs)


def _normalise(images: np.ndarray) -> np.ndarray:
    mean, std = np.float32(PREPROCESSING["mean"]), np.float32(PREPROCESSING["std"])
    return (images * np.float32(PREPROCESSING["scale"]) - mean) / std


class TinyPredictor:
    def __init__(self, model, labels: list[str]):
        self.model, self.labels = model, labels

    def predict_paths(self, paths):
        return np.asarray(self.model(_normalise(_images(list(paths)))))


class TinyCnn:
    name = "tiny-cnn"
    description = "Test-only CAM network at toy size."
    tasks = ("multiclass", "multilabel")
    options = ()

    def train(self, ctx: TrainContext) -> None:
        import keras

        multilabel = ctx.dataset.task == "multilabel"
        model = _build(len(ctx.dataset.labels), multilabel)
        x = _normalise(_images([ctx.dataset.paths[i] for i in ctx.train_idx]))
        y = ctx.dataset.targets[ctx.train_idx]
        loss = "binary_crossentropy" if multilabel else "sparse_categorical_crossentropy"
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss)
        model.fit(x, y.astype(np.float32) if multilabel else y, epochs=4, batch_size=16,
                  verbose=0)
        model.save(ctx.run.path("model.keras"))

    def _model(self, run: Run):
        import keras

        return keras.models.load_model(run.path("model.keras"))

    def load(self, run: Run) -> TinyPredictor:
        return TinyPredictor(self._model(run), run.config.labels)

    def export_onnx(self, run: Run, opset: int) -> OnnxGraph:
        from artkit_plugins.lib.keras_onnx import keras_onnx_graph

        return keras_onnx_graph(self._model(run), SIZE, opset, dict(PREPROCESSING),
                                cam_layers=("last_conv", "classifier"))


class _ModelPlugin:
    """A plugin object registering one test model (what a third-party module would do)."""

    def __init__(self, model: Any, module: str):
        self.model, self.__name__ = model, module

    @hookimpl
    def register_models(self, register) -> None:
        register(self.model)


def register_test_model(model: Any, module: str) -> None:
    """Register `model` once per process, as the plugin module `module`."""
    from artkit import registry

    loaded = registry.get_registry()
    if model.name not in loaded.of_kind(registry.Kind.MODEL):
        loaded.add(_ModelPlugin(model, module), name=module)


def register_tiny_plugin() -> None:
    register_test_model(TinyCnn(), "tests.onnx_helpers")


def finished_run(model_name: str, data: Path, options: dict | None = None,
                 decision: DecisionRule | None = None) -> Run:
    """Train `model_name` on `data` into a run folder that looks finished (metrics.json),
    without calling the evaluator plugins (their tests cover them)."""
    from artkit import registry

    model = registry.get("model", model_name)
    dataset = load_dataset(data)
    split = make_split(dataset, seed=0)
    run = new_run(model_name)
    run.write_config(RunConfig(
        model=model_name, options=options or {}, task=dataset.task, labels=dataset.labels,
        data=str(dataset.root.resolve()), format=dataset.reader, seed=0, decision=decision))
    run.write_json("split.json", split.to_json(dataset))
    model.train(TrainContext(dataset=dataset, train_idx=split.train, val_idx=split.val,
                             test_idx=split.test, run=run, options=options or {}, seed=0))
    run.write_json("metrics.json", {"split": "test", "metrics": {"accuracy": 0.5},
                                    "headline": ["accuracy"]})
    return run


def exported_tiny_model(data: Path, folder: Path, name: str = "tiny.onnx",
                        decision: DecisionRule | None = None) -> Path:
    """A tiny-cnn trained on `data` and exported into `folder`: a real artkit ONNX file in
    seconds (its run folder stays under `folder`)."""
    import pytest

    from artkit.onnx_export.run_export import export_run

    register_tiny_plugin()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARTKIT_RUNS", str(folder / "runs"))
        run = finished_run("tiny-cnn", data, decision=decision)
        return export_run(run, output=folder / name, check_images=4).path
