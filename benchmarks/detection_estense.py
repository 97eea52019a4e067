"""Painting detection on real museum rooms (estense-dev), each method beside the trivial
whole-image baseline, on the tuning half and on the held-out half.

The 203 photos come from 94 videos or photo bursts (the file name before its last _NNN);
near-identical frames of one video must not sit on both sides, so the split is by video:
a video goes to "tune" when the SHA-1 of its name is even, else to "report" (102 photos /
329 paintings vs 101 / 274). The frames method's constants were tuned on "tune" only;
"report" played no part in any choice.

    .venv/bin/python benchmarks/detection_estense.py --model exported/X.onnx \
        [--data /work/shared/data/estense-dev] [--methods frames,cam,cam+frames,frames+cnn]

Prints AP@0.5 (with its 95% bootstrap interval, photos resampled), COCO AP, recall@0.5 and
CorLoc per method and split; --json saves them.
The CAM methods are run at every threshold of --thresholds; the one with the best AP@0.5
on "tune" is the one reported for every split (so "report" never picks it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np

from artkit import registry
from artkit.cli.common import print_table
from artkit.contracts import Detections, capability
from artkit.detection.boxes import areas, iou_matrix
from artkit.detection.coco import read_coco_truth
from artkit.detection.pipeline import detect_photos, open_cam_model
from artkit.training.evaluation import evaluator_for
from artkit_plugins.eval_detection import detection_intervals, photo_hits


def split_of(file_name: str) -> str:
    video = re.sub(r"_\d+$", "", Path(file_name).stem)
    return "tune" if int(hashlib.sha1(video.encode()).hexdigest(), 16) % 2 == 0 else "report"


#: Painting area as a share of the photo: the buckets of the recall-by-size columns.
SIZE_BUCKETS = ((0.0, 0.01, "r<1%"), (0.01, 0.03, "r1-3%"), (0.03, 0.10, "r3-10%"),
                (0.10, 2.0, "r>10%"))


def recall_by_size(truth: list[np.ndarray], found: list[Detections],
                   sizes: list[tuple[int, int] | None]) -> dict[str, float]:
    """recall@0.5 per painting-size bucket (COCO's greedy matching, best score first)."""
    hits = {label: [0, 0] for _, _, label in SIZE_BUCKETS}
    for gt, detections, size in zip(truth, found, sizes, strict=True):
        if size is None or not len(gt):
            continue
        matched = np.zeros(len(gt), bool)
        overlaps = iou_matrix(np.asarray(detections.boxes), gt)
        for row in np.argsort(-np.asarray(detections.scores), kind="stable"):
            free = np.where(matched, -1.0, overlaps[row])
            if len(free) and free.max() >= 0.5:
                matched[int(free.argmax())] = True
        share = areas(gt) / float(size[0] * size[1])
        for low, high, label in SIZE_BUCKETS:
            inside = (share >= low) & (share < high)
            hits[label][0] += int(matched[inside].sum())
            hits[label][1] += int(inside.sum())
    return {label: round(h / n, 3) if n else float("nan") for label, (h, n) in hits.items()}


def _matches(truth: list[np.ndarray], found: list[Detections]
             ) -> tuple[np.ndarray, np.ndarray, int]:
    """Every candidate's score and whether it matched a painting (COCO's greedy matching at
    IoU 0.5, best score first), and the number of paintings."""
    scores, hits = [], []
    for gt, detections in zip(truth, found, strict=True):
        matched = np.zeros(len(gt), bool)
        overlaps = iou_matrix(np.asarray(detections.boxes), gt)
        for row in np.argsort(-np.asarray(detections.scores), kind="stable"):
            free = np.where(matched, -1.0, overlaps[row]) if len(gt) else np.zeros(0)
            hit = bool(len(free) and free.max() >= 0.5)
            if hit:
                matched[int(free.argmax())] = True
            scores.append(float(detections.scores[row]))
            hits.append(hit)
    return np.array(scores), np.array(hits, bool), sum(len(g) for g in truth)


def f1_at(truth: list[np.ndarray], found: list[Detections], threshold: float
          ) -> dict[str, float]:
    """Precision, recall and F1 of the candidates scored at least `threshold`."""
    scores, hits, n = _matches(truth, found)
    kept = scores >= threshold
    precision = hits[kept].sum() / max(kept.sum(), 1)
    recall = hits[kept].sum() / max(n, 1)
    return {"P": round(float(precision), 3), "R": round(float(recall), 3),
            "F1": round(float(2 * precision * recall / max(precision + recall, 1e-9)), 3),
            "per photo": round(float(kept.sum()) / max(len(found), 1), 1)}


def best_f1_threshold(truth: list[np.ndarray], found: list[Detections]) -> float:
    """The score threshold with the best F1 (what --threshold's default is chosen by)."""
    scores = _matches(truth, found)[0]
    candidates = np.unique(np.round(scores, 4))
    return float(max(candidates, key=lambda t: f1_at(truth, found, t)["F1"])) \
        if len(candidates) else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/estense-dev"))
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--methods", default="frames,cam,cam+frames,frames+cnn")
    parser.add_argument("--thresholds", default="0.1,0.2,0.3,0.4,0.5")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--options", default="",
                        help="method options, e.g. scales=640+1280,min_area=0.001")
    args = parser.parse_args()
    options = dict(item.split("=", 1) for item in args.options.split(",") if item)

    truth = read_coco_truth(args.data / "annotations_coco.json", "painting")
    ids = sorted(truth.boxes)
    paths = [args.data / truth.file_names[i] for i in ids]
    parts = {name: [k for k, i in enumerate(ids) if split_of(truth.file_names[i]) == name]
             for name in ("tune", "report")}
    evaluator = evaluator_for("detection")
    needs_cams = any(registry.get(registry.Kind.DETECTION_METHOD, m).needs_cam
                     for m in args.methods.split(","))
    model = open_cam_model(args.model, "painting", "cpu", needs_cams) if args.model else None
    rows = []

    def metrics_of(found: list[Detections], members: list[int]) -> dict[str, float]:
        return evaluator.evaluate([truth.boxes[ids[k]] for k in members],
                                  [found[k] for k in members], ["painting"], Path("."),
                                  plot=False).metrics

    def score(method: str, found: list[Detections], seconds: float, threshold: float | None,
              default: float | None = None) -> None:
        tune = parts["tune"]
        cut = best_f1_threshold([truth.boxes[ids[k]] for k in tune], [found[k] for k in tune])
        for part, members in [*parts.items(), ("all", list(range(len(ids))))]:
            f1 = f1_at([truth.boxes[ids[k]] for k in members], [found[k] for k in members], cut)
            at_default = {}
            if default is not None:
                reported = f1_at([truth.boxes[ids[k]] for k in members],
                                 [found[k] for k in members], default)
                at_default[f"P/R/F1 @{default:g} (default)"] = \
                    f"{reported['P']}/{reported['R']}/{reported['F1']}"
            metrics = metrics_of(found, members)
            by_size = recall_by_size([truth.boxes[ids[k]] for k in members],
                                     [found[k] for k in members],
                                     [sizes[ids[k]] for k in members])
            low, high = detection_intervals(photo_hits(
                [truth.boxes[ids[k]] for k in members], [found[k] for k in members]))["ap50"]
            rows.append({"method": method, "threshold": threshold or "-", "split": part,
                         "photos": len(members), "ap50": metrics["ap50"],
                         "ap50 95% CI": f"[{low:.3f}, {high:.3f}]", "ap": metrics["ap"],
                         "recall50": metrics["recall50"], "corloc": metrics["corloc"],
                         **by_size, "F1 cut (tune)": round(cut, 4), **f1, **at_default,
                         "s/photo": seconds})

    sizes = {i: None for i in ids}
    for name in args.methods.split(","):
        method = registry.get(registry.Kind.DETECTION_METHOD, name)
        if (method.needs_cam or capability(method, "needs_classifier")) and model is None:
            continue
        thresholds = tuple(float(t) for t in args.thresholds.split(",")) \
            if method.needs_cam else (0.2,)
        start = time.perf_counter()
        empty = Detections(np.zeros((0, 4)), np.zeros(0))
        found = {t: [empty] * len(ids) for t in thresholds}
        typed = {spec.name: spec.type(options[spec.name]) for spec in method.options
                 if spec.name in options}
        for photos, _ in detect_photos(paths, method, thresholds, typed, model):
            for photo in photos:
                for t in thresholds:
                    found[t][photo.index] = photo.detections[t]
                sizes[ids[photo.index]] = photo.size
        seconds = (time.perf_counter() - start) / len(ids)  # all thresholds together
        best = max(thresholds, key=lambda t: metrics_of(found[t], parts["tune"])["ap50"])
        score(name, found[best], seconds, best if method.needs_cam else None,
              None if method.needs_cam else getattr(method, "default_threshold", None))
    whole = [Detections(np.array([[0, 0, sizes[i][1], sizes[i][0]]], float), np.ones(1))
             if sizes[i] else Detections(np.zeros((0, 4)), np.zeros(0)) for i in ids]
    score("whole-image box", whole, 0.0, None)
    where = f"model {args.model}" if args.model else "no model"
    print_table(f"estense-dev, {where} (CAM threshold chosen on 'tune')", rows)
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
