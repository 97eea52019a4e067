"""One confident box per painting: a box lying inside a larger plausible painting is
demoted.

A classifier ranking frame outlines sees a canvas inside its own frame, a painted detail or
a carved corner of a frame as paintings too, often more confidently than the whole
painting (a close-up's corner ornament 0.92, the painting around it 0.09). The outer box is
the painting. Nested boxes are demoted rather than dropped, so that they still rank, last,
for average precision (a small painting inside an outline of the wall around it stays a
candidate), in two tiers:

- inside a better-scored box that is confidently a painting (p >= 0.5): x 0.01, below the
  reporting threshold of frames+cnn (the rule that used to drop them);
- inside any larger box that is plausibly a painting (p >= 0.05): x 0.1, so never
  confident (under 0.1) and ranked after the whole paintings.

Measured on the tuning half of estense-dev (docs/detection.md, "False boxes") with the
bundled detector and three single trainings (seeds 11, 12, 13): against dropping inside a
confident container, AP@0.5 +0.017, +0.015, +0.017, -0.004, recall of paintings under 1% of
the photo +0.07 with each, F1 of the reported paintings up with each, and the false boxes
at p >= 0.9 from 10.8 to 2.9 per 100 photos with the bundled detector. Demoting the second
tier x 0.01 too lowered AP with two of the four models (-0.017 at worst) and the recall of
the reported paintings with all four.
"""

from __future__ import annotations

import numpy as np

from artkit.detection.boxes import areas, as_boxes, intersections, suppress_contained

#: A box at least this share of whose area lies inside another box is nested in it.
NESTED_COVER = 0.9
#: A container from this score is confidently a painting: what it holds is demoted by
#: IN_CONFIDENT (below the reporting threshold).
CONFIDENT = 0.5
IN_CONFIDENT = 0.01
#: A larger container from this score is plausibly a painting: low, because the whole
#: painting around a confident detail often scores under 0.1. What it holds is demoted by
#: IN_PLAUSIBLE: never confident, ranked after the whole paintings.
PLAUSIBLE = 0.05
IN_PLAUSIBLE = 0.1


def nested_in_plausible(boxes: np.ndarray, scores: np.ndarray, cover: float = NESTED_COVER,
                        min_container: float = PLAUSIBLE) -> np.ndarray:
    """Bool (n,): which boxes lie (`cover` of their area) inside a larger box scoring at
    least `min_container`, whatever either box scores."""
    boxes, scores = as_boxes(boxes), np.asarray(scores, np.float64).reshape(-1)
    own = areas(boxes)
    inside = intersections(boxes, boxes) / np.maximum(own, 1e-9)[:, None] >= cover
    inside &= own[:, None] < own[None, :]  # only a strictly larger box holds another
    return (inside & (scores[None, :] >= min_container)).any(axis=1)


def demote_nested(boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The scores with nested boxes demoted in the module's two tiers (first inside a
    better-scored confident painting, then, on the scores that leaves, inside any larger
    plausible one): one confident box per painting, the outer one."""
    boxes = as_boxes(boxes)
    scores = np.asarray(scores, np.float64).reshape(-1).copy()
    in_confident = np.ones(len(scores), bool)
    in_confident[suppress_contained(boxes, scores, NESTED_COVER, CONFIDENT)] = False
    scores[in_confident] *= IN_CONFIDENT
    scores[nested_in_plausible(boxes, scores)] *= IN_PLAUSIBLE
    return scores
