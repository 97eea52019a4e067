"""Cut a found painting out of its photo: the box, or, when the outline's four corners are
known, the quadrilateral rectified to a frontal rectangle by a homography.

A painting seen at an angle is a quadrilateral in the photo; mapping its corners onto a
rectangle whose sides are the quadrilateral's longer opposite sides undoes the
perspective (up to the painting's true aspect ratio, which one photo does not give).
"""

from __future__ import annotations

import cv2
import numpy as np

#: Corners this close to their box's (in pixels, relative to its longer side) are a box,
#: which a plain crop cuts exactly; warping would only resample it.
AXIS_ALIGNED = 0.02


def rectified_size(quad: np.ndarray) -> tuple[int, int]:
    """(width, height) of the frontal rectangle for corners TL, TR, BR, BL: the longer of
    each pair of opposite sides."""
    tl, tr, br, bl = np.asarray(quad, np.float64).reshape(4, 2)
    width = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
    height = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    return max(1, round(width)), max(1, round(height))


def rectify(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The quadrilateral `quad` (TL, TR, BR, BL in `image`'s pixels) warped to a frontal
    rectangle by the homography that maps its corners onto the rectangle's."""
    return _rectified(image, quad)[0]


def _rectified(image: np.ndarray, quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    width, height = rectified_size(quad)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    homography = cv2.getPerspectiveTransform(np.asarray(quad, np.float32).reshape(4, 2),
                                             target)
    return cv2.warpPerspective(image, homography, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE), homography


def crop_box(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The pixels of box x1, y1, x2, y2 (clipped to the image; at least one pixel)."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = np.asarray(box, np.float64).round().astype(int)
    x1, y1 = min(max(x1, 0), width - 1), min(max(y1, 0), height - 1)
    x2, y2 = max(min(x2, width), x1 + 1), max(min(y2, height), y1 + 1)
    return image[y1:y2, x1:x2].copy()


def crop_painting(image: np.ndarray, box: np.ndarray, quad: np.ndarray | None = None
                  ) -> np.ndarray:
    """A painting's image: rectified by its corners when they are given and not simply
    its box, else the box cut out."""
    return cut_painting(image, box, quad)[0]


def cut_painting(image: np.ndarray, box: np.ndarray, quad: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`crop_painting`, and the 3x3 homography from the crop's pixels back to
    `image`'s (what places something found in the crop on the photo)."""
    height, width = image.shape[:2]
    if quad is not None:
        quad = np.asarray(quad, np.float64).reshape(4, 2)
        x1, y1, x2, y2 = np.asarray(box, np.float64)
        corners = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
        tolerance = AXIS_ALIGNED * max(x2 - x1, y2 - y1, 1.0)
        if np.abs(quad - corners).max() > tolerance:
            crop, homography = _rectified(image, quad)
            return crop, np.linalg.inv(homography)
    x1, y1, _, _ = np.asarray(box, np.float64).round().astype(int)
    shift = np.eye(3)
    shift[:2, 2] = min(max(x1, 0), width - 1), min(max(y1, 0), height - 1)
    return crop_box(image, box), shift
