"""Run ``artkit train tiny-cnn ...`` in a fresh process, as TensorFlow's own distribution
tests do: the CPU can be split into logical devices first (which must happen before
TensorFlow initialises, hence a process of its own), and a tiny convolutional network is
registered as a model plugin so a few real training steps take seconds.

Usage: python distribute_script.py N_LOGICAL_CPUS STRATEGY[,STRATEGY...] TRAIN_ARGS...
trains once per strategy (run folder named after it); the exit status is the first failure's.
"""

from __future__ import annotations

import sys
from typing import Any

from artkit.hookspecs import hookimpl
from artkit_plugins.lib.keras_base.plugin import DENSE_LAYER, KerasModelPlugin


class TinyCnn(KerasModelPlugin):
    """Two convolutions, global average pooling, dense: no batch normalisation or dropout,
    so one replica and several compute the same thing."""

    name = "tiny-cnn"
    description = "A two-convolution network for distribution tests."
    default_input_size = 32
    min_input_size = 8

    def build_network(self, n_labels: int, task: str, size: int, options: dict[str, Any]):
        import keras
        from keras import layers

        inputs = keras.Input(shape=(size, size, 3), dtype="float32", name="images")
        x = layers.Rescaling(1 / 255.0)(inputs)
        x = layers.Conv2D(8, 3, strides=2, activation="relu")(x)
        x = layers.Conv2D(16, 3, activation="relu")(x)
        x = layers.GlobalAveragePooling2D()(x)
        activation = "sigmoid" if task == "multilabel" else "softmax"
        outputs = layers.Dense(n_labels, activation=activation, name=DENSE_LAYER)(x)
        return keras.Model(inputs, outputs, name="tiny_cnn")


@hookimpl
def register_models(register) -> None:
    register(TinyCnn())


def main(argv: list[str]) -> int:
    import tensorflow as tf

    logical = int(argv[0])
    if logical > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(logical)])
    from typer.testing import CliRunner

    from artkit.cli.main import build_app
    from artkit.registry import get_registry

    get_registry().add(sys.modules[__name__], name="tiny-cnn-test")
    app = build_app()
    for strategy in argv[1].split(","):
        result = CliRunner().invoke(app, ["train", "tiny-cnn", *argv[2:], "--strategy",
                                          strategy, "--name", strategy, "--quiet"])
        print(result.output)
        if result.exit_code != 0:
            if result.exception is not None:
                import traceback

                traceback.print_exception(result.exception)
            return result.exit_code or 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
