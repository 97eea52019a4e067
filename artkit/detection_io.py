"""Reading annotated boxes and writing found boxes: COCO json and csv.

Found boxes are written in the COCO *results* format (a list of ``{image_id, category_id,
bbox: [x, y, w, h], score}``, what pycocotools' ``loadRes`` and every COCO tool read), with
the photo's path added as ``file_name`` so the file also makes sense without annotations.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from artkit import io as aio
from artkit.boxes import as_boxes
from artkit.contracts import Detections
from artkit.errors import DataError


@dataclass
class CocoTruth:
    """Annotated boxes of one category: x1, y1, x2, y2 per image id."""

    path: Path
    category_id: int
    category: str
    boxes: dict[int, np.ndarray]
    file_names: dict[int, str]

    def id_by_name(self) -> dict[str, int]:
        """Image ids by file base name (how photos on disk are matched to annotations)."""
        found: dict[str, int] = {}
        for image_id, name in self.file_names.items():
            found.setdefault(Path(name).name, image_id)
        return found


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"invalid json: {exc}", path) from None


def read_coco_truth(path: str | Path, category: str | None = None) -> CocoTruth:
    """Boxes of `category` (default: the only category) from a COCO annotation file."""
    path = Path(path)
    coco = _read_json(path)
    if not isinstance(coco, dict) or not {"images", "annotations", "categories"} <= coco.keys():
        raise DataError("not a COCO annotation file (needs images, annotations, categories)",
                        path)
    names = {c["id"]: c["name"] for c in coco["categories"]}
    if category is None:
        if len(names) != 1:
            raise DataError(f"{len(names)} categories: choose one with --class",
                            path, hint=", ".join(sorted(names.values())))
        category_id = next(iter(names))
    else:
        matches = [i for i, n in names.items() if n == category]
        if not matches:
            raise DataError(f"no category named '{category}'", path,
                            hint="categories: " + ", ".join(sorted(names.values())))
        category_id = matches[0]
    boxes: dict[int, list[list[float]]] = {img["id"]: [] for img in coco["images"]}
    for ann in coco["annotations"]:
        if ann.get("category_id") != category_id or ann.get("iscrowd", 0):
            continue
        if ann["image_id"] not in boxes:
            raise DataError(f"annotation {ann.get('id')} names unknown image {ann['image_id']}",
                            path)
        x, y, w, h = ann["bbox"]
        boxes[ann["image_id"]].append([x, y, x + w, y + h])
    return CocoTruth(path=path, category_id=category_id, category=names[category_id],
                     boxes={k: as_boxes(v) for k, v in boxes.items()},
                     file_names={img["id"]: img.get("file_name", str(img["id"]))
                                 for img in coco["images"]})


def read_coco_results(path: str | Path, truth: CocoTruth) -> dict[int, Detections]:
    """Predicted boxes of the truth's category per image id, from a COCO results file."""
    path = Path(path)
    results = _read_json(path)
    if not isinstance(results, list):
        raise DataError("not a COCO results file (expected a list of boxes)", path)
    rows: dict[int, list[tuple[list[float], float]]] = {i: [] for i in truth.boxes}
    for number, item in enumerate(results):
        try:
            image_id, (x, y, w, h), score = item["image_id"], item["bbox"], float(item["score"])
        except (KeyError, TypeError, ValueError):
            raise DataError(f"result {number} lacks image_id, bbox [x, y, w, h] or score",
                            path) from None
        if item.get("category_id", truth.category_id) != truth.category_id:
            continue
        if image_id not in rows:
            raise DataError(f"result {number} names image {image_id}, which is not in "
                            f"{truth.path.name}", path)
        rows[image_id].append(([x, y, x + w, y + h], score))
    return {i: Detections(as_boxes([b for b, _ in r]).astype(np.float32),
                          np.array([s for _, s in r], np.float32)) for i, r in rows.items()}


def coco_results(items: list[tuple[int, str, Detections]], category_id: int
                 ) -> list[dict[str, Any]]:
    """COCO results rows for (image id, file name, detections) triples."""
    rows = []
    for image_id, file_name, detections in items:
        for (x1, y1, x2, y2), score in zip(detections.boxes, detections.scores, strict=True):
            rows.append({"image_id": image_id, "file_name": file_name,
                         "category_id": category_id,
                         "bbox": [round(float(x1), 1), round(float(y1), 1),
                                  round(float(x2 - x1), 1), round(float(y2 - y1), 1)],
                         "score": round(float(score), 6)})
    return rows


def write_results(rows: list[dict[str, Any]], json_path: Path) -> tuple[Path, Path]:
    """Write the rows as COCO results json and as csv (same name, .csv); both atomic."""
    csv_path = json_path.with_suffix(".csv")
    aio.write_json(json_path, rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["file_name", "image_id", "category_id", "x1", "y1", "x2", "y2", "score"])
    for row in rows:
        x, y, w, h = row["bbox"]
        writer.writerow([row["file_name"], row["image_id"], row["category_id"], x, y,
                         round(x + w, 1), round(y + h, 1), row["score"]])
    aio.write_text(csv_path, buffer.getvalue())
    return json_path, csv_path
