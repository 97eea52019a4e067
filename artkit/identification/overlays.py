"""Overlays for `artkit identify --save-vis`: each identified painting's box, labelled with
the item it shows and the confidence.

Green: verified by a homography; amber: accepted on the global similarity alone; thin
grey, unlabelled: looked at and not in the collection. Looking at these shows what no
count does: which wall a wrong title went to, and which paintings the detector never
offered."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from artkit.detection.overlays import VIS_SIDE, draw_label

COLOURS = {"verified": (0, 220, 0), "global": (255, 170, 0), None: (170, 170, 170)}
#: Titles longer than this are cut (with an ellipsis) so a label fits its painting.
TITLE_CHARS = 40


def ascii_text(text: str) -> str:
    """`text` in the letters OpenCV's font has: accents dropped (Molé -> Mole), anything
    else non-ASCII as '?'."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.replace("…", "...").encode("ascii", "replace").decode()


def short(text: str, limit: int = TITLE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def identify_overlay(image: np.ndarray, regions: Sequence[Any], scale: float) -> np.ndarray:
    """RGB picture of working copy `image` (photo pixels x `scale`), shrunk to
    :data:`VIS_SIDE`, with `regions` (:class:`~artkit.api.identify.Identified`-like: box,
    quad, method, label, confidence) drawn, unknown ones first so known labels stay on top;
    a verified artwork is outlined where its homography puts its corners."""
    shrink = min(VIS_SIDE / max(image.shape[:2]), 1.0)
    size = (max(1, round(image.shape[1] * shrink)), max(1, round(image.shape[0] * shrink)))
    picture = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if shrink < 1 \
        else image.copy()
    thickness = max(2, round(max(size) / 320))
    placed: list[tuple[int, int, int, int]] = []
    for region in sorted(regions, key=lambda r: r.method is not None):
        colour = COLOURS[region.method]
        box = (np.asarray(region.box) * scale * shrink).round().astype(int)
        if region.method is None:  # looked at, not in the collection: a thin box, no label
            cv2.rectangle(picture, tuple(box[:2]), tuple(box[2:]), colour, 1, cv2.LINE_AA)
            continue
        if region.method == "verified" and region.quad is not None:  # where the artwork is
            corners = (np.asarray(region.quad) * scale * shrink).round().astype(np.int32)
            cv2.polylines(picture, [corners], True, colour, thickness, cv2.LINE_AA)
        else:
            cv2.rectangle(picture, tuple(box[:2]), tuple(box[2:]), colour, thickness,
                          cv2.LINE_AA)
        text = f"{short(region.label)} {region.confidence:.2f}"
        draw_label(picture, ascii_text(text), box, placed, colour)
    return picture
