"""Overlays for `artkit detect --save-vis`: the photo, its CAM as a heatmap, the boxes.

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
    """RGB picture: the photo with the CAM (relative to its peak) blended in as a heatmap,
    annotated boxes in white (if given) and found boxes in green with their rank and score."""
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
    for rank, index in enumerate(order, start=1):
        x1, y1, x2, y2 = (detections.boxes[index] * scale).round().astype(int)
        cv2.rectangle(picture, (x1, y1), (x2, y2), (0, 230, 0), thickness, cv2.LINE_AA)
        cv2.putText(picture, f"{rank}: {detections.scores[index]:.2g}", (x1 + 4, y1 + 18),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 255, 0), 2, cv2.LINE_AA)
    return picture


def save_overlay(picture: np.ndarray, path: Path) -> Path:
    """Write an RGB picture as JPEG or PNG (by suffix), atomically."""
    ok, encoded = cv2.imencode(path.suffix, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"cannot encode {path.suffix}")
    return atomic.write_bytes(path, encoded.tobytes())
