"""Building blocks the Keras model plugins share: the RGB 0..255 input, a
``keras.applications`` base with its weights, and the global-pooling + dense head.

Every network takes float32 RGB 0..255 (the ONNX contract) and normalises inside itself, so
the same pixels go to Keras, to onnxruntime and to every runtime that reads the exported file.

The base is built *flat* on the plugin's normalisation layer (``input_tensor``), so its
layers are layers of the final model: the last convolution can be read by name for class
activation maps. Pretrained weights are loaded by Keras into a stand-alone copy of the same
architecture (which accepts exactly the files Keras accepts) and copied layer by layer.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from artkit.errors import ArtkitError
from artkit_plugins.lib.keras_base.plugin import DENSE_LAYER

#: Filters of MobileNet's first convolution at alpha 1 (``int(32 * alpha)`` at others).
MOBILENET_STEM = 32


def image_input(size: int) -> keras.KerasTensor:
    return keras.Input(shape=(size, size, 3), dtype="float32", name="images")


def application_base(factory: Callable[..., keras.Model], architecture: str, x: Any,
                     size: int, weights: str, freeze: bool, **kwargs: Any) -> keras.Model:
    """`factory` (a ``keras.applications`` constructor, no top) built on tensor `x`, with
    `weights` ('none', 'imagenet' or a file path) loaded and, with `freeze`, fixed.

    The returned model's inputs are those `x` comes from, so its layers join the caller's
    graph."""
    base = factory(include_top=False, weights=None, input_tensor=x, **kwargs)
    if weights != "none":
        source = _pretrained(factory, architecture, size, weights, **kwargs)
        _copy_weights(source, base, architecture)
    if freeze:
        for layer in _own_layers(base):
            layer.trainable = False
    return base


def _pretrained(factory: Callable[..., keras.Model], architecture: str, size: int,
                weights: str, **kwargs: Any) -> keras.Model:
    if weights == "imagenet":
        try:
            with warnings.catch_warnings():
                # At sizes it has no weights for, Keras says it loads the 224 px ones: the
                # convolutions are the same at any size, which is why they are copied.
                warnings.filterwarnings("ignore", message="`input_shape` is undefined")
                return factory(include_top=False, weights="imagenet",
                               input_shape=(size, size, 3), **kwargs)
        except Exception as exc:  # noqa: BLE001 - Keras raises plain Exception on download
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ArtkitError(
                f"cannot get the ImageNet weights of {architecture} (Keras downloads them, so "
                f"this needs the internet): {reason}",
                hint="download the no-top weights file elsewhere and pass --weights PATH"
            ) from None
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ArtkitError("weights file not found (--weights takes none, imagenet or a "
                          "file path)", path)
    if "alpha" in kwargs:
        check_width(path, architecture, float(kwargs["alpha"]))
    try:
        return factory(include_top=False, weights=str(path), input_shape=(size, size, 3),
                       **kwargs)
    except Exception as exc:  # noqa: BLE001 - h5py/Keras raise many types for a wrong file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArtkitError(f"these weights do not load into {architecture} without its top "
                          f"at input {size}: {reason}", path) from None


def stem_filters(path: Path) -> int | None:
    """The filters of the one 3 x 3 convolution over the 3 colour channels in an HDF5
    weights file (Keras 3 ``.weights.h5`` or the older ``.h5`` of keras.applications,
    whatever its layer names), or None when the file holds no single such kernel."""
    import h5py

    found: list[int] = []

    def visit(_: str, item: object) -> None:
        if isinstance(item, h5py.Dataset) and len(item.shape) == 4 and \
                tuple(item.shape[:3]) == (3, 3, 3):
            found.append(int(item.shape[3]))

    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(visit)
    except OSError:  # not HDF5: Keras's own error names the problem
        return None
    return found[0] if len(found) == 1 else None


def check_width(path: Path, architecture: str, alpha: float) -> None:
    """A weights file made for another width multiplier fails in Keras with a shape
    mismatch deep inside the network; MobileNet's first convolution has ``int(32 * alpha)``
    filters, so the file says which alpha it was made for, and the error can too."""
    filters = stem_filters(path)
    if filters is None or filters == int(MOBILENET_STEM * alpha):
        return
    made_for = filters / MOBILENET_STEM
    raise ArtkitError(f"these weights were made for {architecture} with alpha {made_for:g}, "
                      f"not {alpha:g}", path, hint=f"add --alpha {made_for:g}")


def _own_layers(base: keras.Model) -> list[keras.layers.Layer]:
    """The layers the application created (not the caller's input and normalisation)."""
    return [layer for layer in base.layers
            if not isinstance(layer, keras.layers.InputLayer)
            and not getattr(layer, "_artkit_preprocessing", False)]


def _copy_weights(source: keras.Model, target: keras.Model, architecture: str) -> None:
    sources = [layer for layer in source.layers if layer.weights]
    targets = [layer for layer in target.layers if layer.weights
               and not getattr(layer, "_artkit_preprocessing", False)]
    if len(sources) != len(targets):
        raise ArtkitError(f"weights of {len(sources)} layers for the {len(targets)} layers of "
                          f"{architecture}")
    for src, dst in zip(sources, targets, strict=True):
        values = src.get_weights()
        shapes = [tuple(w.shape) for w in dst.weights]
        if [tuple(v.shape) for v in values] != shapes:
            raise ArtkitError(f"{architecture}: layer {dst.name} expects weights of shapes "
                              f"{shapes}, the file has {[v.shape for v in values]}")
        dst.set_weights(values)


def preprocessing_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
    """Mark a normalisation layer as the caller's, so weight copying skips it."""
    layer._artkit_preprocessing = True
    return layer


def unit_range_input(size: int) -> tuple[keras.KerasTensor, Any]:
    """The image input and the x / 127.5 - 1 scaling that the ImageNet weights of
    InceptionV3 and MobileNet expect (their own ``preprocess_input``), inside the network."""
    inputs = image_input(size)
    scale = preprocessing_layer(keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="normalise"))
    return inputs, scale(inputs)


def classification_head(features: Any, n_labels: int, task: str) -> Any:
    """Global average pooling then one dense layer: softmax (multi-class) or sigmoid
    (multi-label). This head is what makes class activation maps possible."""
    pooled = keras.layers.GlobalAveragePooling2D(name="avg_pool")(features)
    activation = "sigmoid" if task == "multilabel" else "softmax"
    return keras.layers.Dense(n_labels, activation=activation, name=DENSE_LAYER)(pooled)
