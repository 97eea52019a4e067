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

from artkit import atomic
from artkit.contracts import Detections
from artkit.detection.boxes import as_boxes
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


@dataclass
class CocoAnnotations:
    """A checked COCO annotation file: its images, categories and (non-crowd) boxes.

    The one reader of COCO annotations: the ``coco`` dataset reader plugin, ``artkit detect
    --gt`` and ``artkit evaluate-detect`` all go through :func:`read_coco`, so they accept
    and refuse the same files. Boxes are x1, y1, x2, y2 (COCO stores x, y, w, h)."""

    path: Path
    file_names: dict[int, str]
    """Image file name by image id, in the file's order of images."""
    categories: dict[int, str]
    """Category name by category id, sorted by id."""
    box_image: np.ndarray
    """int64 (k,): the image id of each box."""
    box_category: np.ndarray
    """int64 (k,): the category id of each box."""
    xyxy: np.ndarray
    """float64 (k, 4): the boxes."""

    def category_id(self, category: str | None = None) -> int:
        """The id of the category named `category`; None: the only category of the file."""
        names = self.categories
        if category is None:
            if len(names) != 1:
                raise DataError(f"{len(names)} categories: choose one with --class",
                                self.path, hint=", ".join(sorted(names.values())))
            return next(iter(names))
        matches = [i for i, n in names.items() if n == category]
        if not matches:
            raise DataError(f"no category named '{category}'", self.path,
                            hint="categories: " + ", ".join(sorted(names.values())))
        return matches[0]

    def boxes(self, category_id: int | None = None) -> dict[int, np.ndarray]:
        """Boxes (k, 4) per image id, every image included (none: (0, 4)); only those of
        `category_id` when given."""
        keep = np.ones(len(self.xyxy), bool) if category_id is None else \
            self.box_category == category_id
        found: dict[int, list[np.ndarray]] = {i: [] for i in self.file_names}
        for image_id, box in zip(self.box_image[keep].tolist(), self.xyxy[keep], strict=True):
            found[image_id].append(box)
        return {i: as_boxes(b) for i, b in found.items()}

    def truth(self, category: str | None = None) -> CocoTruth:
        """The boxes of one category (see :meth:`category_id`) as detection ground truth."""
        category_id = self.category_id(category)
        return CocoTruth(path=self.path, category_id=category_id,
                         category=self.categories[category_id],
                         boxes=self.boxes(category_id), file_names=dict(self.file_names))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except IsADirectoryError:
        raise DataError("expected a json file, found a folder", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"invalid json: {exc}", path) from None


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        np.isfinite(value)


def _records(coco: dict[str, Any], key: str, fields: tuple[str, ...], path: Path
             ) -> list[dict[str, Any]]:
    """coco[key], checked to be a list of objects that each have `fields`."""
    records = coco[key]
    if not isinstance(records, list):
        raise DataError(f"'{key}' must be a list", path)
    singular = {"images": "image", "categories": "category"}.get(key, "annotation")
    for number, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(f"{key}[{number}] is not an object", path)
        missing = [f for f in fields if f not in record]
        if missing:
            raise DataError(f"{singular} {record.get('id', f'#{number}')} lacks "
                            f"{', '.join(missing)}", path)
        if "id" in fields and not _is_id(record["id"]):
            raise DataError(f"{key}[{number}] has id {record['id']!r}, not an integer", path)
    return records


def read_coco(path: str | Path) -> CocoAnnotations:
    """Read and check a COCO annotation file.

    Refused with a one-line :class:`DataError` naming the file: a file that is not json or
    lacks ``images``, ``annotations`` or ``categories``; an image without an integer
    ``id`` or a ``file_name``; a category without an integer ``id`` or a ``name``; a
    repeated image or category id; an annotation without ``image_id``, ``category_id`` or
    ``bbox``, or naming an image or category the file does not have; a ``bbox`` that is not
    four finite numbers ``[x, y, w, h]`` with ``w > 0`` and ``h > 0``. Crowd annotations
    (``iscrowd`` 1) are checked like the others, then left out."""
    path = Path(path)
    coco = _read_json(path)
    if not isinstance(coco, dict):
        raise DataError("not a COCO annotation file (expected a json object)", path)
    missing = [k for k in ("images", "annotations", "categories") if k not in coco]
    if missing:
        raise DataError(f"not a COCO annotation file: no {', '.join(repr(k) for k in missing)} "
                        "key (needs images, annotations, categories)", path)
    file_names: dict[int, str] = {}
    for image in _records(coco, "images", ("id", "file_name"), path):
        if image["id"] in file_names:
            raise DataError(f"image id {image['id']} is repeated", path)
        if not isinstance(image["file_name"], str) or not image["file_name"]:
            raise DataError(f"image {image['id']} has no file_name", path)
        file_names[image["id"]] = image["file_name"]
    categories: dict[int, str] = {}
    for category in _records(coco, "categories", ("id", "name"), path):
        if category["id"] in categories:
            raise DataError(f"category id {category['id']} is repeated", path)
        categories[category["id"]] = str(category["name"])
    rows: list[tuple[int, int, list[float]]] = []
    for number, ann in enumerate(_records(coco, "annotations",
                                          ("image_id", "category_id", "bbox"), path)):
        name = f"annotation {ann.get('id', f'#{number}')}"
        if ann["image_id"] not in file_names:
            raise DataError(f"{name} names unknown image {ann['image_id']!r}", path)
        if ann["category_id"] not in categories:
            raise DataError(f"{name} names unknown category {ann['category_id']!r}", path)
        bbox = ann["bbox"]
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(map(_is_number, bbox))):
            raise DataError(f"{name}: bbox {bbox!r} is not four numbers [x, y, w, h]", path)
        x, y, w, h = (float(v) for v in bbox)
        if w <= 0 or h <= 0:
            raise DataError(f"{name}: bbox {bbox!r} has no area (needs w > 0 and h > 0)", path)
        if ann.get("iscrowd", 0):
            continue
        rows.append((ann["image_id"], ann["category_id"], [x, y, x + w, y + h]))
    return CocoAnnotations(
        path=path, file_names=file_names, categories=dict(sorted(categories.items())),
        box_image=np.array([r[0] for r in rows], np.int64),
        box_category=np.array([r[1] for r in rows], np.int64),
        xyxy=as_boxes([r[2] for r in rows]))


def read_coco_truth(path: str | Path, category: str | None = None) -> CocoTruth:
    """Boxes of `category` (default: the only category) from a COCO annotation file."""
    return read_coco(path).truth(category)


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


def pixels(coordinates: Any) -> list[Any]:
    """Coordinates as plain lists at 0.1 px: rounded in float64, since float32 0.1-steps
    print as 9.699999809265137."""
    return np.asarray(coordinates, np.float64).round(1).tolist()


def coco_results(items: list[tuple[int, str, Detections]], category_id: int,
                 extras: list[dict[int, dict[str, Any]]] | None = None
                 ) -> list[dict[str, Any]]:
    """COCO results rows for (image id, file name, detections) triples; `extras`, one dict
    per triple, adds fields to the row of the box at that position (e.g. ``reported``,
    ``label``, ``crop``)."""
    rows = []
    for number, (image_id, file_name, detections) in enumerate(items):
        added = extras[number] if extras is not None else {}
        for k, ((x1, y1, x2, y2), score) in enumerate(zip(detections.boxes, detections.scores,
                                                          strict=True)):
            rows.append({"image_id": image_id, "file_name": file_name,
                         "category_id": category_id,
                         "bbox": pixels([x1, y1, x2 - x1, y2 - y1]),
                         # 9 significant digits, which tell any two float32 scores
                         # apart: a confident classifier's rejections (1e-7, 3e-9) and
                         # its near-certain paintings (0.9999994, 0.99999976) must keep
                         # their order, or the file's AP differs from the one detect printed
                         "score": float(f"{float(score):.9g}"), **added.get(k, {})})
    return rows


#: Columns of the csv after the box: the painting's best label and its score (with
#: ``detect --classify``), every label the model's rule turned on, and its crop file.
CSV_EXTRA = ["label", "label_score", "labels", "crop"]


def write_results(rows: list[dict[str, Any]], json_path: Path,
                  csv_rows: list[dict[str, Any]] | None = None) -> tuple[Path, Path]:
    """Write `rows` as COCO results json and `csv_rows` (default: the same rows) as csv
    (same name, .csv); both atomic."""
    csv_path = json_path.with_suffix(".csv")
    atomic.write_json(json_path, rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["file_name", "image_id", "category_id", "x1", "y1", "x2", "y2", "score",
                     *CSV_EXTRA])
    for row in rows if csv_rows is None else csv_rows:
        x, y, w, h = row["bbox"]
        writer.writerow([row["file_name"], row["image_id"], row["category_id"], x, y,
                         round(x + w, 1), round(y + h, 1), row["score"],
                         row.get("label", ""), row.get("label_score", ""),
                         ";".join(row.get("labels", [])), row.get("crop", "")])
    atomic.write_text(csv_path, buffer.getvalue())
    return json_path, csv_path
