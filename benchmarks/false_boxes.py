"""Confident false boxes on real museum rooms (estense-dev), by kind, beside AP@0.5.

What a user sees first is the boxes a detector is sure of; this counts the wrong ones. On
each half of estense-dev (split by video as in benchmarks/detection_estense.py: choose on
"tune", score "report" once at the end), the false boxes per 100 photos at score >= 0.5
and >= 0.9, by kind (artkit.detection.false_boxes: inside a painting, duplicate, spanning
two paintings, thin strip at the border, other), beside AP@0.5, recall@0.5, the recall@0.5
of paintings under 1% of the photo, P/R of the reported paintings at the method's default
threshold, and photos/s (the whole pipeline, decoding included).

    .venv/bin/python benchmarks/false_boxes.py [--model artkit/bundled/painting-detector.onnx]
        [--method frames+cnn] [--splits tune] [--json out.json] [--list 20]

--list N prints the N best-scored false boxes of each half (file, box, score, kind).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from detection_estense import f1_at, recall_by_size, split_of

from artkit import registry
from artkit.bundled import painting_detector
from artkit.contracts import Detections, capability
from artkit.detection.coco import read_coco_truth
from artkit.detection.false_boxes import KINDS, false_boxes
from artkit.detection.pipeline import detect_photos, open_cam_model
from artkit.training.evaluation import evaluator_for

#: The scores from which a box counts as confident: a user's "probably" and "surely".
CONFIDENCE = (0.5, 0.9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/estense-dev"))
    parser.add_argument("--model", type=Path, default=painting_detector())
    parser.add_argument("--method", default="frames+cnn")
    parser.add_argument("--splits", default="tune",
                        help="tune, report or tune,report (score report once, at the end)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--list", type=int, default=0)
    args = parser.parse_args()

    truth = read_coco_truth(args.data / "annotations_coco.json", "painting")
    method = registry.get(registry.Kind.DETECTION_METHOD, args.method)
    needs_model = method.needs_cam or capability(method, "needs_classifier")
    model = open_cam_model(args.model, "painting", "cpu", method.needs_cam) \
        if needs_model else None
    default = float(getattr(method, "default_threshold", 0.0))
    rows, listed = [], {}
    for split in args.splits.split(","):
        ids = [i for i in sorted(truth.boxes) if split_of(truth.file_names[i]) == split]
        paths = [args.data / truth.file_names[i] for i in ids]
        empty = Detections(np.zeros((0, 4)), np.zeros(0))  # a photo that could not be read
        found = [empty] * len(ids)
        sizes: list[tuple[int, int] | None] = [None] * len(ids)
        start = time.perf_counter()
        for photos, _ in detect_photos(paths, method, (0.2,), {}, model):
            for photo in photos:
                found[photo.index] = photo.detections[0.2]
                sizes[photo.index] = photo.size
        rate = len(ids) / (time.perf_counter() - start)
        gts = [truth.boxes[i] for i in ids]
        counts = {t: dict.fromkeys(KINDS, 0) for t in CONFIDENCE}
        worst = []
        for k, (gt, detections, size) in enumerate(zip(gts, found, sizes, strict=True)):
            for false in false_boxes(detections.boxes, detections.scores, gt, size):
                score = float(detections.scores[false.index])
                for t in CONFIDENCE:
                    counts[t][false.kind] += score >= t
                worst.append((score, truth.file_names[ids[k]],
                              [round(float(v)) for v in detections.boxes[false.index]],
                              false.kind))
        listed[split] = sorted(worst, reverse=True)[:args.list]
        metrics = evaluator_for("detection").evaluate(gts, found, ["painting"], Path("."),
                                                      plot=False).metrics
        reported = f1_at(gts, found, default)
        for t in CONFIDENCE:
            per_100 = {kind: round(100 * n / len(ids), 1) for kind, n in counts[t].items()}
            rows.append({"split": split, "photos": len(ids), "score >=": t,
                         "false /100": round(100 * sum(counts[t].values()) / len(ids), 1),
                         **per_100, "ap50": round(metrics["ap50"], 4),
                         "recall50": round(metrics["recall50"], 3),
                         "recall <1%": recall_by_size(gts, found, sizes)["r<1%"],
                         f"P/R @{default:g}": f"{reported['P']}/{reported['R']}",
                         "photos/s": round(rate, 1)})
    print(f"false boxes per 100 photos, {args.method}, model {args.model}\n")
    print("| " + " | ".join(rows[0]) + " |\n|" + "---|" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(str(value) for value in row.values()) + " |")
    for split, worst in listed.items():
        print(f"\nbest-scored false boxes on {split}:")
        for score, name, box, kind in worst:
            print(f"  {score:.3f}  {kind:9s}  {name}  {box}")
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), "method": args.method,
                                         "rows": rows, "false boxes": listed}, indent=2))


if __name__ == "__main__":
    main()
