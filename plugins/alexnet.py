"""`artkit train alexnet`: the network of Krizhevsky et al. 2012 in the Keras functional
API, as the seed paper wrote it: five convolutions, three max-pools, two 4096-unit dense
layers with dropout, 227x227 input.

Local response normalisation, which Keras does not have, is replaced by batch
normalisation after the first two convolutions (the usual modern substitute). The head is
flatten + dense, so AlexNet gives no class activation maps.
"""

from __future__ import annotations

from typing import Any

from artkit.hookspecs import hookimpl
from artkit_plugins.lib.keras_base.plugin import DENSE_LAYER, KerasModelPlugin


class AlexNetModel(KerasModelPlugin):
    name = "alexnet"
    description = "AlexNet (Krizhevsky et al. 2012) in the Keras functional API, from scratch."
    default_input_size = 227
    # 11x11/4 conv and three 3x3/2 max-pools without padding leave 1x1 at 67 px.
    min_input_size = 67

    def build_network(self, n_labels: int, task: str, size: int, options: dict[str, Any]):
        import keras
        from keras import layers

        inputs = keras.Input(shape=(size, size, 3), dtype="float32", name="images")
        x = layers.Rescaling(1 / 255.0, name="normalise")(inputs)
        x = layers.Conv2D(96, 11, strides=4, activation="relu", name="conv1")(x)
        x = layers.BatchNormalization(name="norm1")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
        x = layers.Conv2D(256, 5, padding="same", activation="relu", name="conv2")(x)
        x = layers.BatchNormalization(name="norm2")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool2")(x)
        x = layers.Conv2D(384, 3, padding="same", activation="relu", name="conv3")(x)
        x = layers.Conv2D(384, 3, padding="same", activation="relu", name="conv4")(x)
        x = layers.Conv2D(256, 3, padding="same", activation="relu", name="conv5")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)
        x = layers.Flatten(name="flatten")(x)
        for number in (6, 7):
            x = layers.Dense(4096, activation="relu", name=f"fc{number}")(x)
            x = layers.Dropout(0.5, name=f"drop{number}")(x)
        activation = "sigmoid" if task == "multilabel" else "softmax"
        outputs = layers.Dense(n_labels, activation=activation, name=DENSE_LAYER)(x)
        return keras.Model(inputs, outputs, name="alexnet")


@hookimpl
def register_models(register) -> None:
    register(AlexNetModel())
