"""Training data for a CAM detector: crops of room photos, "painting" vs "background".

A classifier whose class activation map finds paintings must learn what a painting looks
like *against a room*, not against other artworks: nearly every room photo holds a
painting, so whole rooms labelled by "contains a painting" teach nothing. Crops do: a crop
around an annotated painting, with a random margin of wall (so the painting fills from a
tenth to most of the crop, the scales it has in a room photo), is a "painting"; a crop of
the same room that overlaps no painting (wall, doors, sculptures, labels, floor) is
"background". The result is a class-folder data set that ``artkit train --data`` reads.

With ``proposals=METHOD`` (a detection method that needs no model, e.g. ``frames``) the
crops are that method's boxes instead, cut with the same 10% margin the ``frames+cnn``
method uses: boxes overlapping a painting by IoU >= 0.6 (and the annotated boxes) are
"painting", boxes with IoU < 0.3 to every painting are "background" (R-CNN's recipe: the
classifier then learns to tell a whole painting from a wall, a detail or a group).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from artkit import atomic
from artkit.console import track
from artkit.contracts import capability
from artkit.data.dataset import load_dataset
from artkit.data.decode import decode_image, resize_to
from artkit.detection.boxes import intersections, iou_matrix
from artkit.errors import ArtkitError, ImageDecodeError

CLASSES = ("painting", "background")
#: A proposal overlapping a painting by at least this IoU is a painting crop ...
POSITIVE_IOU = 0.6
#: ... and one overlapping every painting by less than this is a background crop.
NEGATIVE_IOU = 0.3


def _painting_crop(rng: np.random.Generator, box: np.ndarray, width: int, height: int
                   ) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * rng.uniform(1.1, 2.5)
    cx = (x1 + x2) / 2 + rng.uniform(-0.25, 0.25) * side
    cy = (y1 + y2) / 2 + rng.uniform(-0.25, 0.25) * side
    return _clip_square(cx, cy, side, width, height)


def _clip_square(cx: float, cy: float, side: float, width: int, height: int
                 ) -> tuple[int, int, int, int]:
    side = min(side, width, height)
    x1 = int(np.clip(cx - side / 2, 0, width - side))
    y1 = int(np.clip(cy - side / 2, 0, height - side))
    return x1, y1, int(x1 + side), int(y1 + side)


def _background_crop(rng: np.random.Generator, boxes: np.ndarray, width: int, height: int,
                     tries: int = 30) -> tuple[int, int, int, int] | None:
    """A random square overlapping no painting by more than 5% of that painting."""
    painting_areas = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1)
    for _ in range(tries):
        side = rng.uniform(0.15, 0.6) * min(width, height)
        crop = _clip_square(rng.uniform(0, width), rng.uniform(0, height), side, width, height)
        if not len(boxes) or (intersections(np.array([crop]), boxes)[0] / painting_areas
                              ).max() <= 0.05:
            return crop
    return None


def _with_margin(box: np.ndarray, margin: float, width: int, height: int
                 ) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    pad = margin * max(x2 - x1, y2 - y1)
    return (int(max(0, x1 - pad)), int(max(0, y1 - pad)), int(min(width, x2 + pad)),
            int(min(height, y2 + pad)))


def _proposal_crops(rng: np.random.Generator, method, photo: np.ndarray, boxes: np.ndarray,
                    per_photo: int) -> list[tuple[str, tuple[int, int, int, int]]]:
    height, width = photo.shape[:2]
    found = np.asarray(method.detect(photo, None, 0.2).boxes, np.float64).reshape(-1, 4)
    best = iou_matrix(found, boxes).max(axis=1) if len(boxes) else np.zeros(len(found))
    positives = list(boxes) + list(found[best >= POSITIVE_IOU])
    negatives = found[best < NEGATIVE_IOU]
    crops = []
    for k in rng.permutation(len(positives))[:per_photo]:
        crops.append(("painting", _with_margin(positives[k], 0.1, width, height)))
    for k in rng.permutation(len(negatives))[:per_photo]:
        crops.append(("background", _with_margin(negatives[k], 0.1, width, height)))
    return crops


def _random_crops(rng: np.random.Generator, boxes: np.ndarray, width: int, height: int,
                  per_photo: int) -> list[tuple[str, tuple[int, int, int, int]]]:
    crops = [("painting", _painting_crop(rng, boxes[k], width, height))
             for k in rng.permutation(len(boxes))[:per_photo]]
    for _ in range(per_photo):
        crop = _background_crop(rng, boxes, width, height)
        if crop is not None:
            crops.append(("background", crop))
    return crops


def make_room_crops(data: Path, out: Path, per_photo: int = 2, size: int = 128,
                    seed: int = 0, proposals: str | None = None) -> dict[str, int]:
    """Write ``out/painting/*.jpg`` and ``out/background/*.jpg`` from the detection data set
    at `data` (COCO boxes): up to `per_photo` crops of each class per photo, `size` pixels
    square (stretched, as the network sees a proposal). Returns the crops per class."""
    from artkit import registry

    method = registry.get(registry.Kind.DETECTION_METHOD, proposals) if proposals else None
    if method is not None and (method.needs_cam or capability(method, "needs_classifier")):
        raise ArtkitError(f"--proposals {proposals}: the method needs a model; use one that "
                          "does not (e.g. frames)")
    dataset = load_dataset(data)
    if dataset.task != "detection" or dataset.boxes is None:
        raise ArtkitError("expected a detection data set (COCO boxes)", data)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ArtkitError("output folder exists and is not empty", out)
    rng = np.random.default_rng(seed)
    counts = dict.fromkeys(CLASSES, 0)
    for index in track(range(len(dataset)), "cropping rooms"):
        try:
            photo = decode_image(dataset.paths[index])
        except ImageDecodeError:
            continue
        height, width = photo.shape[:2]
        boxes = dataset.boxes[index]
        if method is not None:
            crops = _proposal_crops(rng, method, photo, boxes, per_photo)
        else:
            crops = _random_crops(rng, boxes, width, height, per_photo)
        for label, (x1, y1, x2, y2) in crops:
            if x2 - x1 < 8 or y2 - y1 < 8:
                continue
            patch = resize_to(photo[y1:y2, x1:x2], (size, size))
            ok, data_bytes = cv2.imencode(".jpg", cv2.cvtColor(patch, cv2.COLOR_RGB2BGR),
                                          [cv2.IMWRITE_JPEG_QUALITY, 92])
            if ok:
                atomic.write_bytes(out / label / f"{index:05d}_{counts[label]:06d}.jpg",
                                data_bytes.tobytes())
                counts[label] += 1
    return counts
