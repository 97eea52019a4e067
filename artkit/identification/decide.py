"""The acceptance rule: a verified item, an item by its global score alone, or ``unknown``.

The evidence for an item is the inlier count of its homography (:mod:`.verify`). The rule
is calibrated on the tune half of the identification benchmark
(``benchmarks/build_identify_bench.py``: 102 room photos, 30 of them without any collection
item, the others with 1 to 3 hung and the rooms' own paintings beside them), run end to end
(detector, shortlist of 10, verification): :data:`NULL_INLIERS` records, for each inlier
threshold, the share of photos that the rule gave at least one false identity (an item
that is not in the photo). ``IdentifyRule.for_false_rate(r)`` takes the smallest threshold
whose share is at most `r`; the default is ``for_false_rate(DEFAULT_FALSE_RATE)``. The
confidence of an identification is one minus that share at its inlier count, floored at
half a photo in 102 (no count of 102 photos proves certainty).

Objects a homography cannot verify (vases, sculpture, a painting under glare) fall back to
the global cosine similarity with a threshold of their own, :data:`MIN_SIMILARITY`, above
every wrong item's similarity in the tune photos (:data:`NULL_SIMILARITY`, measured the
same way with verification off). docs/identify.md has the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from artkit.errors import ArtkitError

#: The default rate of false identifications: at most 1 photo in 50 gets one.
DEFAULT_FALSE_RATE = 0.02
#: (inlier threshold, share of the 102 tune photos given a false identity), measured.
NULL_INLIERS: tuple[tuple[int, float], ...] = (
    (4, 0.392), (5, 0.176), (6, 0.078), (7, 0.039), (8, 0.020), (9, 0.020), (10, 0.0098),
    (11, 0.005),
)
#: (cosine threshold, share of the tune photos given a false identity by the global
#: similarity alone), measured.
NULL_SIMILARITY: tuple[tuple[float, float], ...] = (
    (0.80, 0.235), (0.85, 0.069), (0.88, 0.029), (0.90, 0.029), (0.92, 0.0098),
    (0.94, 0.005),
)
#: The global-similarity threshold of the fallback: above every wrong item on tune (0.94
#: gave none of 102 photos a false identity), with a margin.
MIN_SIMILARITY = 0.95

Method = Literal["verified", "global"]


@dataclass(frozen=True)
class Candidate:
    """One shortlisted item for one region: its row in the index, its cosine similarity to
    the region's embedding and the verification's inlier count."""

    row: int
    similarity: float
    inliers: int = 0
    matches: int = 0
    outline: np.ndarray | None = field(default=None, compare=False, repr=False)
    """float32 (4, 2): the item's corners in the region's crop, when verified."""


@dataclass(frozen=True)
class Decision:
    """The rule's answer for one region: the chosen candidate (None: ``unknown``), how it
    was accepted and with what confidence."""

    candidate: Candidate | None
    method: Method | None = None
    confidence: float = 0.0


def null_rate(table: Sequence[tuple[float, float]], value: float) -> float:
    """The share of photos given a false identity by a threshold of `value`: the table
    interpolated linearly (its first rate below its first entry, its last above its
    last)."""
    xs, ys = zip(*table, strict=True)
    return float(np.interp(value, xs, ys))


@dataclass(frozen=True)
class IdentifyRule:
    """Accept the best verified candidate with at least `min_inliers` inliers; failing
    that, a candidate whose cosine similarity is at least `min_similarity` (the fallback
    for what a homography cannot verify); else ``unknown``."""

    min_inliers: int
    min_similarity: float = MIN_SIMILARITY

    def __post_init__(self) -> None:
        if self.min_inliers < 4:
            raise ArtkitError("min_inliers must be at least 4 (a homography has 4 points)")
        if not -1.0 <= self.min_similarity <= 1.0:
            raise ArtkitError("min_similarity is a cosine similarity, between -1 and 1")

    @classmethod
    def for_false_rate(cls, rate: float = DEFAULT_FALSE_RATE,
                       min_similarity: float = MIN_SIMILARITY) -> IdentifyRule:
        """The rule whose inlier threshold keeps the false identifications of photos
        without the item at most `rate` (by :data:`NULL_INLIERS`)."""
        if not 0.0 < rate < 1.0:
            raise ArtkitError("the false identification rate is a share, between 0 and 1")
        for count in range(4, 1000):
            if null_rate(NULL_INLIERS, count) <= rate:
                return cls(count, min_similarity)
        raise ArtkitError(f"no inlier count keeps false identifications at {rate}")

    def decide(self, candidates: Sequence[Candidate]) -> Decision:
        """The best candidate by inliers (then similarity), if the rule accepts one."""
        if not candidates:
            return Decision(None)
        best = max(candidates, key=lambda c: (c.inliers, c.similarity))
        if best.inliers >= self.min_inliers:
            return Decision(best, "verified", 1.0 - null_rate(NULL_INLIERS, best.inliers))
        closest = max(candidates, key=lambda c: c.similarity)
        if closest.similarity >= self.min_similarity:
            return Decision(closest, "global",
                            1.0 - null_rate(NULL_SIMILARITY, closest.similarity))
        return Decision(None)
