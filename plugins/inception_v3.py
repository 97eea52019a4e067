"""`artkit train inception-v3`: InceptionV3 (Szegedy et al. 2016) from ``keras.applications``,
the seed paper's main network, from scratch or from ImageNet weights, whole or with the base
frozen (its transfer-learning runs). Global average pooling + dense head: gives CAMs.
"""

from __future__ import annotations

from typing import Any

from artkit.hookspecs import hookimpl
from artkit_plugins.lib.keras_base.options import FREEZE_OPTION, weights_option
from artkit_plugins.lib.keras_base.plugin import DENSE_LAYER, KerasModelPlugin

#: The last Inception block in keras.applications.InceptionV3 (8x8 at 299 px).
FEATURE_LAYER = "mixed10"


class InceptionV3Model(KerasModelPlugin):
    name = "inception-v3"
    description = ("InceptionV3 (keras.applications), from scratch, ImageNet or local "
                   "weights, --freeze-base for transfer learning; gives CAMs.")
    default_input_size = 299
    min_input_size = 75
    cam_capable = True
    model_options = (weights_option(), FREEZE_OPTION)

    def build_network(self, n_labels: int, task: str, size: int, options: dict[str, Any]):
        import keras

        from artkit_plugins.lib.keras_base.networks import (
            application_base,
            classification_head,
            unit_range_input,
        )

        inputs, x = unit_range_input(size)
        base = application_base(keras.applications.InceptionV3, "InceptionV3", x, size,
                                options["weights"], options["freeze_base"])
        outputs = classification_head(base.get_layer(FEATURE_LAYER).output, n_labels, task)
        return keras.Model(inputs, outputs, name="inception_v3")

    def cam_layers(self, options: dict[str, Any]) -> tuple[str, str]:
        return FEATURE_LAYER, DENSE_LAYER


@hookimpl
def register_models(register) -> None:
    register(InceptionV3Model())
