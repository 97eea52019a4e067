"""`artkit train mobilenet`: MobileNet v1 (Howard et al. 2017) from ``keras.applications``.

Not in the seed paper: the practical choice on a CPU. ``--alpha`` scales its width; with
``--alpha 0.25 --weights mobilenet_2_5_224_tf_no_top.h5`` it starts from the real ImageNet
weights. Its head is global average pooling + dense, so it gives class activation maps.
"""

from __future__ import annotations

from typing import Any

from artkit.contracts import OptionSpec
from artkit.hookspecs import hookimpl
from artkit_plugins.lib.keras_base.options import FREEZE_OPTION, weights_option
from artkit_plugins.lib.keras_base.plugin import DENSE_LAYER, KerasModelPlugin

#: The last convolutional block's activation in keras.applications.MobileNet.
FEATURE_LAYER = "conv_pw_13_relu"


class MobileNetModel(KerasModelPlugin):
    name = "mobilenet"
    description = ("MobileNet v1 (keras.applications) with --alpha; fast on a CPU; "
                   "ImageNet or local weights; gives CAMs.")
    default_input_size = 224
    min_input_size = 32
    cam_capable = True
    model_options = (
        OptionSpec("alpha", float, 1.0, "Width multiplier (ImageNet weights exist for 0.25, "
                   "0.5, 0.75 and 1.0)."),
        weights_option(),
        FREEZE_OPTION,
    )

    def build_network(self, n_labels: int, task: str, size: int, options: dict[str, Any]):
        import keras

        from artkit_plugins.lib.keras_base.networks import (
            application_base,
            classification_head,
            unit_range_input,
        )

        inputs, x = unit_range_input(size)
        base = application_base(keras.applications.MobileNet, "MobileNet", x, size,
                                options["weights"], options["freeze_base"],
                                alpha=options["alpha"])
        outputs = classification_head(base.get_layer(FEATURE_LAYER).output, n_labels, task)
        return keras.Model(inputs, outputs, name="mobilenet")

    def cam_layers(self, options: dict[str, Any]) -> tuple[str, str]:
        return FEATURE_LAYER, DENSE_LAYER


@hookimpl
def register_models(register) -> None:
    register(MobileNetModel())
