"""The shared Keras -> ONNX converter, on a tiny network built here (no model plugin needed)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tf2onnx")


def _tiny_cam_net(n_classes: int = 3):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((20, 24, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv_a")(inputs)
    x = keras.layers.Conv2D(5, 3, strides=2, activation="relu", name="last_conv")(x)
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="classifier")(pooled)
    return keras.Model(inputs, outputs)


def _run(onnx_model, images: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return dict(zip(names, session.run(names, {"images": images}), strict=True))


def test_scores_and_cams_match_keras_and_numpy() -> None:
    import keras

    from artkit_plugins.lib.keras_onnx import keras_onnx_graph

    model = _tiny_cam_net()
    prep = {"scale": 1 / 255, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}
    graph = keras_onnx_graph(model, (20, 24), opset=17, preprocessing=prep,
                             cam_layers=("last_conv", "classifier"))
    images = np.random.default_rng(1).uniform(0, 255, (5, 20, 24, 3)).astype(np.float32)
    got = _run(graph.model, images, ["scores", "cams"])

    # independent numpy reference: normalise, Keras features, CAM = features . kernel
    x = (images / 255 - np.float32([0.5, 0.4, 0.3])) / np.float32([0.2, 0.25, 0.3])
    features = keras.Model(model.inputs[0], model.get_layer("last_conv").output)(x)
    kernel = np.asarray(model.get_layer("classifier").kernel)
    want_cams = np.einsum("nhwc,ck->nhwk", np.asarray(features), kernel)
    want_scores = np.asarray(model(x))

    assert got["cams"].shape == (5, 8, 10, 3)
    np.testing.assert_allclose(got["cams"], want_cams, atol=1e-4)
    np.testing.assert_allclose(got["scores"], want_scores, atol=1e-5)
    # `reference` gives the same as Keras; the graph the same as the reference
    reference = graph.reference(images)
    np.testing.assert_allclose(reference["scores"], want_scores, atol=1e-6)
    np.testing.assert_allclose(reference["cams"], want_cams, atol=1e-5)
    # a CAM averaged over space, through the dense layer, is the pre-softmax logit
    logits = want_cams.mean(axis=(1, 2)) + np.asarray(model.get_layer("classifier").bias)
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(1, keepdims=True),
                               got["scores"], atol=1e-5)
    assert graph.input_kind == "image" and graph.quantizable
    assert graph.preprocessing["size"] == [20, 24]


def test_dynamic_batch_and_scores_only() -> None:
    from artkit_plugins.lib.keras_onnx import keras_onnx_graph

    model = _tiny_cam_net(n_classes=2)
    graph = keras_onnx_graph(model, (20, 24), opset=13, preprocessing={})
    assert [o.name for o in graph.model.graph.output] == ["scores"]
    for n in (1, 7):
        images = np.random.default_rng(n).uniform(0, 255, (n, 20, 24, 3)).astype(np.float32)
        got = _run(graph.model, images, ["scores"])["scores"]
        np.testing.assert_allclose(got, graph.reference(images)["scores"], atol=1e-5)


def test_refuses_opset_tf2onnx_cannot_write() -> None:
    from artkit.errors import ArtkitError
    from artkit_plugins.lib.keras_onnx import keras_onnx_graph

    with pytest.raises(ArtkitError, match="opset 19"):
        keras_onnx_graph(_tiny_cam_net(), (20, 24), opset=19, preprocessing={})


def test_wrong_cam_layer_is_a_clear_error() -> None:
    from artkit.errors import ArtkitError
    from artkit_plugins.lib.keras_onnx import keras_onnx_graph

    with pytest.raises(ArtkitError, match="CAM"):
        keras_onnx_graph(_tiny_cam_net(), (20, 24), opset=17, preprocessing={},
                         cam_layers=("conv_a", "classifier"))
