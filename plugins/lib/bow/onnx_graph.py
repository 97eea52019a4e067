"""A trained bow-svm as ONE ONNX graph: descriptors of one image -> class probabilities.

The front (word assignment, histogram, spatial pyramid, normalisation) is built from ONNX
operators here, mirroring `artkit_plugins.lib.bow.encoding` operation for operation in float64 so
that nearest-word ties fall the same way; the back (scaler + calibrated one-vs-rest SVM) is
converted by skl2onnx. `onnx.compose` joins them on the ``features`` tensor.

Input ``descriptors``: float32 (n, d), or (n, d + 2) with the spatial pyramid, whose last two
columns are each keypoint's x / width and y / height. n may be 0 (a blank image): the
histogram is then all zeros and the SVM still answers. Output ``scores``: float32 (1, C).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from artkit_plugins.lib.bow.encoding import PYRAMID_LEVELS


class _Builder:
    """Collects nodes and constants with unique names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"bow_{stem}_{self._count}"

    def const(self, value: Any, dtype: Any = np.float64) -> str:
        from onnx import numpy_helper

        name = self.name("const")
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str | None = None, **attrs: Any,
           ) -> str:
        from onnx import helper

        output = output or self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attrs))
        return output


def _front(predictor: Any, opset: int) -> Any:
    """The encoding half: ``descriptors`` -> ``features`` (float32 (1, D))."""
    from onnx import TensorProto, helper

    b = _Builder()
    centres = predictor.centres.astype(np.float64)
    n_words, dim = centres.shape
    width = dim + 2 if predictor.pyramid else dim
    columns = "descriptors"
    axis1, axis0 = b.const([1], np.int64), b.const([0], np.int64)
    if predictor.pyramid:
        desc = b.op("Slice", [columns, b.const([0], np.int64), b.const([dim], np.int64), axis1])
        xy = b.op("Cast", [b.op("Slice", [columns, b.const([dim], np.int64),
                                          b.const([dim + 2], np.int64), axis1])],
                  to=TensorProto.DOUBLE)
    else:
        desc = columns
    x = b.op("Cast", [desc], to=TensorProto.DOUBLE)
    x2 = b.op("ReduceSum", [b.op("Mul", [x, x]), axis1], keepdims=1)
    xc = b.op("MatMul", [x, b.const(centres.T)])
    c2 = b.const(np.einsum("ij,ij->i", centres, centres)[None, :])
    distances = b.op("Add", [b.op("Sub", [x2, b.op("Mul", [b.const(2.0), xc])]), c2])
    words = b.op("ArgMin", [distances], axis=1, keepdims=0, select_last_index=0)
    one_zero = b.const([0.0, 1.0], np.float32)  # onnxruntime's OneHot has no float64 kernel

    def counts(index: str, depth: int) -> str:
        """Word counts (1, depth) as float64: float32 sums of 0/1 are exact to 2**24."""
        onehot = b.op("OneHot", [index, b.const([depth], np.int64), one_zero], axis=-1)
        return b.op("Cast", [b.op("ReduceSum", [onehot, axis0], keepdims=1)],
                    to=TensorProto.DOUBLE)

    if not predictor.pyramid:
        hist = counts(words, n_words)
    else:
        parts = []
        x_col = b.op("Slice", [xy, b.const([0], np.int64), b.const([1], np.int64), axis1])
        y_col = b.op("Slice", [xy, b.const([1], np.int64), b.const([2], np.int64), axis1])
        for cells, weight in PYRAMID_LEVELS:
            g, top = b.const(float(cells)), b.const(float(cells - 1))
            cx = b.op("Min", [b.op("Floor", [b.op("Mul", [x_col, g])]), top])
            cy = b.op("Min", [b.op("Floor", [b.op("Mul", [y_col, g])]), top])
            cell = b.op("Cast", [b.op("Add", [b.op("Mul", [cy, g]), cx])],
                        to=TensorProto.INT64)
            cell = b.op("Reshape", [cell, b.const([-1], np.int64)])
            index = b.op("Add", [b.op("Mul", [cell, b.const(n_words, np.int64)]), words])
            parts.append(b.op("Mul", [counts(index, cells * cells * n_words),
                                      b.const(weight)]))
        hist = b.op("Concat", parts, axis=1)
    totals = b.op("ReduceSum", [hist, axis1], keepdims=1)
    frequencies = b.op("Div", [hist, b.op("Max", [totals, b.const(1e-12)])])
    if predictor.normaliser.mode == "l1":
        encoded = frequencies
    else:
        weighted = b.op("Mul", [frequencies, b.const(predictor.normaliser.idf[None, :])])
        length = b.op("Sqrt", [b.op("ReduceSum", [b.op("Mul", [weighted, weighted]), axis1],
                                     keepdims=1)])
        encoded = b.op("Div", [weighted, b.op("Max", [length, b.const(1e-12)])])
    b.op("Cast", [encoded], output="features", to=TensorProto.FLOAT)
    n_features = predictor.model.n_features_in_
    graph = helper.make_graph(
        b.nodes, "bow_encoding",
        [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, [None, width])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, n_features])],
        initializer=b.initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _back(predictor: Any, opset: int) -> Any:
    """The classifier half, converted by skl2onnx: ``features`` -> ``probabilities``."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    model = predictor.model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # probA_/probB_ read by the converter
        return convert_sklearn(
            model, initial_types=[("features", FloatTensorType([None, model.n_features_in_]))],
            options={id(model.steps[-1][1]): {"zipmap": False}},
            target_opset={"": opset, "ai.onnx.ml": 3})


def build_graph(predictor: Any, opset: int) -> Any:
    """The whole pipeline as one ``onnx.ModelProto`` with input ``descriptors`` and output
    ``scores``."""
    import onnx
    from onnx import compose, helper

    back = _back(predictor, opset)
    default = next(o.version for o in back.opset_import if o.domain in ("", "ai.onnx"))
    front = _front(predictor, default)
    front.ir_version = back.ir_version
    probabilities = next(o.name for o in back.graph.output if "prob" in o.name)
    merged = compose.merge_models(front, back, io_map=[("features", "features")],
                                  outputs=[probabilities])
    merged.graph.node.append(helper.make_node("Identity", [probabilities], ["scores"]))
    n_labels = len(predictor.labels)
    del merged.graph.output[:]
    merged.graph.output.append(
        helper.make_tensor_value_info("scores", onnx.TensorProto.FLOAT, [1, n_labels]))
    merged.graph.name = "artkit_bow_svm"
    onnx.checker.check_model(merged)
    return merged
