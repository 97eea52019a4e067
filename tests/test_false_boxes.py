"""One confident box per painting (artkit.detection.nesting, applied by frames+cnn) and the
kinds of false boxes (artkit.detection.false_boxes), on synthetic photos.

The classifiers here are the failure the rule answers: a detector that finds a canvas, a
carved corner or a strip of frame *more* confidently than the whole painting around it
(on real close-ups: a corner ornament 0.92, the painting 0.09)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from artkit.detection.boxes import iou_matrix
from artkit.detection.false_boxes import false_boxes, kind_of
from artkit.detection.nesting import CONFIDENT, demote_nested
from artkit_plugins.detection_methods import FramesCnnMethod

WALL, GILT = (200, 192, 175), (150, 110, 30)


def _photo() -> np.ndarray:
    return np.full((480, 640, 3), WALL, np.uint8)


def _framed(photo: np.ndarray, box: tuple[int, int, int, int], width: int) -> None:
    """A gilt frame `width` px wide around a textured canvas."""
    x1, y1, x2, y2 = box
    cv2.rectangle(photo, (x1, y1), (x2, y2), GILT, -1)
    inner = photo[y1 + width:y2 - width, x1 + width:x2 - width]
    inner[:] = np.random.default_rng(0).integers(0, 120, inner.shape, dtype=np.uint8)


def _fond_of_details(small: float, large: float, side: int = 150
                     ) -> Callable[[Sequence[np.ndarray]], np.ndarray]:
    """A classifier scoring crops under `side` px (longer side) `small`, others `large`."""
    def classify(crops: Sequence[np.ndarray]) -> np.ndarray:
        return np.array([small if max(c.shape[:2]) < side else large for c in crops])
    return classify


def _smaller_is_surer(crops: Sequence[np.ndarray]) -> np.ndarray:
    """Every crop is a painting, the smaller the surer (a canvas 1.0, its frame 0.99)."""
    return np.array([1.0 - 1e-5 * c.shape[0] * c.shape[1] / 1000 for c in crops])


def _found(photo: np.ndarray, classify: Callable) -> tuple[np.ndarray, np.ndarray]:
    found = FramesCnnMethod().detect(photo, None, 0.2, classify=classify)
    return np.asarray(found.boxes), np.asarray(found.scores)


def test_a_framed_canvas_is_one_confident_box_the_frame():
    photo = _photo()
    _framed(photo, (150, 80, 490, 400), 60)  # a wide frame: canvas / frame IoU 0.4
    boxes, scores = _found(photo, _smaller_is_surer)
    canvas = iou_matrix(boxes, np.array([[210, 140, 430, 340]]))[:, 0] > 0.9
    assert canvas.any()  # an outline, which the classifier likes best
    confident = boxes[scores >= CONFIDENT]
    assert len(confident) == 1  # the canvas is not a second painting
    assert iou_matrix(confident, np.array([[150, 80, 490, 400]]))[0, 0] > 0.9
    assert scores[canvas].max() < 0.1  # ranked after the whole painting


def test_a_carved_corner_ornament_ranks_below_its_painting_and_is_not_confident():
    photo = _photo()
    _framed(photo, (150, 80, 490, 400), 20)
    ornament = (140, 70, 200, 130)  # a bright carved piece over the frame's corner
    photo[70:130, 140:200] = np.random.default_rng(1).integers(180, 255, (60, 60, 3))
    cv2.rectangle(photo, ornament[:2], ornament[2:], (90, 60, 10), 3)
    boxes, scores = _found(photo, _fond_of_details(0.92, 0.09))  # the close-up's failure
    at_ornament = iou_matrix(boxes, np.array([ornament]))[:, 0] > 0.7
    assert at_ornament.any()  # the classifier did see it, at 0.92
    assert scores.max() < CONFIDENT and scores[at_ornament].max() < 0.1
    painting = iou_matrix(boxes, np.array([[150, 80, 490, 400]]))[:, 0] > 0.85
    assert scores[painting].max() == 0.09  # the whole painting now outranks it


def test_a_strip_of_frame_at_the_border_is_not_a_confident_box():
    photo = _photo()
    _framed(photo, (380, 60, 700, 420), 24)  # a painting cut by the photo's right edge
    photo[60:420, 570:640] = (90, 70, 30)  # its frame's dark stile, up to the edge
    cv2.line(photo, (570, 60), (570, 420), (230, 220, 200), 3)
    strip = np.array([[573, 60, 640, 420]])
    boxes, scores = _found(photo, _smaller_is_surer)
    at_strip = iou_matrix(boxes, strip)[:, 0] > 0.8
    assert at_strip.any()  # an outline, which the classifier likes best
    confident = boxes[scores >= CONFIDENT]
    assert len(confident) and (iou_matrix(confident, strip)[:, 0] < 0.5).all()
    assert scores[at_strip].max() < 0.1


def test_only_a_plausible_larger_box_demotes_what_it_holds():
    wall, painting = [0, 0, 100, 100], [20, 20, 50, 50]
    boxes = np.array([wall, painting], float)
    # a confident detail inside a doubted painting: under 0.1, after it
    assert demote_nested(boxes, np.array([0.09, 0.92])).round(4).tolist() == [0.09, 0.092]
    # inside a better-scored confident painting: under frames+cnn's reporting threshold
    assert demote_nested(boxes, np.array([0.9, 0.6]))[1] < 0.01
    # a doubtful outline of the wall (under 0.05) leaves the painting inside it alone
    assert demote_nested(boxes, np.array([0.02, 0.92])).tolist() == [0.02, 0.92]
    # overlapping without lying inside: both stay
    side_by_side = np.array([[0, 0, 50, 50], [30, 0, 80, 50]], float)
    assert demote_nested(side_by_side, np.array([0.9, 0.8])).tolist() == [0.9, 0.8]


def test_false_boxes_have_a_kind():
    truth = np.array([[100, 100, 300, 300], [400, 100, 600, 300]], float)
    size = (480, 800)
    assert kind_of(np.array([120, 120, 180, 180]), truth, size) == "inside"
    assert kind_of(np.array([90, 90, 610, 310]), truth, size) == "spanning"
    assert kind_of(np.array([760, 0, 800, 400]), truth, size) == "strip"
    assert kind_of(np.array([650, 100, 740, 200]), truth, size) == "other"
    boxes = np.array([[100, 100, 300, 300], [105, 105, 300, 300], [120, 120, 180, 180]])
    found = false_boxes(boxes, np.array([0.9, 0.8, 0.95]), truth, size)
    assert [(f.index, f.kind) for f in found] == [(2, "inside"), (1, "duplicate")]
