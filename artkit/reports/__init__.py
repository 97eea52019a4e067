"""HTML reports: one page for a run folder, a predictions file, a boxes file or an identification.

:func:`build_report` looks at the target, builds the page's content (tables, charts,
thumbnails) and renders it with the jinja2 templates in ``templates/``: one HTML file that
opens offline, with its script and style inside. Thumbnails are embedded in small reports
and kept in ``<page>_files/`` beside large ones (:mod:`artkit.reports.thumbs`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Literal

from artkit.errors import ArtkitError
from artkit.reports.thumbs import THUMBNAIL_MODES, ThumbnailMode

Kind = Literal["run", "predictions", "boxes", "identify"]
WHAT = "expected a run folder, a predictions file (artkit predict), a boxes file " \
       "(artkit detect) or an identification (artkit identify)"

__all__ = ["THUMBNAIL_MODES", "Kind", "ThumbnailMode", "build_report", "default_output",
           "kind_of"]


def _first_json_item(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ArtkitError(f"not valid json: {WHAT}", path) from None


def kind_of(target: Path) -> Kind:
    """Which report `target` gets; a one-line error naming it when it is none of the three."""
    from artkit.reports.boxes_report import is_boxes_csv
    from artkit.reports.identify_report import is_identify_document
    from artkit.reports.predictions_report import is_predictions_csv

    if not target.exists():
        raise ArtkitError("not found", target, hint=WHAT)
    if target.is_dir():
        if (target / "config.json").exists():
            return "run"
        raise ArtkitError(f"not a run folder (no config.json); {WHAT}", target)
    suffix = target.suffix.lower()
    try:
        if suffix == ".csv":
            with target.open(newline="", encoding="utf-8") as handle:
                columns = next(csv.reader(handle), [])
            if is_predictions_csv(columns):
                return "predictions"
            if is_boxes_csv(columns):
                return "boxes"
        elif suffix == ".jsonl":
            return "predictions"
        elif suffix == ".json":
            document = _first_json_item(target)
            if isinstance(document, list):
                return "boxes"
            if is_identify_document(document):
                return "identify"
            if isinstance(document, dict) and "results" in document:
                return "predictions"
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtkitError(f"cannot read: {exc}", target) from None
    raise ArtkitError(WHAT, target)


def default_output(target: Path, kind: Kind) -> Path:
    """``RUN/report.html`` for a run, ``<name>.report.html`` beside a file."""
    return target / "report.html" if kind == "run" else \
        target.with_name(target.stem + ".report.html")


def build_report(target: str | Path, output: str | Path | None = None, *,
                 gt: str | Path | None = None, class_name: str | None = None,
                 thumbnails: ThumbnailMode = "auto") -> Path:
    """Write the report of `target` (a run folder, a predictions, boxes or identification file) to
    `output` (default: :func:`default_output`); returns the page's path."""
    from artkit.training.runs import Run

    target = Path(target)
    kind = kind_of(target)
    if thumbnails not in THUMBNAIL_MODES:
        raise ArtkitError(f"thumbnails must be one of {', '.join(THUMBNAIL_MODES)}, "
                          f"not '{thumbnails}'")
    page = Path(output) if output is not None else default_output(target, kind)
    if page.suffix.lower() not in (".html", ".htm"):
        raise ArtkitError("the report is an HTML page: the output must end in .html", page)
    if gt is not None and kind != "boxes":
        raise ArtkitError("--gt (annotated boxes) goes with a boxes file from artkit detect",
                          target)
    if kind == "run":
        from artkit.reports.run_report import run_report

        return run_report(Run(target), page, thumbnails)
    if kind == "identify":
        from artkit.reports.identify_report import identify_report

        return identify_report(target, page, thumbnails)
    if kind == "predictions":
        from artkit.reports.predictions_report import predictions_report

        return predictions_report(target, page, thumbnails)
    from artkit.reports.boxes_report import boxes_report

    return boxes_report(target, page, Path(gt) if gt is not None else None, class_name,
                        thumbnails)
