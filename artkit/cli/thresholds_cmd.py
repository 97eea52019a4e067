"""`artkit tune-thresholds RUN|MODEL.onnx`: multi-label thresholds that maximise F2.

Presentation only: :func:`artkit.api.thresholds.tune_thresholds` scores, tunes and stores
the rule; this prints what it chose and how it compares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from artkit.api.thresholds import (
    DEFAULT_METRIC,
    DEFAULT_MIN_LABELS,
    DEFAULT_SHRINKAGE,
    DEFAULT_STRATEGY,
    Metric,
    Strategy,
    tune_thresholds,
)
from artkit.cli.common import FormatOption, apply_quiet
from artkit.cli.options import QuietOption
from artkit.console import console, print_table

TuneDataOption = Annotated[Path | None, typer.Option(
    "--data", help="Data set to tune on (its validation split is used). Default for a run: "
    "its own data set and saved split; for an ONNX file: those of the run it was exported "
    "from, when that run folder is still here.")]


# -- the command --------------------------------------------------------------------------
def tune_thresholds_command(
    target: Annotated[str, typer.Argument(
        help="A multi-label run (folder or MODEL/N) or an exported MODEL.onnx.")],
    data: TuneDataOption = None,
    format: FormatOption = None,
    strategy: Annotated[Strategy, typer.Option(
        "--strategy", help="One threshold for all labels, one per 'prefix::' group, or one "
        "per label (shrunk towards its group's).")] = DEFAULT_STRATEGY,
    metric: Annotated[Metric, typer.Option(
        "--metric", help="The F-score, averaged over images, to maximise.")] = DEFAULT_METRIC,
    min_labels: Annotated[int, typer.Option(
        "--min-labels", help="Every image gets at least its N best-scoring labels.")
    ] = DEFAULT_MIN_LABELS,
    max_labels: Annotated[int | None, typer.Option(
        "--max-labels", help="At most N labels per image (its best-scoring ones).")] = None,
    shrinkage: Annotated[float, typer.Option(
        "--shrinkage", help="Per-label strategy: a label with n positive validation images "
        "moves n/(n+S) of the way from its group's threshold to its own best.")
    ] = DEFAULT_SHRINKAGE,
    output: Annotated[Path | None, typer.Option(
        "--output", help="ONNX only: write the tuned model here (default: update the file "
        "in place).")] = None,
    quiet: QuietOption = False,
) -> None:
    """Choose multi-label thresholds on the validation split that maximise F2 per image,
    and store them in the run (or the ONNX file) for evaluate and predict."""
    apply_quiet(quiet)
    report = tune_thresholds(target, data=data, format=format, strategy=strategy,
                             metric=metric, min_labels=min_labels, max_labels=max_labels,
                             shrinkage=shrinkage, output=output)
    tuning = report.tuning
    bounds = f"min {min_labels}, max {max_labels if max_labels is not None else '-'} labels"
    print_table(f"{metric.upper()} per image, precision, recall ({bounds}; tuned on "
                f"{report.n_val} validation images)", report.rows)
    if tuning.group_thresholds:
        print_table("group thresholds", [{"group": g, "threshold": t}
                                         for g, t in tuning.group_thresholds.items()])
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    if tuning.no_positive:
        shown = ", ".join(tuning.no_positive[:10])
        more = f" and {len(tuning.no_positive) - 10} more" if len(tuning.no_positive) > 10 \
            else ""
        console.print(f"[dim]labels without positive validation images: {shown}{more}[/dim]")
    if report.stored_in.suffix == ".json":
        console.print(f"thresholds written into {report.stored_in} "
                      f"(`artkit evaluate {report.stored_in.parent}` uses them)")
    else:
        console.print(f"thresholds written into {report.stored_in}")
    console.print(f"[dim]saved {report.report} and {report.plot}[/dim]")


def register(app: typer.Typer) -> None:
    app.command("tune-thresholds")(tune_thresholds_command)
