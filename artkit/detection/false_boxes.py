"""What a false box is: the kinds of boxes that match no annotated painting.

A user trusts the confident boxes first, so the confident false ones are what to remove,
and each kind has its own cure (docs/detection.md, "False boxes"): a box inside a painting
(a canvas inside its frame, a painted detail, a carved corner) wants one box per painting,
a second box on a painting already found is a duplicate, a box spanning two paintings
merges neighbours, a thin strip at the photo's border is a piece of frame or wall cut by
the edge; the rest (a wall corner, a door) is "other".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from artkit.detection.boxes import areas, as_boxes, intersections, iou_matrix

#: A box matches a painting at this IoU (the AP@0.5 rule), greedily, best score first.
MATCH_IOU = 0.5
#: A false box with this share of its area inside one painting is a detail of it.
INSIDE_COVER = 0.8
#: A false box covering this share of each of two or more paintings spans them.
SPAN_COVER = 0.5
#: A box thinner than this (short side / long side) touching the border is a strip.
STRIP_ASPECT = 1 / 3
#: "Touching the border": within this share of the photo's longer side of it.
BORDER_MARGIN = 0.01
KINDS = ("inside", "duplicate", "spanning", "strip", "other")


@dataclass(frozen=True)
class FalseBox:
    """A box that matched no painting: its position among the photo's boxes, its kind."""

    index: int
    kind: str


def greedy_match(boxes: np.ndarray, scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """int (n,): the painting each box matched (COCO's greedy matching at IoU 0.5, best
    score first), -1 for none."""
    boxes, truth = as_boxes(boxes), as_boxes(truth)
    matched = np.full(len(boxes), -1)
    if not len(truth):
        return matched
    ious = iou_matrix(boxes, truth)
    taken = np.zeros(len(truth), bool)
    for row in np.argsort(-np.asarray(scores, np.float64), kind="stable"):
        free = np.where(taken, -1.0, ious[row])
        if free.max() >= MATCH_IOU:
            matched[row] = int(free.argmax())
            taken[matched[row]] = True
    return matched


def kind_of(box: np.ndarray, truth: np.ndarray, size: tuple[int, int]) -> str:
    """The kind of a box that matched no painting, for a photo of (height, width)."""
    box, truth = as_boxes(box), as_boxes(truth)
    if len(truth):
        if (iou_matrix(box, truth)[0] >= MATCH_IOU).any():
            return "duplicate"  # it would match, had a better box not taken the painting
        inter = intersections(box, truth)[0]
        if (inter / max(float(areas(box)[0]), 1e-9) >= INSIDE_COVER).any():
            return "inside"
        if (inter / np.maximum(areas(truth), 1e-9) >= SPAN_COVER).sum() >= 2:
            return "spanning"
    height, width = size
    x1, y1, x2, y2 = box[0]
    margin = BORDER_MARGIN * max(height, width)
    touches = min(x1, y1) <= margin or x2 >= width - margin or y2 >= height - margin
    thin = min(x2 - x1, y2 - y1) / max(x2 - x1, y2 - y1, 1e-9) < STRIP_ASPECT
    return "strip" if touches and thin else "other"


def false_boxes(boxes: np.ndarray, scores: np.ndarray, truth: np.ndarray,
                size: tuple[int, int]) -> list[FalseBox]:
    """The boxes of one photo that match no painting, each with its kind, best first."""
    boxes = as_boxes(boxes)
    matched = greedy_match(boxes, scores, truth)
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    return [FalseBox(int(k), kind_of(boxes[k], truth, size)) for k in order if matched[k] < 0]
