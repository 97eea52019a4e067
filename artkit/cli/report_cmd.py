"""`artkit report TARGET`: one HTML page for a run, a predictions, boxes or identification file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from artkit.api.report import DEFAULT_THUMBNAILS, ThumbnailMode, report
from artkit.cli.common import apply_quiet
from artkit.cli.options import QuietOption
from artkit.console import console
from artkit.reports.thumbs import EMBED_LIMIT


def report_command(
    target: Annotated[str, typer.Argument(
        help="A run folder (or MODEL/N), a predictions file from `artkit predict --output` "
        "(csv, json, jsonl), a boxes file from `artkit detect` (json, csv) or the results "
        "of `artkit identify` (json).")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="The page to write (default: RUN/report.html, or "
        "<file>.report.html beside the file).")] = None,
    gt: Annotated[Path | None, typer.Option(
        "--gt", help="Boxes file: COCO annotations to draw and score against (default: the "
        "ones `detect --gt` recorded, if any).")] = None,
    class_name: Annotated[str | None, typer.Option(
        "--class", help="Boxes file: the annotated category (default: the boxes' own).")
    ] = None,
    thumbnails: Annotated[ThumbnailMode, typer.Option(
        "--thumbnails", help="embed them in the page, keep them in a folder beside it "
        f"(<page>_files/), or auto: embedded up to {EMBED_LIMIT} images.")
    ] = DEFAULT_THUMBNAILS,
    quiet: QuietOption = False,
) -> None:
    """Write one HTML page (works offline) to look at results: metrics, curves, confusion
    matrices and the worst mistakes of a run; a filterable gallery of predictions; photos
    with their boxes."""
    apply_quiet(quiet)
    page = report(target, output, gt=gt, class_name=class_name, thumbnails=thumbnails)
    console.print(f"report -> {page}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
