"""The report of a boxes file from ``artkit.detect`` (COCO results json, or its csv): the
photos with their boxes drawn and, with annotations (``--gt``), the annotated paintings,
the metrics, the photos with the most missed paintings first, and the confident false
boxes cut out (:mod:`artkit.reports.false_boxes_view`).

With annotations every annotated photo counts, as in ``artkit evaluate-detect``: a photo
without a box in the file has missed all its paintings; but when ``detect`` with
annotations recorded the photos it ran on (``photos`` in ``<name>.metrics.json``, a
:class:`~artkit.detection.metrics_file.BoxesMetrics`), only those count, as in the metrics
``detect`` gave (a run over 8 of 203 annotated photos is not 195 misses). Without ``--gt``
the annotations recorded there are used. Rows may carry a ``label`` (a class given to the
box) and a ``crop`` (an image file of the box): both are shown when present.
"""

from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from artkit.contracts import Detections
from artkit.detection.boxes import as_boxes, iou_matrix
from artkit.detection.coco import CocoTruth, read_coco
from artkit.detection.metrics_file import BoxesMetrics, metrics_path
from artkit.errors import ArtkitError
from artkit.reports.false_boxes_view import false_box_gallery
from artkit.reports.page import Gallery, Table, clean, relative_link, render, resolve
from artkit.reports.thumbs import ThumbnailMode, Thumbnails, embed_file
from artkit.training.evaluation import evaluator_for

CSV_COLUMNS = ["file_name", "image_id", "category_id", "x1", "y1", "x2", "y2", "score"]
HIT_IOU = 0.5
"""A painting is found when a box overlaps it at IoU >= 0.5 (the AP@0.5 rule)."""


@dataclass
class Box:
    xyxy: tuple[float, float, float, float]
    score: float
    label: str | None = None
    crop: str | None = None
    reported: bool = True
    """False for a candidate below detect's --threshold (kept in the json for AP only)."""


@dataclass
class Photo:
    path: Path
    image_id: int | None = None
    boxes: list[Box] = field(default_factory=list)
    truth: np.ndarray | None = None


@dataclass
class BoxRow:
    file_name: str | None
    image_id: int | None
    category_id: int | None
    box: Box


def _not_boxes(path: Path, why: str) -> ArtkitError:
    return ArtkitError(f"not a boxes file from `artkit detect` ({why})", path)


def is_boxes_csv(columns: list[str]) -> bool:
    return columns[:len(CSV_COLUMNS)] == CSV_COLUMNS


def _optional_int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def read_boxes(path: Path) -> list[BoxRow]:
    """The rows of a COCO results json (with ``file_name``) or of the csv beside it."""
    rows: list[BoxRow] = []
    try:
        if path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                if not is_boxes_csv(list(reader.fieldnames or [])):
                    raise _not_boxes(path, "its columns are not " + ",".join(CSV_COLUMNS))
                for number, row in enumerate(reader, 2):
                    try:
                        box = Box(tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2")),
                                  float(row["score"]), row.get("label") or None,
                                  row.get("crop") or None)
                    except (TypeError, ValueError):
                        raise _not_boxes(path, f"line {number} is not a box") from None
                    rows.append(BoxRow(row["file_name"] or None, _optional_int(row["image_id"]),
                                       _optional_int(row["category_id"]), box))
            return rows
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtkitError(f"cannot read: {exc}", path) from None
    except json.JSONDecodeError as exc:
        raise _not_boxes(path, f"invalid json: {exc}") from None
    if not isinstance(document, list):
        raise _not_boxes(path, "expected a list of boxes")
    for number, item in enumerate(document):
        try:
            x, y, w, h = (float(v) for v in item["bbox"])
            box = Box((x, y, x + w, y + h), float(item["score"]), item.get("label"),
                      item.get("crop"), item.get("reported", True) is not False)
        except (KeyError, TypeError, ValueError):
            raise _not_boxes(path, f"result {number} lacks bbox [x, y, w, h] or score") \
                from None
        name = item.get("file_name")
        rows.append(BoxRow(str(name) if name else None, _optional_int(item.get("image_id")),
                           _optional_int(item.get("category_id")), box))
    return rows


def stored_metrics(path: Path) -> tuple[Path, BoxesMetrics | None]:
    """``<name>.metrics.json`` beside the boxes file (written by ``artkit.detect`` with
    annotations), or None when there is none or it cannot be read."""
    beside = metrics_path(path)
    if not beside.exists():
        return beside, None
    try:
        return beside, BoxesMetrics.read(beside)
    except ArtkitError:
        return beside, None


def _truth(gt: Path, rows: list[BoxRow], class_name: str | None) -> CocoTruth:
    coco = read_coco(gt)
    if class_name is None:
        used = {r.category_id for r in rows if r.category_id in coco.categories}
        if len(used) == 1:
            class_name = coco.categories[used.pop()]
    return coco.truth(class_name)


def collect_photos(path: Path, rows: list[BoxRow], truth: CocoTruth | None,
                   scored: set[str] | None = None) -> tuple[list[Photo], int]:
    """One Photo per annotated image (with `truth`; only the file names in `scored` when
    given), else per file named in the rows; and the number of boxes left out (on photos
    the annotations do not have)."""
    photos: dict[Any, Photo] = {}
    left_out = 0
    if truth is not None:
        by_name = truth.id_by_name()
        named = {Path(r.file_name).name: r.file_name for r in rows if r.file_name}
        for image_id, file_name in truth.file_names.items():
            base = Path(file_name).name
            if scored is not None and base not in scored:
                continue
            given = resolve(named[base], path) if base in named else None
            photo_path = given if given is not None and given.exists() else \
                truth.path.parent / file_name
            photos[image_id] = Photo(photo_path, image_id, [], truth.boxes[image_id])
        for row in rows:
            key = by_name.get(Path(row.file_name).name) if row.file_name else row.image_id
            if key not in photos:
                left_out += 1
            elif row.category_id is None or row.category_id == truth.category_id:
                photos[key].boxes.append(row.box)
        return list(photos.values()), left_out
    for row in rows:
        if not row.file_name:
            raise _not_boxes(path, "rows without file_name need the annotations (--gt)")
        photo = photos.setdefault(row.file_name, Photo(resolve(row.file_name, path),
                                                       row.image_id))
        photo.boxes.append(row.box)
    return list(photos.values()), left_out


def judge(photo: Photo) -> dict[str, Any]:
    """Which annotated paintings no box found, and which boxes found none (IoU 0.5)."""
    boxes = as_boxes([b.xyxy for b in photo.boxes])
    truth = as_boxes(photo.truth) if photo.truth is not None else as_boxes([])
    ious = iou_matrix(boxes, truth)
    missed = ~(ious >= HIT_IOU).any(axis=0) if len(truth) else np.zeros(0, bool)
    false = ~(ious >= HIT_IOU).any(axis=1) if len(truth) else np.ones(len(boxes), bool)
    return {"missed": missed, "false": false,
            "best": max((b.score for b in photo.boxes), default=None)}


def boxes_report(path: Path, output: Path, gt: Path | None = None,
                 class_name: str | None = None, thumbnails: ThumbnailMode = "auto") -> Path:
    rows = read_boxes(path)
    stored_path, stored = stored_metrics(path)
    notes = []
    if gt is None and stored and resolve(stored.gt, path).exists():
        gt = resolve(stored.gt, path)
        notes.append(f"Annotations: {gt}, as recorded in {stored_path.name}.")
    truth = _truth(gt, rows, class_name) if gt is not None else None
    scored = set(stored.photos) if stored and stored.photos is not None else None
    photos, left_out = collect_photos(path, rows, truth, scored)
    if scored is not None and truth is not None:
        notes.append(f"Scored on the {len(photos)} annotated photos `detect` ran on, as "
                     f"recorded in {stored_path.name}.")
    if left_out:
        notes.append(f"{left_out} boxes are on photos that {gt} does not annotate: left out "
                     "(photos are matched by file name).")

    metrics, pr_curve = None, None
    if truth is not None:
        with tempfile.TemporaryDirectory() as scratch:
            result = evaluator_for("detection").evaluate(
                [p.truth for p in photos],
                [Detections(as_boxes([b.xyxy for b in p.boxes]),
                            np.array([b.score for b in p.boxes], np.float32)) for p in photos],
                [truth.category], Path(scratch))
            pr_curve = next((embed_file(p) for p in result.plots), None)
        metrics = result.metrics
    elif stored:
        metrics = stored.metrics
        notes.append(f"Metrics from {stored_path.name}; give --gt to see the annotated "
                     "paintings on the photos.")

    for photo in photos:  # AP counts every candidate; the page shows the reported ones
        photo.boxes = [b for b in photo.boxes if b.reported]
    judged = [judge(p) for p in photos]
    if truth is not None:
        order = sorted(range(len(photos)), key=lambda k: (
            -int(judged[k]["missed"].sum()), -int(judged[k]["false"].sum()), k))
    else:
        order = sorted(range(len(photos)), key=lambda k: (judged[k]["best"] or 0.0, k))
    photos, judged = [photos[k] for k in order], [judged[k] for k in order]
    false_gallery = false_box_gallery(photos, output) if truth is not None else None
    thumbs = Thumbnails(output, thumbnails, count=len(photos))
    made = thumbs.make([p.path for p in photos], "photos: thumbnails")
    crop_paths = sorted({b.crop for p in photos for b in p.boxes if b.crop})
    crop_thumbs = dict(zip(crop_paths, thumbs.make([resolve(c, path) for c in crop_paths],
                                                   "crops: thumbnails"), strict=True))
    thumbs.finish()

    items = []
    for photo, verdict, thumb in zip(photos, judged, made, strict=True):
        drawn: list[list[Any]] = []
        ranked = sorted(zip(photo.boxes, verdict["false"], strict=True),
                        key=lambda pair: -pair[0].score)  # the page shows the best first
        for box, false in ranked:
            text = f"{box.label} {box.score:.2g}" if box.label else f"{box.score:.2g}"
            drawn.append([*(round(v, 1) for v in box.xyxy),
                          "false" if truth is not None and false else "pred", text,
                          clean(box.score)])
        for painting, missed in zip(as_boxes(photo.truth) if photo.truth is not None else [],
                                    verdict["missed"], strict=True):
            drawn.append([*(round(float(v), 1) for v in painting),
                          "miss" if missed else "gt", "", None])
        n_boxes = len(photo.boxes)
        best = verdict["best"]
        lines = [["pred", f"{n_boxes} box{'es' if n_boxes != 1 else ''}"
                  + (f", best {best:.2g}" if best is not None else "")]]
        kinds = []
        if truth is not None:
            n_missed, n_false = int(verdict["missed"].sum()), int(verdict["false"].sum())
            n_truth = len(verdict["missed"])
            lines.insert(0, ["truth", f"{n_truth} painting{'s' if n_truth != 1 else ''}"])
            if n_missed:
                lines.append(["missed", f"{n_missed} missed"])
                kinds.append("missed a painting")
            if n_false:
                lines.append(["wrong", f"{n_false} false box{'es' if n_false != 1 else ''}"])
                kinds.append("false box")
            if not n_missed and not n_false:
                kinds.append("all right")
        if not n_boxes:
            kinds.append("no box")
        labels = sorted({b.label for b in photo.boxes if b.label})
        item = {"name": photo.path.name, "path": str(photo.path), "src": thumb.src,
                "err": thumb.error, "href": relative_link(photo.path, output),
                "w": thumb.width, "h": thumb.height, "boxes": drawn, "lines": lines,
                "f": {"kind": kinds, "label": labels}, "score": clean(best)}
        crops = [crop_thumbs[b.crop].src for b in photo.boxes if b.crop and
                 crop_thumbs[b.crop].src]
        if crops:
            item["crops"] = crops
        items.append(item)
    note = ("The photos with the most missed paintings first (then the most false boxes). "
            "Green: annotated painting found; red dashed: missed; orange: box; "
            "purple: box that matches no painting (IoU < 0.5). The three best boxes of a "
            "photo show their score." if truth is not None else
            "The photos whose best box is the least confident first (photos without boxes "
            "are not in a boxes file).")
    gallery = Gallery("photos", f"{len(photos)} photos", items, note=note, boxes=True,
                      score={"title": "best box score", "min": 0.0, "max": 1.0},
                      orders=[("given", "most misses first" if truth is not None
                               else "least confident first"),
                              ("score-desc", "best score, high first"), ("name", "file name")])
    gallery.add_filter("kind", "photos")
    if any(item["f"]["label"] for item in items):
        gallery.add_filter("label", "box label")

    about = {"boxes file": str(path), "photos": len(photos), "boxes": len(rows)}
    if truth is not None:
        about |= {"annotations": str(truth.path), "category": truth.category,
                  "paintings": int(sum(len(p.truth) for p in photos))}
    if stored:
        about |= {key: value for key, value in (("method", stored.method),
                                                 ("min_score", stored.min_score),
                                                 ("model", stored.model))
                  if value is not None}
    metric_rows = [{"metric": k, "value": v} for k, v in (metrics or {}).items()]
    return render(
        "boxes.html.j2", output, title=f"Detections: {path.name}",
        subtitle=f"{len(rows)} boxes in {len(photos)} photos"
        + (f", against {truth.path.name}" if truth is not None else ""),
        target=str(path), kind="boxes", notes=notes,
        about=Table.from_dicts("", [about]),
        headline=[{"name": k, "value": (metrics or {}).get(k), "interval": None}
                  for k in ("ap50", "ap", "recall50", "corloc", "mean_best_iou")
                  if metrics and k in metrics],
        metrics=Table.from_dicts("Metrics", metric_rows, id="metrics") if metric_rows else None,
        pr_curve=pr_curve, gallery=gallery, false_gallery=false_gallery)
