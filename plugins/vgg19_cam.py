"""`artkit train vgg19-cam`: the seed paper's network for class activation maps.

VGG19's convolutional base cut before its last block (by default after ``block5_conv3``,
so a 224 px input gives a 14x14 map), then Conv2D(1024, 3x3, relu), global average pooling
and one dense layer: the GAP-CNN of Zhou et al. 2016, whose CAM is the last convolution's
features weighted by the dense kernel.
"""

from __future__ import annotations

from typing import Any

from artkit.contracts import OptionSpec
from artkit.errors import ArtkitError
from artkit.hookspecs import hookimpl
from artkit_plugins.lib.keras_base.options import FREEZE_OPTION, weights_option
from artkit_plugins.lib.keras_base.plugin import DENSE_LAYER, KerasModelPlugin

FEATURE_LAYER = "cam_conv"
#: Caffe-style preprocessing of keras.applications.vgg19: BGR order, ImageNet mean removed.
BGR_MEAN = (103.939, 116.779, 123.68)
CUT_LAYERS = ("block4_conv4", "block4_pool", "block5_conv1", "block5_conv2", "block5_conv3",
              "block5_conv4")


class VGG19CamModel(KerasModelPlugin):
    name = "vgg19-cam"
    description = ("VGG19 base cut at block5_conv3 + Conv2D(1024) + global average pooling + "
                   "dense (Zhou et al. 2016): the class activation map network.")
    default_input_size = 224
    min_input_size = 32
    cam_capable = True
    #: Without --data it learns paintings vs sculptures, the CAM model `artkit detect` wants.
    default_data = "painting-sculpture"
    #: The CAM model `artkit detect` falls back on without --model when no painting
    #: detector is bundled (its latest export, else its latest run exported).
    default_cam_rank = 1
    model_options = (
        OptionSpec("cut_at", str, "block5_conv3", "Last VGG19 layer kept before the CAM "
                   "head (block5_conv3: 224 px -> 14x14 maps; block4_pool gives the same "
                   "size with less of the base).", choices=CUT_LAYERS),
        OptionSpec("cam_filters", int, 1024, "Filters of the 3x3 convolution before pooling."),
        weights_option(),
        FREEZE_OPTION,
    )

    def build_network(self, n_labels: int, task: str, size: int, options: dict[str, Any]):
        import keras
        import numpy as np

        from artkit_plugins.lib.keras_base.networks import (
            application_base,
            classification_head,
            image_input,
            preprocessing_layer,
        )

        if options["cut_at"] not in CUT_LAYERS:
            raise ArtkitError(f"--cut-at must be one of {', '.join(CUT_LAYERS)}")
        inputs = image_input(size)
        # RGB -> BGR and mean subtraction as one fixed 1x1 convolution: plain Keras layers,
        # so the saved model and the ONNX graph need nothing custom.
        swap = np.zeros((1, 1, 3, 3), np.float32)
        for rgb, bgr in ((0, 2), (1, 1), (2, 0)):
            swap[0, 0, rgb, bgr] = 1.0
        caffe = preprocessing_layer(keras.layers.Conv2D(
            3, 1, name="caffe_preprocess", trainable=False,
            kernel_initializer=keras.initializers.Constant(swap),
            bias_initializer=keras.initializers.Constant(-np.array(BGR_MEAN, np.float32))))
        x = caffe(inputs)
        base = application_base(keras.applications.VGG19, "VGG19", x, size,
                                options["weights"], options["freeze_base"])
        cut = base.get_layer(options["cut_at"]).output
        features = keras.layers.Conv2D(options["cam_filters"], 3, padding="same",
                                       activation="relu", name=FEATURE_LAYER)(cut)
        outputs = classification_head(features, n_labels, task)
        return keras.Model(inputs, outputs, name="vgg19_cam")

    def cam_layers(self, options: dict[str, Any]) -> tuple[str, str]:
        return FEATURE_LAYER, DENSE_LAYER


@hookimpl
def register_models(register) -> None:
    register(VGG19CamModel())
