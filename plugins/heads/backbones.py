"""Frozen ``keras.applications`` backbones giving pooled features (global average pooling
of the last convolutional block): the embedding of an image.

Every backbone takes RGB 0..255 (the ONNX contract) and normalises inside itself, as the
Keras model plugins do; ``--weights`` is ``imagenet`` (a Keras download, needs the
internet), a weights file of that architecture without its top, or ``none`` (random, for
tests).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from artkit.errors import ArtkitError

#: name -> (keras.applications constructor name, architecture name for messages,
#: whether the constructor normalises 0..255 input itself)
BACKBONES: dict[str, tuple[str, str, bool]] = {
    "mobilenet": ("MobileNet", "MobileNet", False),
    "efficientnetv2-b0": ("EfficientNetV2B0", "EfficientNetV2B0", True),
    "convnext-tiny": ("ConvNeXtTiny", "ConvNeXtTiny", True),
}
EMBEDDING_LAYER = "embedding"


def build_backbone(name: str, size: int, weights: str, alpha: float = 1.0,
                   seed: int = 0) -> Any:
    """A Keras model: float32 (N, size, size, 3) RGB 0..255 -> (N, D) pooled features."""
    import keras

    from artkit_plugins.keras_base.networks import (
        application_base,
        image_input,
        unit_range_input,
    )

    if name not in BACKBONES:
        raise ArtkitError(f"unknown backbone '{name}'", hint="one of " + ", ".join(BACKBONES))
    constructor, architecture, self_normalising = BACKBONES[name]
    factory = getattr(keras.applications, constructor)
    keras.utils.set_random_seed(seed)
    kwargs: dict[str, Any] = {"alpha": alpha} if name == "mobilenet" else {}
    if self_normalising:
        inputs = image_input(size)
        x = inputs
        kwargs["include_preprocessing"] = True
    else:
        inputs, x = unit_range_input(size)
    base = application_base(factory, architecture, x, size, weights, True, **kwargs)
    pooled = keras.layers.GlobalAveragePooling2D(name=EMBEDDING_LAYER)(base.output)
    return keras.Model(inputs, pooled, name=f"{name}-backbone")


def with_flip_mean(backbone: Any) -> Any:
    """Test-time augmentation: the mean of the embeddings of the image and its mirror."""
    import keras

    inputs = keras.Input(shape=backbone.input_shape[1:], dtype="float32", name="images")
    mirrored = keras.layers.Lambda(lambda t: keras.ops.flip(t, axis=2), name="mirror")(inputs)
    mean = keras.layers.Average(name="flip_mean")([backbone(inputs), backbone(mirrored)])
    return keras.Model(inputs, mean, name=f"{backbone.name}-tta")


def fingerprint(backbone: Any) -> str:
    """A digest of the backbone's architecture and weight values (the embedding cache key:
    the same weights give the same embeddings, whatever file they came from)."""
    digest = hashlib.sha1(backbone.name.encode())
    for weight in backbone.weights:
        value = np.ascontiguousarray(np.asarray(weight), dtype=np.float32)
        digest.update(str(value.shape).encode())
        digest.update(value.tobytes())
    return digest.hexdigest()[:20]
