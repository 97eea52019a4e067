"""The report of a predictions file written by ``Model.predict(output=...)`` (``artkit
predict --output``; csv, json or jsonl): a gallery with filters by label and by score, the
least confident first, a summary of the labels given, and the files that were skipped with
their reasons."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artkit.errors import ArtkitError
from artkit.reports.charts import histogram
from artkit.reports.page import Gallery, Table, clean, relative_link, render, resolve
from artkit.reports.thumbs import ThumbnailMode, Thumbnails
from artkit.runtime.writers import FIXED_COLUMNS, LEGACY_COLUMNS, PredictionsHeader

TOP_SHOWN = 3
"""Labels shown under each image of a multi-class model."""


@dataclass
class PredictionRow:
    path: str
    status: str
    error: str | None = None
    labels: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    listed: bool = False
    """The labels were a list (a multi-label model's row)."""


@dataclass
class PredictionFile:
    path: Path
    rows: list[PredictionRow]
    header: PredictionsHeader = field(default_factory=PredictionsHeader)
    multilabel: bool = False


def _not_predictions(path: Path, why: str) -> ArtkitError:
    return ArtkitError(f"not a predictions file from `artkit predict` ({why})", path)


def _from_dict(row: Any, number: int, path: Path) -> PredictionRow:
    if not isinstance(row, dict) or "path" not in row or "status" not in row:
        raise _not_predictions(path, f"row {number} has no path and status")
    # `labels` (multi-label) or `label` (multi-class), as Prediction.to_dict writes them;
    # files from before that hold either under `prediction`
    given = row["labels"] if "labels" in row else row.get("label", row.get("prediction"))
    listed = isinstance(given, list)
    labels = given if listed else ([given] if given else [])
    scores = row.get("scores") or {}
    if not isinstance(scores, dict):
        raise _not_predictions(path, f"row {number}: scores is not an object")
    return PredictionRow(str(row["path"]), str(row["status"]), row.get("error"),
                         [str(x) for x in labels], {str(k): float(v) for k, v in scores.items()
                                                    if v is not None},
                         listed=listed)


def is_predictions_csv(columns: list[str]) -> bool:
    return columns[:len(FIXED_COLUMNS)] in (FIXED_COLUMNS, LEGACY_COLUMNS)


def read_predictions(path: Path) -> PredictionFile:
    """Rows of a csv, json or jsonl file written by ``artkit predict --output``."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return _read_csv(path)
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtkitError(f"cannot read: {exc}", path) from None
    if suffix == ".jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(_from_dict(json.loads(line), number, path))
            except json.JSONDecodeError:
                raise _not_predictions(path, f"line {number} is not json") from None
        return PredictionFile(path, rows, PredictionsHeader(), any(r.listed for r in rows))
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _not_predictions(path, f"invalid json: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("results"), list):
        raise _not_predictions(path, "no 'results' list")
    rows = [_from_dict(r, n, path) for n, r in enumerate(document["results"], 1)]
    header = PredictionsHeader.from_json(document)
    return PredictionFile(path, rows, header, header.task == "multilabel"
                          or any(r.listed for r in rows))


def _read_csv(path: Path) -> PredictionFile:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        columns = next(reader, None)
        if not columns or not is_predictions_csv(columns):
            raise _not_predictions(path, "its columns are not path,status,error,labels,...")
        labels = [c.removeprefix("score:") for c in columns[len(FIXED_COLUMNS):]]
        rows, multilabel = [], False
        for values in reader:
            if not values:
                continue
            path_text, status, error, prediction = (values + [""] * 4)[:4]
            scores = {}
            for label, value in zip(labels, values[len(FIXED_COLUMNS):], strict=False):
                if value != "":
                    scores[label] = float(value)
            given = [x for x in prediction.split(";") if x] if prediction else []
            if status == "ok" and len(given) != 1:  # a multi-class row names one label
                multilabel = True
            rows.append(PredictionRow(path_text, status, error or None, given, scores))
    return PredictionFile(path, rows, PredictionsHeader(labels=labels), multilabel)


def item_of(row: PredictionRow, multilabel: bool) -> dict[str, Any]:
    ranked = sorted(row.scores.items(), key=lambda kv: -kv[1])
    top = ranked[0][1] if ranked else None
    if multilabel:
        chosen = [(label, row.scores.get(label)) for label in row.labels]
        lines = [["pred", ", ".join(f"{x} ({s:.2f})" if s is not None else x
                                    for x, s in chosen)]] if chosen else \
            [["missed", "no label above its threshold"],
             ["dim", "best: " + ", ".join(f"{x} ({s:.2f})" for x, s in ranked[:TOP_SHOWN])]]
    else:
        lines = [["pred" if k == 0 else "dim", f"{x} {s:.3f}"]
                 for k, (x, s) in enumerate(ranked[:TOP_SHOWN])]
        if not ranked and row.labels:
            lines = [["pred", row.labels[0]]]
    return {"lines": lines, "f": {"pred": list(row.labels)}, "score": clean(top)}


def predictions_report(path: Path, output: Path, thumbnails: ThumbnailMode = "auto") -> Path:
    found = read_predictions(path)
    ok = [r for r in found.rows if r.status == "ok"]
    failed = [r for r in found.rows if r.status != "ok"]
    items = [item_of(r, found.multilabel) for r in ok]
    # the least confident first (rows without scores last), in file order among equals
    order = sorted(range(len(ok)), key=lambda k: (items[k]["score"] is None,
                                                 items[k]["score"] or 0.0))
    ok, items = [ok[k] for k in order], [items[k] for k in order]
    photos = [resolve(r.path, path) for r in ok]
    thumbs = Thumbnails(output, thumbnails, count=len(ok))
    made = thumbs.make(photos, "predictions: thumbnails")
    thumbs.finish()
    for item, row, photo, thumb in zip(items, ok, photos, made, strict=True):
        item.update({"name": photo.name, "path": row.path, "src": thumb.src, "err": thumb.error,
                     "href": relative_link(photo, output)})
    gallery = Gallery("predictions", f"{len(ok)} images", items,
                      note="The least confident first: the images to check by hand.",
                      score={"title": "confidence (top score)", "min": 0.0, "max": 1.0},
                      orders=[("given", "least confident first"),
                              ("score-desc", "most confident first"), ("name", "file name")])
    gallery.add_filter("pred", "label")

    counts: Counter[str] = Counter()
    score_sum: Counter[str] = Counter()
    for row in ok:
        for label in row.labels:
            counts[label] += 1
            score_sum[label] += row.scores.get(label, 0.0)
    label_rows = [{"label": label, "images": n, "share": n / max(len(ok), 1),
                   "mean score": score_sum[label] / n} for label, n in counts.most_common()]
    header = found.header
    summary = {"file": str(path), "images": len(found.rows), "scored": len(ok),
               "skipped": len(failed),
               "task": header.task or ("multilabel" if found.multilabel else "multiclass")}
    if header.model:
        summary["model"] = header.model
    if header.decision:
        summary["decision"] = json.dumps(header.decision)
    return render(
        "predictions.html.j2", output, title=f"Predictions: {path.name}",
        subtitle=f"{len(ok)} images scored, {len(failed)} skipped", target=str(path),
        kind="predictions", notes=[], summary=Table.from_dicts("", [summary]),
        labels=Table.from_dicts("Labels given", label_rows, id="labels"),
        confidence=histogram("Confidence (top score of each image)",
                             [i["score"] for i in items if i["score"] is not None],
                             xlabel="top score"),
        gallery=gallery,
        skipped=Table.from_dicts(f"Skipped files ({len(failed)})",
                                 [{"file": r.path, "reason": r.error or r.status}
                                  for r in failed], id="skipped"))
