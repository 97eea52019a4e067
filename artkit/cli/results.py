"""Printing evaluation results the same way for every model."""

from __future__ import annotations

from artkit.cli.common import print_metrics
from artkit.console import console, print_table
from artkit.contracts import EvalResult

PER_CLASS_ROWS = 40


def print_eval_result(title: str, result: EvalResult) -> None:
    print_metrics(title, result.metrics, result.intervals)
    if result.per_class:
        rows = result.per_class[:PER_CLASS_ROWS]
        print_table("per class" if len(rows) == len(result.per_class)
                    else f"per class (first {PER_CLASS_ROWS} of {len(result.per_class)})", rows)
    for plot in result.plots:
        console.print(f"[dim]saved {plot}[/dim]")
