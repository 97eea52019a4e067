"""Built-in detection methods for `artkit detect --method NAME`.

- ``cam``: the CAM paper's rule: threshold the class activation map, one box per connected
  component (:mod:`artkit.detection.cam`).
- ``frames``: no network. Paintings hang in frames, and a frame is a closed, nearly
  rectangular outline that stands out from the wall: Canny edges, closed into outlines,
  contours, kept when the contour fills its `minAreaRect` (rectangularity) and is not a
  speck, scored by its share of the photo.
- ``cam+frames``: the frame outlines re-scored by evidence that they hold a painting: the
  edge density along the outline times the mean CAM inside. A CAM alone lights up part of a
  painting and merges neighbours; outlines alone cannot tell a painting from a door or a
  placard. Boxes lying inside a better box (a canvas inside its own frame) are dropped.
- ``frames+cnn``: the frame outlines, each cropped and scored by the model's probability of
  the class (R-CNN's recipe); the default whenever there is a model (``default_rank``).
"""

from __future__ import annotations

import itertools
from typing import Any

import cv2
import numpy as np

from artkit.contracts import Detections, OptionSpec
from artkit.detection.boxes import nms, suppress_contained
from artkit.detection.cam import boxes_from_cam
from artkit.detection.nesting import demote_nested
from artkit.hookspecs import hookimpl

#: Frames are found on a copy of the photo with this longest side: enough for outlines,
#: cheap for Canny and contours; boxes are mapped back to the photo's pixels.
WORK_SIDE = 640

MIN_AREA = OptionSpec("min_area", float, 0.003,
                      "Drop boxes smaller than this share of the photo.")
#: frames+cnn keeps smaller outlines: its classifier rejects the small false ones that cost
#: `frames` AP (tuning half of estense-dev: AP@0.5 0.752 at 0.001 against 0.757 at 0.003,
#: within noise, and recall@0.5 of paintings under 1% of the photo 0.64 against 0.59).
FRAMES_CNN_MIN_AREA = OptionSpec("min_area", float, 0.001, MIN_AREA.help)
NMS_IOU = OptionSpec("nms_iou", float, 0.5,
                     "Drop a box overlapping a better one by more than this IoU.")
RECTANGULARITY = OptionSpec("rectangularity", float, 0.5,
                            "Frames: keep outlines filling at least this share of their "
                            "rotated bounding rectangle (low: wide-angle lenses bend frames).")
SCALES = OptionSpec("scales", str, str(WORK_SIDE),
                    "Frames: longest sides (px) the photo is searched at, '+'-separated; "
                    "several give multi-scale proposals (e.g. 640+1280).")

#: Canny thresholds as multiples of the photo's median grey, plus one fixed low pair for
#: dark photos: frames differ from wall by anything from a faint shadow to a gilded edge.
CANNY_LEVELS = ((0.67, 1.33, False), (0.34, 1.66, False), (20.0, 60.0, True))
#: Which sides of the photo are drawn into the edge map to close the outline of a painting
#: cut by the photo's edge: all four, and each alone (all four at once also closes the
#: wall around the painting into one region; one side at a time keeps them apart). On the
#: tuning half of estense-dev this raised recall@0.5 from 0.80 to 0.88.
BORDER_SIDES = ("tblr", "t", "b", "l", "r")
#: Dilations that close a broken outline; more closes more gaps but also merges neighbours.
DILATIONS = (1, 2, 3)
#: An outline spanning this share of both sides is the photo's own border, not a frame.
BORDER = 0.9
#: The minimum score of a reported painting without --threshold: the best F1 on the tuning
#: half of estense-dev (docs/detection.md; frames+cnn with the bundled model). Frame scores
#: are small numbers; frames+cnn's are near the classifier's probability.
FRAMES_THRESHOLD = 0.004
#: frames+cnn: with the bundled detector (three trainings averaged) the F1 of the reported
#: paintings on the tuning half of estense-dev is flat from 0.002 to 0.05 (0.751 to 0.772)
#: and falls on either side (0.722 at 0.2 and at 0.001, 0.22 at 0); 0.01 sits inside
#: (F1 0.770, precision 0.79, recall 0.75, 3.1 paintings per photo).
FRAMES_CNN_THRESHOLD = 0.01
#: Paintings are rarely thinner than 1:4; door jambs, wall strips and shadows often are.
MIN_ASPECT = OptionSpec("min_aspect", float, 0.25,
                        "Frames: drop outlines thinner than this (short side / long side).")
#: frames+cnn keeps thinner outlines: its classifier rejects the door jambs and wall strips,
#: and real rooms hold thin paintings: predella panels, and paintings cut by the photo's edge
#: down to a strip (most of what it missed on the tuning half of estense-dev). There, AP@0.5
#: was 0.783 at 0.25, 0.787 at 0.2, 0.801 at 0.15, 0.798 at 0.125, 0.795 at 0.1 (recall@0.5
#: 0.875 -> 0.912 at 0.15).
FRAMES_CNN_MIN_ASPECT = OptionSpec("min_aspect", float, 0.15, MIN_ASPECT.help)


def _empty() -> Detections:
    return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                      np.zeros((0, 4, 2), np.float32))


def _sides(options: dict[str, Any]) -> tuple[int, ...]:
    text = str(options.get("scales") or SCALES.default)
    try:
        sides = tuple(int(part) for part in text.replace(",", "+").split("+") if part)
    except ValueError:
        raise ValueError(f"--scales: '{text}' is not sides in pixels like 640+1280") from None
    if not sides or min(sides) < 64:
        raise ValueError(f"--scales: '{text}': each side must be at least 64 px")
    return sides


def _proposals(image: np.ndarray, options: dict[str, Any], min_area: float = MIN_AREA.default,
               min_aspect: float = MIN_ASPECT.default
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return frame_proposals(image, options.get("min_area", min_area),
                           options.get("rectangularity", RECTANGULARITY.default),
                           _sides(options), options.get("min_aspect", min_aspect))


def _result(boxes: np.ndarray, scores: np.ndarray, quads: np.ndarray) -> Detections:
    return Detections(boxes.astype(np.float32), scores.astype(np.float32),
                      quads.astype(np.float32))


def _box_sum(integral: np.ndarray, x1: int, y1: int, x2: int, y2: int) -> tuple[float, int]:
    """Sum and pixel count of a box (clipped to the image) from an integral image."""
    height, width = integral.shape[0] - 1, integral.shape[1] - 1
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    if x2 <= x1 or y2 <= y1:
        return 0.0, 0
    total = integral[y2, x2] - integral[y1, x2] - integral[y2, x1] + integral[y1, x1]
    return float(total), (x2 - x1) * (y2 - y1)


def _texture_contrast(integral: np.ndarray, x: int, y: int, w: int, h: int) -> float:
    """Edge density inside the box minus that of a ring around it: a painting is busy, the
    wall around it is plain."""
    inside, inside_pixels = _box_sum(integral, x, y, x + w, y + h)
    margin = max(4, int(0.1 * max(w, h)))
    outer, outer_pixels = _box_sum(integral, x - margin, y - margin, x + w + margin,
                                   y + h + margin)
    ring = (outer - inside) / max(outer_pixels - inside_pixels, 1)
    return inside / max(inside_pixels, 1) - ring


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four (x, y) points as top-left, top-right, bottom-right, bottom-left."""
    points = np.asarray(points, np.float64).reshape(4, 2)
    by_sum, by_diff = points.sum(axis=1), np.diff(points, axis=1).ravel()
    return np.array([points[by_sum.argmin()], points[by_diff.argmin()],
                     points[by_sum.argmax()], points[by_diff.argmax()]])


def _outline_corners(contour: np.ndarray, rect: Any) -> np.ndarray:
    """The four corners of an outline: its polygon when it simplifies to a convex
    quadrilateral (a frame seen at an angle), else its rotated bounding rectangle."""
    approx = cv2.approxPolyDP(contour, 0.03 * cv2.arcLength(contour, True), True)
    if len(approx) == 4 and cv2.isContourConvex(approx):
        corners = order_corners(approx)
        if len({tuple(c) for c in corners.round(3).tolist()}) == 4:
            return corners
    return order_corners(cv2.boxPoints(rect))


def _proposals_at(image: np.ndarray, side: int, min_area: float, rectangularity: float,
                  min_aspect: float
                  ) -> tuple[list[list[float]], list[float], list[np.ndarray], float]:
    """The outlines found on a copy of the photo whose longest side is `side`: boxes,
    scores and corners in that copy's pixels, and the copy's scale."""
    height, width = image.shape[:2]
    scale = min(side / max(height, width), 1.0)
    small = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1 else image
    gray = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    median = float(np.median(gray))
    photo_area = float(gray.shape[0] * gray.shape[1])
    reference = cv2.Canny(gray, 0.66 * median, 1.33 * median)
    integral = cv2.integral((reference > 0).astype(np.uint8))
    boxes, scores, quads = [], [], []
    for low, high, absolute in CANNY_LEVELS:
        edges = cv2.Canny(gray, low if absolute else low * median,
                          high if absolute else min(255.0, high * median))
        for sides, iterations in itertools.product(BORDER_SIDES, DILATIONS):
            bordered = edges.copy()
            for edge in sides:
                if edge in "tb":
                    bordered[0 if edge == "t" else -1, :] = 255
                else:
                    bordered[:, 0 if edge == "l" else -1] = 255
            closed = cv2.dilate(bordered, np.ones((3, 3), np.uint8), iterations=iterations)
            contours, _ = cv2.findContours(closed, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
            for contour in contours:
                area = cv2.contourArea(contour)
                if area < min_area * photo_area:
                    continue
                rect = cv2.minAreaRect(contour)
                (rw, rh) = rect[1]
                rect_fill = area / max(rw * rh, 1e-9)
                x, y, w, h = cv2.boundingRect(contour)
                if rect_fill < rectangularity or min(w / h, h / w) < min_aspect \
                        or (w > BORDER * gray.shape[1] and h > BORDER * gray.shape[0]):
                    continue
                contrast = max(_texture_contrast(integral, x, y, w, h), 0.0)
                boxes.append([x, y, x + w, y + h])
                scores.append(np.sqrt(w * h / photo_area) * rect_fill ** 2 * (contrast + 0.01))
                quads.append(_outline_corners(contour, rect))
    return boxes, scores, quads, scale


def frame_proposals(image: np.ndarray, min_area: float, rectangularity: float,
                    sides: tuple[int, ...] = (WORK_SIDE,),
                    min_aspect: float = MIN_ASPECT.default
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearly rectangular closed outlines of one RGB photo, with a frame score each.

    Outlines come from Canny edges at several thresholds, closed by several dilations, so
    that a frame is found whether it is faint or broken by glare; sides of the photo border
    close the outlines of paintings cut by the edge of the photo. The score, tuned on the
    tuning half of estense-dev (docs/detection.md), is sqrt(share of photo) x
    rectangularity^2 x (texture contrast + 0.01). The photo is worked on at each longest
    side of `sides` (several: multi-scale, the union of the outlines). Returns boxes (n, 4)
    in the photo's pixels, scores (n,), and corners (n, 4, 2: top-left, top-right,
    bottom-right, bottom-left of the outline's quadrilateral) in the photo's pixels."""
    boxes, scores, quads = [], [], []
    for side in sides:
        found_boxes, found_scores, found_quads, scale = _proposals_at(
            image, side, min_area, rectangularity, min_aspect)
        boxes += [np.array(b, np.float64) / scale for b in found_boxes]
        quads += [q / scale for q in found_quads]
        scores += found_scores
    if not boxes:
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 4, 2))
    box_array, score_array = np.array(boxes, np.float64), np.array(scores)
    unique = nms(box_array, score_array, 0.9)  # the same outline found at several settings
    return box_array[unique], score_array[unique], np.array(quads)[unique]


class CamMethod:
    name = "cam"
    description = "The CAM paper's rule: threshold the activation map, a box per blob."
    needs_cam = True
    options = (MIN_AREA, NMS_IOU)
    default_threshold = 0.0  # every blob the CAM rule (--cam-threshold) leaves

    def detect(self, image: np.ndarray, cam: np.ndarray | None, threshold: float,
               **options: Any) -> Detections:
        if cam is None:
            raise ValueError("the cam method needs a class activation map")
        return boxes_from_cam(cam, threshold,
                              min_area=options.get("min_area", MIN_AREA.default),
                              nms_iou=options.get("nms_iou", NMS_IOU.default))


class FramesMethod:
    name = "frames"
    description = "Rectangular frame outlines (Canny, contours, minAreaRect); no network."
    needs_cam = False
    options = (MIN_AREA, MIN_ASPECT, NMS_IOU, RECTANGULARITY, SCALES)
    default_threshold = FRAMES_THRESHOLD
    #: Without --method and without a model: the best method that needs none.
    default_rank = 2

    def detect(self, image: np.ndarray, cam: np.ndarray | None, threshold: float,
               **options: Any) -> Detections:
        boxes, scores, quads = _proposals(image, options)
        if not len(boxes):
            return _empty()
        keep = nms(boxes, scores, options.get("nms_iou", NMS_IOU.default))
        return _result(boxes[keep], scores[keep], quads[keep])


def mean_cam_inside(cam: np.ndarray, boxes: np.ndarray, threshold: float) -> np.ndarray:
    """Per box, the mean over its pixels of the CAM relative to its peak, counting only
    pixels above ``threshold x peak`` (the CAM rule decides what is evidence)."""
    peak = float(cam.max()) if cam.size else 0.0
    if peak <= 0:
        return np.zeros(len(boxes))
    relative = cam / peak
    relative = np.where(relative > threshold, relative, 0.0).astype(np.float64)
    integral = cv2.integral(relative)
    means = []
    for x1, y1, x2, y2 in np.round(boxes).astype(int):
        total, pixels = _box_sum(integral, x1, y1, x2, y2)
        means.append(total / pixels if pixels else 0.0)
    return np.array(means)


class CamFramesMethod:
    name = "cam+frames"
    description = "Frame outlines re-scored by the mean CAM inside; nested boxes dropped."
    needs_cam = True
    options = (MIN_AREA, MIN_ASPECT, NMS_IOU, RECTANGULARITY, SCALES)
    default_threshold = 0.0  # every outline the CAM rule (--cam-threshold) leaves

    def __init__(self) -> None:
        self._last: tuple[Any, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None

    def _proposals(self, image: np.ndarray, options: dict[str, Any]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frame proposals, remembered for the last photo: a threshold sweep asks for the
        same photo at 19 thresholds, and the outlines do not depend on the threshold."""
        key = (image.shape, hash(image[::17, ::17].tobytes()),
               *(options.get(k) for k in ("min_area", "rectangularity", "scales")))
        if self._last is None or self._last[0] != key:
            self._last = (key, _proposals(image, options))
        return self._last[1]

    def detect(self, image: np.ndarray, cam: np.ndarray | None, threshold: float,
               **options: Any) -> Detections:
        if cam is None:
            raise ValueError("the cam+frames method needs a class activation map")
        boxes, frame_scores, quads = self._proposals(image, options)
        scores = frame_scores * mean_cam_inside(cam, boxes, threshold)
        keep = scores > 0
        boxes, scores, quads = boxes[keep], scores[keep], quads[keep]
        if not len(boxes):
            return _empty()
        order = nms(boxes, scores, options.get("nms_iou", NMS_IOU.default))
        boxes, scores, quads = boxes[order], scores[order], quads[order]
        order = suppress_contained(boxes, scores)
        return _result(boxes[order], scores[order], quads[order])


class FramesCnnMethod:
    """R-CNN's recipe (Girshick et al. 2014) with frame outlines as the proposals: each
    outline, with a 10% margin, is cropped and classified by the model, and scored by the
    probability of the class; an outline lying inside a larger plausible painting (a
    canvas inside its own frame, a detail of a painting, a carved corner) is demoted
    (:mod:`artkit.detection.nesting`): one confident box per painting, the outer one. On
    real rooms this ranked better than the mean CAM inside the box: the
    classifier sees the whole proposal at the scale it was trained on, where the CAM of the
    whole photo is 7x7 cells at 224 px. With the bundled
    detector of the gallery rooms, weighting in the frame score (p x frame^b) no longer
    helped on the tuning half of estense-dev (AP@0.5 0.757 at b = 0, 0.742 at 1/16).
    Demoting nested outlines replaced dropping those inside a better-scored confident one
    (p >= 0.5): it also demotes a confident detail inside a whole painting the classifier
    doubts, and keeps nested small paintings as candidates (docs/detection.md, "False
    boxes")."""

    name = "frames+cnn"
    description = "Frame outlines ranked by the model's class probability on each crop."
    needs_cam = False
    needs_classifier = True
    options = (FRAMES_CNN_MIN_AREA, FRAMES_CNN_MIN_ASPECT, NMS_IOU, RECTANGULARITY, SCALES)
    default_threshold = FRAMES_CNN_THRESHOLD
    #: Without --method, the measured best (docs/detection.md) whenever there is a model.
    default_rank = 1
    margin = 0.1
    max_proposals = 50

    def detect(self, image: np.ndarray, cam: np.ndarray | None, threshold: float,
               **options: Any) -> Detections:
        classify = options.get("classify")
        if classify is None:
            raise ValueError("the frames+cnn method needs a classifier (a model)")
        boxes, frame_scores, quads = _proposals(image, options, FRAMES_CNN_MIN_AREA.default,
                                                FRAMES_CNN_MIN_ASPECT.default)
        keep = nms(boxes, frame_scores, options.get("nms_iou", NMS_IOU.default))
        keep = keep[:self.max_proposals]
        if not len(keep):
            return _empty()
        boxes, quads = boxes[keep], quads[keep]
        height, width = image.shape[:2]
        crops = []
        for x1, y1, x2, y2 in boxes:
            pad = self.margin * max(x2 - x1, y2 - y1)
            crops.append(image[int(max(0, y1 - pad)):int(min(height, y2 + pad)),
                               int(max(0, x1 - pad)):int(min(width, x2 + pad))])
        probability = np.asarray(classify(crops), np.float64)
        # the outlines are in frame-score order, so the stable sort breaks ties by it
        return _result(boxes, demote_nested(boxes, probability), quads)


@hookimpl
def register_detection_methods(register) -> None:
    register(FramesCnnMethod())
    register(CamFramesMethod())
    register(FramesMethod())
    register(CamMethod())
