"""Axis-aligned box geometry shared by the detection methods and the detection evaluator.

Boxes are float arrays (n, 4) of x1, y1, x2, y2 in pixels, with x2 > x1 and y2 > y1. Areas
are ``(x2 - x1) * (y2 - y1)`` (no +1), the convention of pycocotools, so that IoUs and hence
AP agree with the COCO reference implementation.
"""

from __future__ import annotations

import numpy as np


def as_boxes(values: object) -> np.ndarray:
    """Any (n, 4)-like value as a float64 (n, 4) array (an empty value gives (0, 4))."""
    return np.asarray(values, dtype=np.float64).reshape(-1, 4)


def areas(boxes: np.ndarray) -> np.ndarray:
    boxes = as_boxes(boxes)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0,
                                                                  None)


def intersections(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection areas, shape (len(a), len(b))."""
    a, b = as_boxes(a), as_boxes(b)
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(width, 0, None) * np.clip(height, 0, None)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union, shape (len(a), len(b))."""
    inter = intersections(a, b)
    union = areas(a)[:, None] + areas(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best score first.

    A box is dropped when it overlaps a better kept box by more than `iou`."""
    boxes, scores = as_boxes(boxes), np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    overlaps = iou_matrix(boxes, boxes)
    kept: list[int] = []
    for index in order:
        if all(overlaps[index, k] <= iou for k in kept):
            kept.append(int(index))
    return np.array(kept, dtype=np.int64)


def suppress_contained(boxes: np.ndarray, scores: np.ndarray, cover: float = 0.9,
                       min_container: float = -np.inf) -> np.ndarray:
    """Indices of boxes kept when a box lying inside a better-scored kept box is dropped.

    "Inside" means at least `cover` of the box's own area is within the other box: a canvas
    found inside its own frame, or a detail of a painting, is not a second painting. Only
    containers scoring at least `min_container` count: with a classifier's probability, a
    small painting inside an outline of the wall around it (a doubtful container) stays."""
    boxes, scores = as_boxes(boxes), np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    inter = intersections(boxes, boxes)
    own = np.maximum(areas(boxes), 1e-9)
    kept: list[int] = []
    for index in order:
        if all(inter[index, k] / own[index] < cover or scores[k] < min_container
               for k in kept):
            kept.append(int(index))
    return np.array(kept, dtype=np.int64)


def clip(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes clipped to an image of `width` x `height` pixels."""
    boxes = as_boxes(boxes).copy()
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    return boxes
