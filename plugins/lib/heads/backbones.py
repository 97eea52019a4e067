"""Frozen ``keras.applications`` backbones giving pooled features (global average pooling
of the last convolutional block, or of the last few resolution stages): the embedding of
an image.

Why several stages: the last block of an ImageNet network encodes objects; a museum
collection is told apart as much by medium, texture and print technique, which the
earlier, finer stages keep. On aic-museum (departments, 5-fold CV on the 80% that is not
the test split, MobileNet alpha 0.25 at 224 px) pooling the last three stages raised the
logistic regression's macro-F1 from 0.77 to 0.81 (docs/models.md).

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


def stage_outputs(base: Any, stages: int) -> list[Any]:
    """The outputs of the last `stages` resolution stages of `base`, the last first: for
    each spatial size, the last layer giving it. Zero padding (which only prepares the
    next stride) and maps smaller than the last block's (squeeze-and-excitation's 1 x 1)
    do not count."""
    import keras

    smallest = base.output.shape[1]
    last_at: dict[tuple[int, int], Any] = {}
    for layer in base.layers:
        shape = layer.output.shape
        if (len(shape) == 4 and shape[1] >= smallest
                and not isinstance(layer, keras.layers.ZeroPadding2D)):
            last_at.pop((shape[1], shape[2]), None)  # keep insertion order = stage order
            last_at[(shape[1], shape[2])] = layer.output
    ordered = list(last_at.values())
    if stages > len(ordered):
        raise ArtkitError(f"--stages {stages}: this backbone has {len(ordered)} stages at "
                          f"this input size")
    return ordered[::-1][:stages]


def unit_length(x: Any) -> Any:
    """Rows scaled to unit length. Not ``keras.layers.UnitNormalization``: its epsilon
    (1e-12 on the squared norm) flattens the tiny features of untrained weights."""
    import keras

    ops = keras.ops
    return x * ops.rsqrt(ops.maximum(ops.sum(x * x, axis=-1, keepdims=True), 1e-36))


def build_backbone(name: str, size: int, weights: str, alpha: float = 1.0,
                   seed: int = 0, stages: int = 1) -> Any:
    """A Keras model: float32 (N, size, size, 3) RGB 0..255 -> (N, D) pooled features.

    With `stages` > 1 the embedding is the pooled features of the last `stages` resolution
    stages, each scaled to unit length (so that no stage outweighs another in a cosine),
    concatenated and divided by sqrt(stages)."""
    import keras

    from artkit_plugins.lib.keras_base.networks import (
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
    if stages < 1:
        raise ArtkitError(f"--stages {stages}: at least 1")
    if stages == 1:
        pooled = keras.layers.GlobalAveragePooling2D(name=EMBEDDING_LAYER)(base.output)
        return keras.Model(inputs, pooled, name=f"{name}-backbone")
    parts = [keras.layers.Lambda(unit_length, name=f"stage_norm_{i}")(
        keras.layers.GlobalAveragePooling2D(name=f"stage_pool_{i}")(output))
        for i, output in enumerate(stage_outputs(base, stages))]
    joined = keras.layers.Concatenate(name="stages")(parts)
    pooled = keras.layers.Rescaling(1 / np.sqrt(stages), name=EMBEDDING_LAYER)(joined)
    return keras.Model(inputs, pooled, name=f"{name}-backbone-{stages}-stages")


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
