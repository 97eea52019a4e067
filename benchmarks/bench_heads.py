"""linear-probe and knn on aic-museum: test split and 5-fold CV, with intervals and times.

Departments (single-label csv, classes with at least 10 images: the split of the
fine-tuned MobileNet in docs/models.md) and iMet attributes (threshold tuned on
validation), on the frozen MobileNet of the given no-top weights file:

    .venv/bin/python benchmarks/bench_heads.py --data ../shared/data/aic-museum \\
        --weights ../shared/weights/mobilenet_2_5_224_tf_no_top.h5 --alpha 0.25 --size 160

Runs and the embedding cache go to a temporary folder (the first head extracts, the
others read the cache). Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time


def rounded(metrics: dict, intervals: dict, names: tuple[str, ...]) -> dict:
    return {n: [round(metrics[n], 4), *(round(v, 4) for v in intervals.get(n, ()))]
            for n in names if n in metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the aic-museum folder")
    parser.add_argument("--weights", default="imagenet")
    parser.add_argument("--backbone", default="mobilenet")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--stages", type=int, default=3)
    parser.add_argument("--tta", action="store_true")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="bench-heads-")
    os.environ["ARTKIT_RUNS"], os.environ["ARTKIT_CACHE"] = f"{home}/runs", f"{home}/cache"

    import artkit
    from artkit_plugins.lib.heads.embeddings import STATS

    common = {"backbone": args.backbone, "alpha": args.alpha, "weights": args.weights,
              "input_size": args.size, "tta": args.tta, "stages": args.stages}
    departments = {"data": f"{args.data}/department_classes.csv", "min_class_images": 10}

    def report(name: str, started: float, before: int, **values) -> None:
        print(json.dumps({"measure": name, "wall_s": round(time.perf_counter() - started, 2),
                          "extracted": STATS["extracted"] - before, **values}), flush=True)

    for model in ("linear-probe", "knn"):
        started, before = time.perf_counter(), STATS["extracted"]
        run = artkit.train(model, **departments, **common)
        result = run.result()
        report(f"departments/{model}", started, before, seconds=run.config.extra["seconds"],
               head=run.config.extra["head"],
               metrics=rounded(result.metrics, result.intervals,
                               ("accuracy", "macro_f1", "balanced_accuracy")))
    for model in ("linear-probe", "knn"):
        started, before = time.perf_counter(), STATS["extracted"]
        run = artkit.train(model, data=args.data, **common)
        artkit.tune_thresholds(run, strategy="global")
        result = run.evaluate()
        report(f"attributes/{model}", started, before, seconds=run.config.extra["seconds"],
               head=run.config.extra["head"], threshold=run.config.decision.thresholds,
               metrics=rounded(result.metrics, result.intervals,
                               ("f2@tuned", "f2@0.2", "pr_auc_micro")))
    for model in ("linear-probe", "knn"):
        started, before = time.perf_counter(), STATS["extracted"]
        cv = artkit.cross_validate(model, args.folds, **departments, **common)
        report(f"departments-cv{args.folds}/{model}", started, before,
               summary={k: {a: round(b, 4) for a, b in v.items()}
                        for k, v in cv.summary.items() if k in ("accuracy", "macro_f1")})


if __name__ == "__main__":
    main()
