"""Painting detection on real museum rooms (estense-dev), each method beside the trivial
whole-image baseline, on the tuning half and on the held-out half.

The 203 photos come from 94 videos or photo bursts (the file name before its last _NNN);
near-identical frames of one video must not sit on both sides, so the split is by video:
a video goes to "tune" when the SHA-1 of its name is even, else to "report" (102 photos /
329 paintings vs 101 / 274). The frames method's constants were tuned on "tune" only;
"report" played no part in any choice.

    .venv/bin/python benchmarks/detection_estense.py --model exported/X.onnx \
        [--data /work/shared/data/estense-dev] [--methods frames,cam,cam+frames,frames+cnn]

Prints AP@0.5, COCO AP, recall@0.5 and CorLoc per method and split; --json saves them.
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

from artkit import plugins
from artkit.cli.common import print_table
from artkit.contracts import Detections, capability
from artkit.detection import detect_photos, open_cam_model
from artkit.detection_io import read_coco_truth
from artkit.evaluation import evaluator_for


def split_of(file_name: str) -> str:
    video = re.sub(r"_\d+$", "", Path(file_name).stem)
    return "tune" if int(hashlib.sha1(video.encode()).hexdigest(), 16) % 2 == 0 else "report"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/estense-dev"))
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--methods", default="frames,cam,cam+frames,frames+cnn")
    parser.add_argument("--thresholds", default="0.1,0.2,0.3,0.4,0.5")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    truth = read_coco_truth(args.data / "annotations_coco.json", "painting")
    ids = sorted(truth.boxes)
    paths = [args.data / truth.file_names[i] for i in ids]
    parts = {name: [k for k, i in enumerate(ids) if split_of(truth.file_names[i]) == name]
             for name in ("tune", "report")}
    evaluator = evaluator_for("detection")
    model = open_cam_model(args.model, "painting", "cpu") if args.model else None
    rows = []

    def metrics_of(found: list[Detections], members: list[int]) -> dict[str, float]:
        return evaluator.evaluate([truth.boxes[ids[k]] for k in members],
                                  [found[k] for k in members], ["painting"], Path("."),
                                  plot=False).metrics

    def score(method: str, found: list[Detections], seconds: float, threshold: float | None
              ) -> None:
        for part, members in [*parts.items(), ("all", list(range(len(ids))))]:
            metrics = metrics_of(found, members)
            rows.append({"method": method, "threshold": threshold or "-", "split": part,
                         "photos": len(members), "ap50": metrics["ap50"], "ap": metrics["ap"],
                         "recall50": metrics["recall50"], "corloc": metrics["corloc"],
                         "s/photo": seconds})

    sizes = {i: None for i in ids}
    for name in args.methods.split(","):
        method = plugins.get(plugins.Kind.DETECTION_METHOD, name)
        if (method.needs_cam or capability(method, "needs_classifier")) and model is None:
            continue
        thresholds = tuple(float(t) for t in args.thresholds.split(",")) \
            if method.needs_cam else (0.2,)
        start = time.perf_counter()
        empty = Detections(np.zeros((0, 4)), np.zeros(0))
        found = {t: [empty] * len(ids) for t in thresholds}
        for photos, _ in detect_photos(paths, method, thresholds, {}, model):
            for photo in photos:
                for t in thresholds:
                    found[t][photo.index] = photo.detections[t]
                sizes[ids[photo.index]] = photo.size
        seconds = (time.perf_counter() - start) / len(ids)  # all thresholds together
        best = max(thresholds, key=lambda t: metrics_of(found[t], parts["tune"])["ap50"])
        score(name, found[best], seconds, best if method.needs_cam else None)
    whole = [Detections(np.array([[0, 0, sizes[i][1], sizes[i][0]]], float), np.ones(1))
             if sizes[i] else Detections(np.zeros((0, 4)), np.zeros(0)) for i in ids]
    score("whole-image box", whole, 0.0, None)
    where = f"model {args.model}" if args.model else "no model"
    print_table(f"estense-dev, {where} (CAM threshold chosen on 'tune')", rows)
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
