"""`artkit evaluate RUN` and `artkit runs`: metrics of trained runs, alone or side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from artkit.cli.common import (
    DataOption,
    FormatOption,
    apply_quiet,
    print_report_hint,
)
from artkit.cli.options import JsonOption, QuietOption
from artkit.cli.results import print_eval_result
from artkit.console import console, print_table


def evaluate_command(
    run: Annotated[str | None, typer.Argument(
        help="Run folder or MODEL/N; default: the most recent finished run.")] = None,
    data: DataOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
) -> None:
    """Re-evaluate a trained run on its own test split, or on another data set (--data)."""
    import artkit

    apply_quiet(quiet)
    chosen = artkit.get_run(run)
    result = chosen.evaluate(data=data, format=format)
    where = f"--data {data}" if data else "test split"
    print_eval_result(f"{chosen.config.model} — {where} ({chosen.dir})", result)
    print_report_hint(chosen.dir)


def runs_command(
    as_json: JsonOption = False,
    model: Annotated[str | None, typer.Option("--model", help="Only runs of this model.")] = None,
) -> None:
    """List trained runs with their task, data and headline test metrics, side by side."""
    from artkit.training.runs import all_runs

    rows = []
    for run in all_runs():
        config = run.config
        if model and config.model != model:
            continue
        metrics = run.metrics
        row = {"run": str(run.dir), "model": config.model, "task": config.task,
               "data": Path(config.data).name, "status": run.status}
        if metrics:
            for key in metrics.get("headline", []):
                row[key] = metrics["metrics"].get(key)
        rows.append(row)
    if as_json:
        console.print_json(json.dumps(rows))
    else:
        print_table("runs", rows)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_command)
    app.command("runs")(runs_command)
