"""The base every Keras model plugin builds on: `train`, `load` and `export_onnx` are
shared; a subclass only says how to build its network and which layers give its CAMs.

This module imports no TensorFlow at import time (plugins are imported to build the CLI).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from artkit.contracts import OnnxGraph, OptionSpec, Task, TrainContext
from artkit.errors import ArtkitError
from artkit_plugins.lib.keras_base.options import TRAINING_OPTIONS, input_size_option

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from artkit.training.runs import Run

PREDICT_BATCH = 32
#: The dense layer after global average pooling: what the CAM computation reads.
DENSE_LAYER = "predictions"


class KerasModelPlugin:
    """Shared behaviour of the Keras networks (AlexNet, InceptionV3, MobileNet, VGG19-CAM).

    Subclasses set `name`, `description`, `default_input_size`, `min_input_size`,
    `model_options`, and implement `build_network`; CAM-capable ones (global average
    pooling + dense head) set `cam_capable` and implement `cam_layers`."""

    name: str
    description: str
    tasks: tuple[Task, ...] = ("multiclass", "multilabel")
    default_input_size: int
    min_input_size: int
    model_options: Sequence[OptionSpec] = ()
    cam_capable: bool = False

    @property
    def options(self) -> list[OptionSpec]:
        return [input_size_option(self.default_input_size, self.min_input_size),
                *self.model_options, *TRAINING_OPTIONS]

    # -- what a subclass provides ----------------------------------------------------------
    def build_network(self, n_labels: int, task: str, size: int,
                      options: dict[str, Any]) -> keras.Model:
        """The network for `n_labels` outputs at `size` px, taking RGB 0..255."""
        raise NotImplementedError

    def cam_layers(self, options: dict[str, Any]) -> tuple[str, str] | None:
        """(last convolutional feature layer, dense layer) for class activation maps, or
        None when the head is not global pooling + dense."""
        return None

    # -- shared ------------------------------------------------------------------------------
    def check_input_size(self, size: int) -> int:
        if size < self.min_input_size:
            raise ArtkitError(f"--input-size {size} is too small for {self.name} "
                              f"(at least {self.min_input_size})")
        return int(size)

    def train(self, ctx: TrainContext) -> None:
        from artkit_plugins.lib.keras_base.trainer import train_keras

        train_keras(self, ctx)

    def scratch_runs_root(self, options: dict[str, Any]) -> Path | None:
        """A temporary runs root for a non-chief worker of a multi-worker training (only
        the chief writes the run folder), else None."""
        from artkit_plugins.lib.keras_base.distribute import scratch_runs_root

        return scratch_runs_root(options.get("strategy", "auto"))

    def trained_network(self, run: Run) -> keras.Model:
        """The run's network with its best weights (rebuilt, then loaded: no download)."""
        from artkit_plugins.lib.keras_base.trainer import WEIGHTS

        config = run.config
        weights = run.path(WEIGHTS)
        if not weights.exists():
            raise ArtkitError(f"no trained weights ({WEIGHTS}) in this run: did the training "
                              "finish?", run.dir)
        options = {**config.options, "weights": "none"}
        model = self.build_network(len(config.labels), config.task,
                                   int(config.extra["input_size"]), options)
        model.load_weights(weights)
        return model

    def load(self, run: Run) -> KerasPredictor:
        config = run.config
        return KerasPredictor(self.trained_network(run), list(config.labels),
                              int(config.extra["input_size"]))

    def export_onnx(self, run: Run, opset: int) -> OnnxGraph:
        from artkit_plugins.lib.keras_onnx import keras_onnx_graph

        config = run.config
        size = int(config.extra["input_size"])
        cams = config.extra.get("cam_layers")
        return keras_onnx_graph(self.trained_network(run), (size, size), opset,
                                preprocessing={"network": self.name},
                                cam_layers=tuple(cams) if cams else None)

    def export_embedding_onnx(self, run: Run, opset: int) -> OnnxGraph:
        """The trained network up to its classifier: output ``embedding``, the features its
        last dense layer reads (the pooled last-conv features of the CAM networks, the last
        hidden layer of AlexNet). Fine-tuned on a collection's own labels, they can
        separate that collection better than ImageNet features for `artkit similar` and
        `artkit duplicates`."""
        import keras

        from artkit_plugins.lib.keras_onnx import keras_onnx_graph

        network = self.trained_network(run)
        features = keras.Model(network.input, network.get_layer(DENSE_LAYER).input,
                               name=f"{self.name}-features")
        size = int(run.config.extra["input_size"])
        return keras_onnx_graph(features, (size, size), opset, output="embedding",
                                preprocessing={"network": f"backbone/{self.name}"})


def _infer(network: keras.Model, images: Any) -> Any:
    return network(images, training=False)


def inference_function(network: keras.Model, size: int) -> Any:
    """`network` at inference on float32 (n, size, size, 3) batches, as one ``tf.function``
    for every batch size (a partial last batch would trace again).

    A ``functools.partial``, not a lambda: TensorFlow counts traces by the Python
    function's code, so the lambdas of many loaded networks add up to its "triggered
    tf.function retracing" warning on stderr, while each partial counts on its own."""
    import functools

    import tensorflow as tf

    spec = tf.TensorSpec((None, size, size, 3), tf.float32)
    return tf.function(functools.partial(_infer, network), input_signature=[spec])


class KerasPredictor:
    """A trained Keras network scoring image files (decoded as everywhere in artkit)."""

    def __init__(self, model: keras.Model, labels: list[str], size: int):
        self.model, self.labels, self.size = model, labels, size
        self._forward = inference_function(model, size)

    def predict_images(self, images: np.ndarray) -> np.ndarray:
        """Scores of a float32 (n, size, size, 3) RGB 0..255 batch."""
        return np.asarray(self._forward(images), dtype=np.float32)

    def predict_paths(self, paths: Sequence[Path]) -> np.ndarray:
        from artkit.console import track
        from artkit_plugins.lib.keras_base.pipeline import iter_image_batches

        paths = list(paths)
        if not paths:
            return np.zeros((0, len(self.labels)), np.float32)
        batches = iter_image_batches(paths, self.size, PREDICT_BATCH)
        parts = [self.predict_images(b) for b in
                 track(batches, "scoring", total=-(-len(paths) // PREDICT_BATCH))]
        return np.concatenate(parts)
