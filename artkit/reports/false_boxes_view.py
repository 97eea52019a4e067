"""The boxes page's "confident false boxes" view: each reported box scoring at least 0.5
that matches no annotated painting, best first, as its crop, with its kind.

A user trusts the confident boxes first, so these are the mistakes that cost trust; seeing
them cut out, beside their kind (:mod:`artkit.detection.false_boxes`: a detail inside a
painting, a duplicate, a box spanning two paintings, a strip at the border, other), says
which cure a detector needs faster than any number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from artkit.data.decode import decode_image, resize_to
from artkit.detection.boxes import as_boxes
from artkit.detection.false_boxes import false_boxes
from artkit.reports.page import Gallery, clean, relative_link
from artkit.reports.thumbs import JPEG_QUALITY, SIDE, data_uri

#: From this score a box is confident: what a user reads as "probably a painting".
CONFIDENT = 0.5
#: The crop shows this share of the box's longer side around it: enough to see what the
#: box cut into (the rest of a painting, its frame, the wall).
MARGIN = 0.1


class _Photo(Protocol):
    path: Path
    boxes: list[Any]
    truth: np.ndarray | None


def _crop_uri(image: np.ndarray, box: np.ndarray) -> str:
    """The box with a margin, as a JPEG thumbnail ``data:`` URI."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    pad = MARGIN * max(x2 - x1, y2 - y1)
    left, top = int(max(0, x1 - pad)), int(max(0, y1 - pad))
    right, bottom = int(min(width, x2 + pad)), int(min(height, y2 + pad))
    crop = image[top:max(bottom, top + 1), left:max(right, left + 1)]
    scale = min(1.0, SIDE / max(crop.shape[:2]))
    small = resize_to(crop, (max(1, round(crop.shape[0] * scale)),
                             max(1, round(crop.shape[1] * scale))))
    _, encoded = cv2.imencode(".jpg", np.ascontiguousarray(small[:, :, ::-1]),
                              [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return data_uri(encoded.tobytes())


def false_box_items(photos: list[_Photo], page: Path) -> list[dict[str, Any]]:
    """Gallery items of the confident false boxes of annotated photos, best first."""
    found: list[tuple[float, dict[str, Any]]] = []
    for photo in photos:
        scores = np.array([b.score for b in photo.boxes], np.float64)
        if photo.truth is None or not (scores >= CONFIDENT).any():
            continue
        image, error = None, ""
        try:
            image = decode_image(photo.path)
        except Exception as exc:  # noqa: BLE001 - any unreadable photo is one broken tile
            error = f"{type(exc).__name__}: {exc}"
        boxes = as_boxes([b.xyxy for b in photo.boxes])
        size = image.shape[:2] if image is not None else (0, 0)
        for false in false_boxes(boxes, scores, photo.truth, size):
            score = float(scores[false.index])
            if score < CONFIDENT:
                continue
            kind = false.kind if image is not None else "photo unreadable"
            item = {"name": photo.path.name, "path": str(photo.path),
                    "href": relative_link(photo.path, page),
                    "lines": [["wrong", f"{score:.2g}: {kind}"],
                              ["pred", "box " + ", ".join(f"{v:.0f}"
                                                          for v in boxes[false.index])]],
                    "f": {"kind": [kind]}, "score": clean(score)}
            if image is not None:
                item["src"] = _crop_uri(image, boxes[false.index])
            else:
                item["err"] = error
            found.append((score, item))
    return [item for _, item in sorted(found, key=lambda pair: -pair[0])]


def false_box_gallery(photos: list[_Photo], page: Path) -> Gallery:
    """The "confident false boxes" gallery of the boxes page (annotated photos only)."""
    items = false_box_items(photos, page)
    gallery = Gallery("false-boxes", f"{len(items)} confident false box"
                      + ("" if len(items) == 1 else "es"), items,
                      note=f"Reported boxes scoring at least {CONFIDENT:g} that match no "
                      "annotated painting (IoU < 0.5, or a second box on a painting already "
                      "matched), best first, cut out with a margin. Kinds: inside (a detail "
                      "of a painting, a canvas inside its frame), duplicate, spanning (two "
                      "or more paintings in one box), strip (thin, at the photo's border), "
                      "other (a wall, a door...).",
                      score={"title": "score", "min": CONFIDENT, "max": 1.0},
                      orders=[("given", "best first"), ("score-asc", "least confident first"),
                              ("name", "file name")])
    gallery.add_filter("kind", "kind")
    return gallery
