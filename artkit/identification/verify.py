"""Spatial verification: does a shortlisted collection item really appear in a photo's crop?

Two images of the same flat artwork are related by a homography; two different artworks
are not. So the item's RootSIFT keypoints are matched to the crop's (nearest neighbour with
Lowe's ratio test), a homography is fitted with RANSAC (OpenCV's USAC MAGSAC++), and the
matches it explains, the inliers, are the evidence. A homography that RANSAC finds among
random matches is usually degenerate, so it must also look like a picture seen by a camera:
the item's outline maps to a convex quadrilateral with the same orientation (no mirror),
of a plausible size inside the crop, with sides that do not collapse. The inlier count of
a homography that fails those checks is 0.

This is the fast-spatial-matching re-ranking of instance retrieval (Philbin et al. 2007),
on a shortlist from a global embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Lowe's ratio: a match is kept when its nearest item descriptor is clearly nearer than
#: the second nearest.
RATIO = 0.8
#: RANSAC's inlier distance, as a share of the crop's longer side (at least 3 px).
REPROJECTION = 0.012
#: The fewest matches worth fitting a homography to.
MIN_MATCHES = 6
#: The item's outline mapped into the crop must cover between these shares of the crop's
#: area: a painting fills most of its rectified crop (the detector's box may hold a frame
#: or cut a painting), never 1/200 of it, and never 30 crops.
AREA_SHARE = (0.05, 30.0)
#: The shortest side of the mapped outline over the longest: below this it is a sliver.
MIN_SIDE_RATIO = 0.08


@dataclass(frozen=True)
class Verification:
    """The evidence that one item appears in one crop."""

    inliers: int
    """Matches the homography explains (0 when there is none, or it is implausible)."""
    matches: int
    """Matches that passed the ratio test."""
    homography: np.ndarray | None = None
    """3x3, item pixels -> crop pixels (None when rejected)."""
    outline: np.ndarray | None = None
    """float32 (4, 2): the item's corners mapped into the crop (None when rejected)."""


def ratio_matches(similarity: np.ndarray, ratio: float = RATIO
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(query rows, item rows) of the matches that pass Lowe's ratio test, from the dot
    products (n_query, n_item) of RootSIFT descriptors. RootSIFT vectors have unit length,
    so the Euclidean distance (the Hellinger kernel's) is sqrt(2 - 2 x dot): one matrix
    product serves every item of a shortlist."""
    if similarity.shape[0] < 1 or similarity.shape[1] < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    best_two = np.argpartition(-similarity, 1, axis=1)[:, :2]
    pair = np.take_along_axis(similarity, best_two, axis=1)
    swap = pair[:, 1] > pair[:, 0]
    nearest = np.where(swap, best_two[:, 1], best_two[:, 0])
    distance = np.sqrt(np.maximum(2.0 - 2.0 * pair, 0.0))
    first = np.where(swap, distance[:, 1], distance[:, 0])
    second = np.where(swap, distance[:, 0], distance[:, 1])
    rows = np.flatnonzero(first < ratio * second)
    return rows, nearest[rows]


def plausible_outline(outline: np.ndarray, crop_size: tuple[int, int]) -> bool:
    """Whether corners TL, TR, BR, BL mapped into a crop of (height, width) look like a
    picture seen by a camera: convex, not mirrored, not a sliver, of a plausible size."""
    if not np.all(np.isfinite(outline)):
        return False
    edges = np.roll(outline, -1, axis=0) - outline
    turns = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - \
        edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    # image y points down, so TL -> TR -> BR -> BL turns clockwise on screen: all positive
    if not np.all(turns > 0):
        return False
    sides = np.linalg.norm(edges, axis=1)
    if sides.min() < MIN_SIDE_RATIO * sides.max():
        return False
    area = 0.5 * abs(float(np.dot(outline[:, 0], np.roll(outline[:, 1], -1))
                           - np.dot(outline[:, 1], np.roll(outline[:, 0], -1))))
    share = area / max(1.0, float(crop_size[0] * crop_size[1]))
    return AREA_SHARE[0] <= share <= AREA_SHARE[1]


def verify(query_xy: np.ndarray, crop_size: tuple[int, int], item_xy: np.ndarray,
           item_size: tuple[int, int], similarity: np.ndarray) -> Verification:
    """Match an item's keypoints (xy in its image of (width, height) `item_size`) to a
    crop's (xy in the crop of (height, width) `crop_size`), given their descriptors' dot
    products (n_query, n_item), and fit the homography."""
    query_rows, item_rows = ratio_matches(similarity)
    if len(query_rows) < MIN_MATCHES:
        return Verification(0, len(query_rows))
    source = item_xy[item_rows].reshape(-1, 1, 2).astype(np.float32)
    target = query_xy[query_rows].reshape(-1, 1, 2).astype(np.float32)
    distance = max(3.0, REPROJECTION * max(crop_size))
    homography, mask = cv2.findHomography(source, target, cv2.USAC_MAGSAC, distance,
                                          maxIters=2000, confidence=0.999)
    if homography is None or mask is None:
        return Verification(0, len(query_rows))
    width, height = item_size
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    outline = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), homography).reshape(4, 2)
    if not plausible_outline(outline, crop_size):
        return Verification(0, len(query_rows))
    return Verification(int(mask.sum()), len(query_rows), homography, outline)
