"""The `detection` evaluator: how well predicted boxes find the annotated paintings.

Metrics (one category at a time, every photo of the ground truth counted, photos without
predictions included):

- ``ap50``: average precision at IoU 0.5, COCO's 101-point interpolation with at most 100
  boxes per photo, so it equals pycocotools' ``AP@0.5`` (a test checks it). The headline.
- ``ap``: COCO AP averaged over IoU 0.50, 0.55, ..., 0.95.
- ``recall50``: share of annotated paintings matched by some box at IoU 0.5 (COCO matching:
  each box, best score first, takes the unmatched painting it overlaps most).
- ``corloc``: share of photos holding a painting whose single best-scored box hits one of
  them at IoU >= 0.5 (Deselaers et al. 2012). It rewards the top box only, so a detector
  that returns one whole-image box per photo already scores well where paintings are large.
- ``mean_best_iou``: for each annotated painting, the IoU of the box covering it best,
  averaged: how close the boxes come, even when they miss the 0.5 bar.

``ap50``, ``recall50`` and ``corloc`` come with 95% bootstrap intervals
(:mod:`artkit.metrics.bootstrap`): the photos are resampled, each with its paintings and boxes
(a photo's boxes are matched within the photo, so its hits do not change), and the
metric is recomputed on each resample. On estense-dev's 100-photo halves they span about
+-0.07 AP, so two detectors 0.03 apart are not told apart by one half.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from artkit.contracts import Detections, EvalResult
from artkit.detection.boxes import as_boxes, iou_matrix
from artkit.hookspecs import hookimpl
from artkit.metrics.bootstrap import interval
from artkit.reports.plots import save_figure

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MAX_DETS = 100
#: Resamples of the AP interval: each one sorts every box again, so fewer than the
#: vectorised metrics' 2000 (1000 keep the interval's ends within about 0.005).
N_RESAMPLES = 1000


def _top(detections: Detections, max_dets: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes and scores of one photo, best first (stable order, like pycocotools)."""
    scores = np.asarray(detections.scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-scores, kind="mergesort")[:max_dets]
    return as_boxes(detections.boxes)[order], scores[order]


def match(ious: np.ndarray, threshold: float) -> np.ndarray:
    """COCO greedy matching of one photo: boxes (rows, best score first) against paintings
    (columns). Each box takes the still-unmatched painting it overlaps most, if that IoU
    reaches `threshold`. Returns a bool per box: true positive or not."""
    n_det, n_gt = ious.shape
    taken = np.zeros(n_gt, dtype=bool)
    hits = np.zeros(n_det, dtype=bool)
    for d in range(n_det):
        candidates = np.where(taken, -1.0, ious[d])
        if n_gt == 0:
            continue
        best = int(np.argmax(candidates))
        if candidates[best] >= min(threshold, 1 - 1e-10):
            taken[best] = True
            hits[d] = True
    return hits


def precision_recall(hits: np.ndarray, scores: np.ndarray, n_gt: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall after each box of all photos, ranked by score."""
    order = np.argsort(-scores, kind="mergesort")
    tp = np.cumsum(hits[order])
    fp = np.cumsum(~hits[order])
    recall = tp / max(n_gt, 1)
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return precision, recall


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """COCO's AP: precision made non-increasing, read at 101 recall points, averaged."""
    if len(precision) == 0:
        return 0.0
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    where = np.searchsorted(recall, RECALL_POINTS, side="left")
    sampled = np.where(where < len(envelope), envelope[np.minimum(where, len(envelope) - 1)], 0)
    return float(sampled.mean())


@dataclass
class PhotoHits:
    """Per photo, what the IoU-0.5 metrics are made of (for resampling photos)."""

    hits: list[np.ndarray]  # per photo: true positive or not, per box
    scores: list[np.ndarray]  # per photo: the boxes' scores
    paintings: np.ndarray  # per photo: annotated paintings
    corloc: np.ndarray  # per photo: its best box hits a painting (photos with paintings)

    def ap50(self, photos: np.ndarray) -> float:
        hits = np.concatenate([self.hits[i] for i in photos])
        scores = np.concatenate([self.scores[i] for i in photos])
        n_gt = int(self.paintings[photos].sum())
        return interpolated_ap(*precision_recall(hits, scores, n_gt)) if n_gt else 0.0


def photo_hits(truth: Sequence[np.ndarray], predictions: Sequence[Detections],
               max_dets: int = MAX_DETS) -> PhotoHits:
    """What resampling photos needs, from the same matching as the metrics."""
    return measure(truth, predictions, max_dets)[2]


def detection_intervals(per_photo: PhotoHits) -> dict[str, tuple[float, float]]:
    """95% bootstrap intervals of ap50, recall50 and corloc, photos resampled."""
    n = len(per_photo.hits)
    found = np.asarray([h.sum() for h in per_photo.hits], dtype=float)
    has_paintings = (per_photo.paintings > 0).astype(float)

    def ap50(idx: np.ndarray) -> np.ndarray:
        return np.asarray([per_photo.ap50(row) for row in idx])

    def ratio(numerator: np.ndarray, denominator: np.ndarray):
        return lambda idx: (numerator[idx].sum(axis=-1)
                            / np.maximum(denominator[idx].sum(axis=-1), 1))

    return {"ap50": interval(ap50, n, n_resamples=N_RESAMPLES),
            "recall50": interval(ratio(found, per_photo.paintings.astype(float)), n),
            "corloc": interval(ratio(per_photo.corloc, has_paintings), n)}


def detection_metrics(truth: Sequence[np.ndarray], predictions: Sequence[Detections],
                      max_dets: int = MAX_DETS) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """All metrics for photos with annotated boxes `truth[i]` and `predictions[i]`.

    Returns the metrics and the IoU-0.5 precision/recall curve (for the plot)."""
    metrics, curve, _ = measure(truth, predictions, max_dets)
    return metrics, curve


def measure(truth: Sequence[np.ndarray], predictions: Sequence[Detections],
            max_dets: int = MAX_DETS
            ) -> tuple[dict[str, float], dict[str, np.ndarray], PhotoHits]:
    """:func:`detection_metrics`, and the per-photo IoU-0.5 matches the intervals
    resample (one matching serves both)."""
    if len(truth) != len(predictions):
        raise ValueError(f"{len(truth)} annotated photos but {len(predictions)} predictions")
    n_gt = sum(len(as_boxes(t)) for t in truth)
    per_threshold_hits: list[list[np.ndarray]] = [[] for _ in IOU_THRESHOLDS]
    all_scores, best_ious, paintings, corloc, n_det = [], [], [], [], 0
    for gt, detections in zip(truth, predictions, strict=True):
        gt = as_boxes(gt)
        boxes, scores = _top(detections, max_dets)
        n_det += len(boxes)
        ious = iou_matrix(boxes, gt)
        for k, threshold in enumerate(IOU_THRESHOLDS):
            per_threshold_hits[k].append(match(ious, threshold))
        all_scores.append(scores)
        paintings.append(len(gt))
        corloc.append(bool(len(gt) and len(boxes) and ious[0].max() >= 0.5))
        if len(gt):
            best_ious.append(ious.max(axis=0) if len(boxes) else np.zeros(len(gt)))
    corloc_photos = sum(n > 0 for n in paintings)
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    aps, curves = [], []
    for k in range(len(IOU_THRESHOLDS)):
        hits = np.concatenate(per_threshold_hits[k]) if scores.size else np.zeros(0, bool)
        precision, recall = precision_recall(hits, scores, n_gt)
        aps.append(interpolated_ap(precision, recall) if n_gt else float("nan"))
        curves.append({"precision": precision, "recall": recall})
    curve = curves[0]  # IoU 0.5
    recall50 = float(curve["recall"][-1]) if len(curve["recall"]) and n_gt else 0.0
    metrics = {
        "ap50": aps[0],
        "ap": float(np.mean(aps)),
        "recall50": recall50,
        "corloc": sum(corloc) / corloc_photos if corloc_photos else float("nan"),
        "mean_best_iou": float(np.concatenate(best_ious).mean()) if best_ious else float("nan"),
        "n_images": float(len(truth)),
        "n_paintings": float(n_gt),
        "n_boxes": float(n_det),
    }
    per_photo = PhotoHits(per_threshold_hits[0], all_scores, np.asarray(paintings),
                          np.asarray(corloc, dtype=float))
    return metrics, curve, per_photo


def plot_pr_curve(curve: dict[str, np.ndarray], ap50: float, path: Path) -> Path:
    """The IoU-0.5 precision/recall curve as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    ax.plot(curve["recall"], curve["precision"], color="tab:blue")
    ax.set(xlabel="recall (IoU 0.5)", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
           title=f"precision-recall, AP@0.5 = {ap50:.3f}")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


class DetectionEvaluator:
    name = "detection"
    description = "Boxes vs annotated boxes: AP@0.5, COCO AP, recall, CorLoc, mean best IoU."
    task = "detection"

    def evaluate(self, y_true: Sequence[np.ndarray], scores: Sequence[Detections],
                 labels: Sequence[str], out_dir: Path, **kwargs: Any) -> EvalResult:
        """`y_true[i]` holds photo i's annotated boxes (x1, y1, x2, y2) of the evaluated
        category and `scores[i]` its predicted :class:`Detections`. ``plot=False`` saves
        no plot and no intervals (threshold sweeps evaluate many times)."""
        metrics, curve, per_photo = measure(y_true, scores)
        plots, intervals = [], {}
        if kwargs.get("plot", True):
            if len(curve["recall"]):
                plots.append(plot_pr_curve(curve, metrics["ap50"],
                                           Path(out_dir) / "pr_curve.png"))
            intervals = detection_intervals(per_photo)
        return EvalResult(metrics=metrics, plots=plots, intervals=intervals,
                          headline=("ap50", "ap", "recall50", "corloc"))


@hookimpl
def register_evaluators(register) -> None:
    register(DetectionEvaluator())
