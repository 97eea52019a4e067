"""`artkit.report(target)`: one HTML page for a run, a predictions file or a boxes file.

The page opens offline in any browser: its script and style are inside, thumbnails are
embedded (or, for large galleries, kept in ``<page>_files/`` beside it).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from artkit.console import ProgressCallback, reporting
from artkit.errors import ArtkitError
from artkit.reports import ThumbnailMode, build_report
from artkit.training.runs import Run, resolve_run

DEFAULT_THUMBNAILS: ThumbnailMode = "auto"


def report(target: str | Path | Run, output: str | Path | None = None, *,
           gt: str | Path | None = None, class_name: str | None = None,
           thumbnails: ThumbnailMode = DEFAULT_THUMBNAILS,
           progress: bool | ProgressCallback | None = None) -> Path:
    """Write the report of `target` and return the page's path.

    `target` is a run (a :class:`Run`, its folder, or ``MODEL/N``), a predictions file from
    ``artkit predict --output`` (csv, json, jsonl) or a boxes file from ``artkit detect``
    (json or csv; `gt`: COCO annotations to draw and score against). `output` defaults to
    ``RUN/report.html`` or ``<file>.report.html`` beside the file. `thumbnails`: ``embed``
    them in the page, keep them in a ``folder`` beside it, or ``auto`` (embedded up to 400
    images)."""
    if isinstance(target, Run):
        target = target.dir
    elif not Path(target).exists():
        try:
            target = resolve_run(target).dir
        except ArtkitError:
            pass  # build_report names the missing target
    with reporting(progress):
        return build_report(target, output, gt=gt, class_name=class_name,
                            thumbnails=thumbnails)


def report_command(target: str | Path, *extra: str) -> str:
    """The command line that makes the report of `target` (what other commands print)."""
    return " ".join(["artkit", "report", *map(shlex.quote, [str(target), *extra])])
