"""Identify the regions of one image in memory: crop, embed, shortlist, verify, decide.

This is the whole of identification for one picture, with no files: ``artkit identify``
runs it on each photo's detected paintings, and a service can run it on an upload. The
embedding model is passed in as a function, so this package needs no model by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from artkit.detection.boxes import areas, intersections
from artkit.detection.crops import cut_painting
from artkit.embeddings.local import root_sift
from artkit.identification.collection import Collection
from artkit.identification.decide import Candidate, Decision, IdentifyRule
from artkit.identification.verify import verify

#: Shortlisted items verified per region by default.
TOP_K = 10
#: Keypoints described in a region's crop (more than an item keeps: the crop holds frame
#: and wall too).
QUERY_KEYPOINTS = 600
#: Crops are described with their longer side at most this many pixels.
QUERY_SIDE = 400

#: A region this much inside another (share of its area) shows the same artwork as it.
NESTED = 0.9

Embedder = Callable[[Sequence[np.ndarray]], np.ndarray]
"""RGB uint8 crops -> float32 (n, D) L2-normalised embeddings (the index's model)."""


@dataclass(frozen=True)
class Region:
    """Where to look in an image: a box x1, y1, x2, y2 and, when known, the four corners
    (TL, TR, BR, BL) to rectify, in the image's pixels; the detector's score."""

    box: np.ndarray
    quad: np.ndarray | None = None
    score: float | None = None


@dataclass
class RegionResult:
    """What one region showed: the rule's decision, every verified candidate, and where
    the chosen item's corners lie in the image (verified items only)."""

    region: Region
    decision: Decision
    candidates: list[Candidate] = field(default_factory=list)
    outline: np.ndarray | None = None
    """float32 (4, 2): the chosen item's corners TL, TR, BR, BL in the image's pixels."""


class Identifier:
    """The collection, the embedding function, the rule and the shortlist's length."""

    def __init__(self, collection: Collection, embed: Embedder, rule: IdentifyRule,
                 top_k: int = TOP_K):
        self.collection = collection
        self.embed = embed
        self.rule = rule
        self.top_k = top_k

    def identify(self, image: np.ndarray, regions: Sequence[Region]) -> list[RegionResult]:
        """The decision for each region of RGB `image`, in order."""
        if not regions:
            return []
        cuts = [cut_painting(image, r.box, r.quad) for r in regions]
        rows, similarities = self.collection.shortlist(self.embed([c for c, _ in cuts]),
                                                       self.top_k)
        results = []
        for region, (crop, to_image), found_rows, found_similarities in zip(
                regions, cuts, rows, similarities, strict=True):
            found = self.verified(crop, found_rows, found_similarities)
            decision = self.rule.decide(found)
            chosen = decision.candidate
            outline = None
            if decision.method == "verified" and chosen is not None \
                    and chosen.outline is not None:
                outline = cv2.perspectiveTransform(
                    chosen.outline.reshape(-1, 1, 2).astype(np.float64),
                    to_image).reshape(4, 2).astype(np.float32)
            results.append(RegionResult(region, decision, found, outline))
        return once_per_image(results)

    def verified(self, crop: np.ndarray, rows: Sequence[int], similarities: Sequence[float]
                 ) -> list[Candidate]:
        """The shortlisted items, each with the inliers of its homography onto `crop`."""
        xy, descriptors = root_sift(crop, QUERY_KEYPOINTS, QUERY_SIDE)
        items = [self.collection.features(int(row)) for row in rows]
        ends = np.cumsum([len(item_xy) for item_xy, _, _ in items])
        dots = descriptors @ np.concatenate(
            [d for _, d, _ in items] or [np.zeros((0, 128), np.float32)]).T
        found = []
        for (item_xy, _, item_size), end, row, similarity in zip(
                items, ends, rows, similarities, strict=True):
            check = verify(xy, crop.shape[:2], item_xy, item_size,
                           dots[:, end - len(item_xy):end])
            found.append(Candidate(int(row), float(similarity), check.inliers, check.matches,
                                   check.outline))
        return found


def once_per_image(results: list[RegionResult]) -> list[RegionResult]:
    """Keep the identifications of one image consistent. An artwork hangs once in a
    photo, and a region inside another region (a canvas in its frame, a detail of a
    painting) shows the same artwork as it: so where two regions are given the same item,
    or nested regions different items, the one with the most inliers (then similarity,
    then detector score) keeps its item and the other becomes ``unknown``."""
    known = [i for i, r in enumerate(results) if r.decision.candidate is not None]
    boxes = np.array([results[i].region.box for i in known], np.float64).reshape(-1, 4)
    inside = intersections(boxes, boxes) / np.maximum(areas(boxes), 1e-9)[:, None]
    losers: set[int] = set()
    for a, i in enumerate(known):
        for b, j in enumerate(known[a + 1:], start=a + 1):
            same = results[i].decision.candidate.row == results[j].decision.candidate.row  # type: ignore[union-attr]
            nested = max(inside[a, b], inside[b, a]) >= NESTED
            if same or nested:
                losers.add(j if _strength(results[i]) >= _strength(results[j]) else i)
    return [RegionResult(r.region, Decision(None), r.candidates) if i in losers else r
            for i, r in enumerate(results)]


def _strength(result: RegionResult) -> tuple[int, float, float]:
    chosen = result.decision.candidate
    assert chosen is not None
    return chosen.inliers, chosen.similarity, result.region.score or 0.0
