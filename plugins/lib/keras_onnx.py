"""Keras network -> :class:`~artkit.contracts.OnnxGraph`: the converter every Keras model
plugin shares (a helper module, not an entry point).

Why not ``tf2onnx.convert.from_keras`` or ``model.export(format="onnx")``: with Keras 3 both
fail on a model that was never called. Wrapping ``model(x, training=False)`` in a
``tf.function`` with an explicit ``(None, H, W, 3)`` signature and converting that with
``tf2onnx.convert.from_function`` works for every network here, with a dynamic batch axis.

The exported graph takes what the contract promises: ``images``, float32 (N, H, W, 3), RGB,
0..255. The normalisation the network was trained with (``scale``, ``mean``, ``std`` in
`preprocessing`: ``x * scale`` then ``(x - mean) / std``) is applied inside the graph, so a
runtime only decodes and resizes. Keys left out mean "nothing to do" (a network that
normalises with its own layers passes none of them).

CAM-capable networks (last convolution -> global average pooling -> dense) get a second
output ``cams`` (N, h, w, n_labels) = last-conv features x dense kernel, computed inside the
same graph with one einsum; no bias, no activation, as in Zhou et al. 2016. Outputs come out
of tf2onnx in alphabetical order, so they must be fetched by name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from artkit.contracts import OnnxGraph
from artkit.errors import ArtkitError

#: tf2onnx 1.17 refuses opsets above this.
MAX_OPSET = 18
#: Batch size `reference` feeds Keras with, to bound its memory on large check batches.
REFERENCE_BATCH = 32


def normalisation(preprocessing: dict[str, Any]) -> tuple[float, np.ndarray, np.ndarray]:
    """(scale, mean, std) from `preprocessing`; identity where a key is missing."""
    scale = float(preprocessing.get("scale", 1.0))
    mean = np.asarray(preprocessing.get("mean", 0.0), dtype=np.float32).reshape(-1)
    std = np.asarray(preprocessing.get("std", 1.0), dtype=np.float32).reshape(-1)
    if mean.size not in (1, 3) or std.size not in (1, 3):
        raise ArtkitError("preprocessing mean/std must hold 1 or 3 values (one per channel)")
    if np.any(std == 0):
        raise ArtkitError("preprocessing std must not be zero")
    return scale, mean, std


def keras_onnx_graph(model: Any, input_size: tuple[int, int], opset: int,
                     preprocessing: dict[str, Any],
                     cam_layers: tuple[str, str] | None = None,
                     output: str = "scores") -> OnnxGraph:
    """Convert a built Keras `model` (input (None, H, W, 3)) into an :class:`OnnxGraph`.

    `input_size` is (height, width). `preprocessing` carries the normalisation applied
    before the network (see the module docstring) plus anything the plugin wants stored in
    the file's metadata. `cam_layers` = (last conv layer name, dense layer name) adds the
    ``cams`` output. `output` names the model's output (``embedding`` for a backbone
    exported as an embedding model)."""
    if not 1 <= opset <= MAX_OPSET:
        raise ArtkitError(f"opset {opset} is not supported by tf2onnx "
                          f"(use an opset between 7 and {MAX_OPSET})")
    import tensorflow as tf
    import tf2onnx

    height, width = (int(v) for v in input_size)
    scale, mean, std = normalisation(preprocessing)

    def normalise(images: Any) -> Any:
        # constants made inside the trace: captured eager tensors would become graph inputs
        return (images * tf.constant(scale, tf.float32) - tf.constant(mean)) / tf.constant(std)

    features_model, kernel = _cam_parts(model, cam_layers) if cam_layers else (None, None)
    spec = tf.TensorSpec((None, height, width, 3), tf.float32, name="images")

    @tf.function(input_signature=[spec])
    def serve(images: Any) -> dict[str, Any]:
        x = normalise(images)
        if features_model is None:
            return {output: model(x, training=False)}
        features, scores = features_model(x, training=False)
        cams = tf.einsum("nhwc,ck->nhwk", features, tf.constant(kernel))
        return {"scores": scores, "cams": cams}

    onnx_model, _ = tf2onnx.convert.from_function(serve, input_signature=[spec], opset=opset)
    _check_io_names(onnx_model, cams=features_model is not None, output=output)

    def reference(images: np.ndarray) -> dict[str, np.ndarray]:
        """The same batch through Keras (and numpy for the CAM), chunked."""
        scores_parts, cam_parts = [], []
        for start in range(0, len(images), REFERENCE_BATCH):
            chunk = (np.asarray(images[start:start + REFERENCE_BATCH], np.float32) * scale
                     - mean) / std
            if features_model is None:
                scores_parts.append(np.asarray(model(chunk, training=False)))
                continue
            features, scores = features_model(chunk, training=False)
            scores_parts.append(np.asarray(scores))
            cam_parts.append(np.einsum("nhwc,ck->nhwk", np.asarray(features), kernel))
        out = {output: np.concatenate(scores_parts)}
        if cam_parts:
            out["cams"] = np.concatenate(cam_parts)
        return out

    stored = {**preprocessing, "size": [height, width], "colour_order": "RGB",
              "input_range": [0, 255], "normalisation_in_graph": True,
              "scale": scale, "mean": mean.tolist(), "std": std.tolist()}
    return OnnxGraph(model=onnx_model, input_kind="image", preprocessing=stored,
                     reference=reference, quantizable=True)


def _cam_parts(model: Any, cam_layers: tuple[str, str]) -> tuple[Any, np.ndarray]:
    """A Keras model giving (last-conv features, scores), and the dense kernel (c, k)."""
    import keras

    conv_name, dense_name = cam_layers
    try:
        conv, dense = model.get_layer(conv_name), model.get_layer(dense_name)
    except ValueError as exc:
        raise ArtkitError(f"CAM layers not found in the network: {exc}") from None
    kernel = np.asarray(dense.kernel, dtype=np.float32)
    channels = conv.output.shape[-1]
    if kernel.shape[0] != channels:
        raise ArtkitError(f"CAM needs the dense layer to read the pooled last-conv features: "
                          f"'{dense_name}' has {kernel.shape[0]} inputs, '{conv_name}' "
                          f"gives {channels} channels")
    features_model = keras.Model(model.inputs[0], [conv.output, model.outputs[0]])
    return features_model, kernel


def _check_io_names(onnx_model: Any, cams: bool, output: str = "scores") -> None:
    inputs = [i.name for i in onnx_model.graph.input]
    outputs = sorted(o.name for o in onnx_model.graph.output)
    expected = sorted([output, "cams"] if cams else [output])
    if inputs != ["images"] or outputs != expected:
        raise ArtkitError(f"tf2onnx produced inputs {inputs} and outputs {outputs}; "
                          f"expected ['images'] and {expected}")
