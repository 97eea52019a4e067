"""Score `artkit identify` on the identification benchmark (benchmarks/build_identify_bench.py).

On one half of the benchmark (split by video: choose on "tune", score "report" once), it
runs artkit.identify end to end (bundled detector, the index's embedding model, verification,
the default rule unless told) and reports:

- top-1 on hung artworks: the item is named by a painting whose box overlaps its outline
  (IoU >= 0.3), overall, under 1% of the photo, by share of the photo and by obliqueness;
- false identities: the share of negative photos (no collection item) given at least one
  identification, and of photos with hung items given an item that is not in them;
- photos/s, the whole pipeline (decoding, detection, embedding, verification);

with 95% Wilson intervals (a test half has about 100 photos: one photo is a point).

    .venv/bin/python benchmarks/identify_bench.py --bench /tmp/identify-bench \\
        --index /tmp/aic-index.npz --split report [--json out.json] [--min-inliers N]

The index is the collection (aic-museum) built with
``artkit index build ../shared/data/aic-museum/images -o /tmp/aic-index.npz
--local-features --meta ../shared/data/aic-museum/metadata.csv``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from artkit.api.identify import identify
from artkit.console import print_table
from artkit.identification.decide import IdentifyRule

#: A painting's box shows a hung artwork when it overlaps the artwork's outline this much.
HIT_IOU = 0.3
SHARE_BINS = ((0.0, 0.01), (0.01, 0.05), (0.05, 0.2), (0.2, 1.01))
OBLIQUE_BINS = ((0.0, 5.0), (5.0, 15.0), (15.0, 90.0))


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion (sound at 0 and at n)."""
    if n == 0:
        return float("nan"), float("nan")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def box_iou_outline(box: list[float], corners: list[list[float]]) -> float:
    """IoU of a box with the bounding box of an outline's corners."""
    c = np.asarray(corners, np.float64)
    outline = [c[:, 0].min(), c[:, 1].min(), c[:, 0].max(), c[:, 1].max()]
    width = max(0.0, min(box[2], outline[2]) - max(box[0], outline[0]))
    height = max(0.0, min(box[3], outline[3]) - max(box[1], outline[1]))
    inter = width * height
    union = ((box[2] - box[0]) * (box[3] - box[1])
             + (outline[2] - outline[0]) * (outline[3] - outline[1]) - inter)
    return inter / union if union > 0 else 0.0


def score(photos: list[dict[str, Any]], found: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of one half from the truth and identify's json results."""
    hung, negative_false, positive_false = [], [], []
    for photo, result in zip(photos, found, strict=True):
        items = {h["item_file"] for h in photo["items"]}
        named = [(r["box"], Path(r["item"]).name) for r in result.get("regions", [])
                 if r["item"]]
        wrong = any(name not in items for _, name in named)
        (negative_false if photo["negative"] else positive_false).append(wrong)
        for item in photo["items"]:
            right = any(name == item["item_file"] and
                        box_iou_outline(box, item["corners"]) >= HIT_IOU for box, name in named)
            hung.append((right, item["area_share"], item["max_angle_dev_deg"]))

    def rate(flags: list[bool]) -> dict[str, Any]:
        return {"rate": float(np.mean(flags)) if flags else float("nan"),
                "hits": int(sum(flags)), "n": len(flags),
                "ci95": list(wilson(int(sum(flags)), len(flags)))}

    right = [h[0] for h in hung]
    by_share = {f"{lo:g}-{hi:g}": rate([h[0] for h in hung if lo <= h[1] < hi])
                for lo, hi in SHARE_BINS}
    by_oblique = {f"{lo:g}-{hi:g} deg": rate([h[0] for h in hung if lo <= h[2] < hi])
                  for lo, hi in OBLIQUE_BINS}
    return {"top1": rate(right), "top1_under_1pct": by_share["0-0.01"],
            "top1_by_share": by_share, "top1_by_obliqueness": by_oblique,
            "false_identity_negative_photos": rate(negative_false),
            "false_identity_positive_photos": rate(positive_false)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--split", choices=("tune", "report"), default="tune")
    parser.add_argument("--min-inliers", type=int, default=None)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos")
    args = parser.parse_args()
    truth = json.loads((args.bench / "truth.json").read_text())
    photos = [p for p in truth["photos"] if p["split"] == args.split][:args.limit]
    options: dict[str, Any] = {}
    if args.min_inliers is not None:
        options["rule"] = IdentifyRule(args.min_inliers)
    if args.top_k is not None:
        options["top_k"] = args.top_k
    began = time.perf_counter()
    result = identify([str(args.bench / p["file"]) for p in photos], args.index,
                      progress=False, **options)
    found = [r.to_dict() for r in result]
    seconds = time.perf_counter() - began
    figures = score(photos, found)
    figures.update({"split": args.split, "photos": len(photos), "seconds": round(seconds, 1),
                    "photos_per_s": round(len(photos) / seconds, 2),
                    "rule": result.summary()["rule"], "top_k": result.summary()["top_k"],
                    "index_items": len(result._request.collection)})
    rows = [{"figure": name, "value": f"{v['rate']:.3f}", "hits / n": f"{v['hits']}/{v['n']}",
             "95% CI": f"[{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}]"}
            for name, v in [("top-1, hung artworks", figures["top1"]),
                            *((f"top-1, share {k}", v) for k, v in
                              figures["top1_by_share"].items()),
                            *((f"top-1, obliqueness {k}", v) for k, v in
                              figures["top1_by_obliqueness"].items()),
                            ("false identity, negative photos",
                             figures["false_identity_negative_photos"]),
                            ("false identity, photos with hung items",
                             figures["false_identity_positive_photos"])]]
    print_table(f"identify on the {args.split} half: {len(photos)} photos, "
                f"{figures['photos_per_s']} photos/s, rule {figures['rule']}", rows)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
