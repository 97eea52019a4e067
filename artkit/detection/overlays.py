"""Overlays for `artkit detect --save-vis`: the photo, its CAM as a heatmap (CAM methods
only), the boxes.

Looking at these is how one learns what a detector does wrong (a CAM lighting up only a
painting's centre, frames found around doors), which no single number says."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from artkit import atomic
from artkit.contracts import Detections

#: Overlays are shrunk to this longest side: enough to judge boxes, small on disk.
VIS_SIDE = 960


def overlay(image: np.ndarray, detections: Detections, cam: np.ndarray | None = None,
            truth: np.ndarray | None = None, max_boxes: int = 20) -> np.ndarray:
    """RGB picture: the photo in its true colours, or with the CAM (relative to its peak)
    blended in as a heatmap when one is given (the CAM methods: it is what they box),
    annotated boxes in white (if given) and found boxes in green, each labelled with its
    rank and score on a dark plate placed where it hides no other label."""
    scale = min(VIS_SIDE / max(image.shape[:2]), 1.0)
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    picture = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if scale < 1 \
        else image.copy()
    if cam is not None:
        peak = float(cam.max())
        relative = np.clip(cam / peak, 0, 1) if peak > 0 else np.zeros_like(cam)
        heat = cv2.applyColorMap((cv2.resize(relative, size) * 255).astype(np.uint8),
                                 cv2.COLORMAP_JET)
        picture = cv2.addWeighted(picture, 0.6, cv2.cvtColor(heat, cv2.COLOR_BGR2RGB), 0.4, 0)
    thickness = max(2, round(max(size) / 320))
    for box in (truth if truth is not None else []):
        x1, y1, x2, y2 = (np.asarray(box) * scale).round().astype(int)
        cv2.rectangle(picture, (x1, y1), (x2, y2), (255, 255, 255), thickness, cv2.LINE_AA)
    order = np.argsort(-detections.scores)[:max_boxes]
    drawn = [(detections.boxes[index] * scale).round().astype(int) for index in order]
    for x1, y1, x2, y2 in drawn:
        cv2.rectangle(picture, (x1, y1), (x2, y2), (0, 230, 0), thickness, cv2.LINE_AA)
    placed: list[tuple[int, int, int, int]] = []
    for rank, (index, box) in enumerate(zip(order, drawn, strict=True), start=1):
        draw_label(picture, f"{rank}: {detections.scores[index]:.2g}", box, placed)
    return picture


#: Label text: OpenCV's plain font at this scale is legible on a 960 px overlay.
LABEL_SCALE = 0.55
LABEL_PAD = 3


def draw_label(picture: np.ndarray, text: str, box: np.ndarray,
               placed: list[tuple[int, int, int, int]],
               colour: tuple[int, int, int] = (0, 255, 0)) -> None:
    """Draw `text` on a dark plate at a corner of `box` (inside top-left, above it, inside
    bottom-left, below it), the first that overlaps no label already `placed`, else stacked
    under the top-left one until it is free; the plate is kept inside the picture."""
    (width, height), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, LABEL_SCALE, 1)
    width, height = width + 2 * LABEL_PAD, height + base + 2 * LABEL_PAD
    x1, y1, _, y2 = (int(v) for v in box)
    rows, columns = picture.shape[:2]
    tries = [(x1, y1), (x1, y1 - height), (x1, y2 - height), (x1, y2)]
    tries += [(x1, y1 + k * height) for k in range(1, max(1, rows // max(height, 1)))]
    for left, top in tries:
        left = min(max(left, 0), max(columns - width, 0))
        top = min(max(top, 0), max(rows - height, 0))
        plate = (left, top, left + width, top + height)
        if not any(plate[0] < p[2] and p[0] < plate[2] and plate[1] < p[3] and p[1] < plate[3]
                   for p in placed):
            break
    placed.append(plate)
    cv2.rectangle(picture, plate[:2], (plate[2] - 1, plate[3] - 1), (0, 0, 0), cv2.FILLED)
    cv2.putText(picture, text, (plate[0] + LABEL_PAD, plate[3] - LABEL_PAD - base),
                cv2.FONT_HERSHEY_SIMPLEX, LABEL_SCALE, colour, 1, cv2.LINE_AA)


def save_overlay(picture: np.ndarray, path: Path) -> Path:
    """Write an RGB picture as JPEG or PNG (by suffix), atomically."""
    ok, encoded = cv2.imencode(path.suffix, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"cannot encode {path.suffix}")
    return atomic.write_bytes(path, encoded.tobytes())
