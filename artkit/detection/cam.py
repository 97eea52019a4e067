"""Class activation map -> boxes: the CAM paper's thresholding rule (Zhou et al. 2016).

A CAM is a low-resolution map (e.g. 7x7 or 14x14) of how much each place of the photo
pushed the network towards a class. To localise, it is upsampled to the photo's size, the
pixels above ``threshold x max`` are kept (20% in the paper), and each connected component
of kept pixels becomes one box. Several paintings in a photo give several components, so
several boxes. A box is scored by the mean activation inside its component: a large, weak
blob ranks below a compact, strong one, and scores stay comparable between photos of the
same model (they are in the CAM's own units, not normalised per photo).
"""

from __future__ import annotations

import cv2
import numpy as np

from artkit.contracts import Detections
from artkit.detection.boxes import nms


def upsample(cam: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a (h, w) map to (height, width), float32.

    `cv2.resize` aligns pixel centres, so a map cell covers the same part of the photo as the
    receptive field centre it came from."""
    cam = np.asarray(cam, dtype=np.float32)
    if cam.ndim != 2:
        raise ValueError(f"a CAM is a 2-D map, got shape {cam.shape}")
    if cam.shape == (height, width):
        return cam
    return cv2.resize(cam, (width, height), interpolation=cv2.INTER_LINEAR)


def threshold_mask(cam: np.ndarray, threshold: float) -> np.ndarray:
    """uint8 mask of the pixels above ``threshold x max`` (empty when the map has no
    positive value: a photo with no evidence for the class gets no box)."""
    peak = float(np.max(cam)) if cam.size else 0.0
    if peak <= 0:
        return np.zeros(cam.shape, dtype=np.uint8)
    return (cam > threshold * peak).astype(np.uint8)


def boxes_from_cam(cam: np.ndarray, threshold: float = 0.2, min_area: float = 0.005,
                   nms_iou: float = 0.5) -> Detections:
    """Boxes of the connected components of a CAM already sized like the photo.

    `min_area` drops components smaller than that share of the photo (specks of noise);
    `nms_iou` removes boxes overlapping a better one by more than that IoU (components are
    disjoint, but their bounding boxes can overlap heavily)."""
    cam = np.asarray(cam, dtype=np.float32)
    mask = threshold_mask(cam, threshold)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    min_pixels = min_area * cam.shape[0] * cam.shape[1]
    sums = np.bincount(labels.ravel(), weights=cam.ravel(), minlength=count)
    boxes, scores = [], []
    for label in range(1, count):  # label 0 is the background
        x, y, w, h, pixels = stats[label]
        if pixels < min_pixels:
            continue
        boxes.append([x, y, x + w, y + h])
        scores.append(sums[label] / pixels)
    if not boxes:
        return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
    box_array, score_array = np.array(boxes, np.float32), np.array(scores, np.float32)
    keep = nms(box_array, score_array, nms_iou)
    return Detections(box_array[keep], score_array[keep])
