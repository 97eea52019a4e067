"""`artkit data ...`: inspect and generate data sets (:mod:`artkit.api.data` writes the
files; this prints what it made)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from artkit.api.data import INFO_OUTPUT, SEED, SYNTH_TASK
from artkit.cli.common import FormatOption, new_app
from artkit.console import console, print_table


def info_command(
    path: Annotated[Path, typer.Argument(help="Data set folder, csv or COCO json.")],
    format: FormatOption = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the chart and JSON.")] =
        INFO_OUTPUT,
    top: Annotated[int, typer.Option("--top", help="Rows to print (all are saved).")] = 30,
) -> None:
    """Print the class / attribute / box distribution as a table and save it as a bar chart."""
    from artkit.api.data import data_info

    found = data_info(path, format, out)
    rows = found.distribution
    print_table(f"data set {path}", [{"field": k, "value": v} for k, v in found.summary.items()])
    print_table(f"distribution ({len(rows)} rows, top {min(top, len(rows))})", rows[:top])
    console.print(f"[dim]saved {found.chart} and {found.json_file}[/dim]")


SynthTask = Literal["multiclass", "multilabel", "detection", "painting-sculpture"]


def synth_command(
    out: Annotated[Path, typer.Argument(help="New (or empty) folder for the data set.")],
    task: Annotated[SynthTask, typer.Option("--task", help="Which data set to make.")] =
        SYNTH_TASK,
    n: Annotated[int | None, typer.Option(
        "--n", help="Number of images [default: as the built-in set of the task].")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same files.")] = SEED,
    size: Annotated[int | None, typer.Option(
        "--size", help="Image side in pixels (detection: the long side of the room photo) "
        "[default: as the built-in set of the task].")] = None,
    paintings: Annotated[Path | None, typer.Option(
        "--paintings", help="Detection: hang real images from this folder (searched "
        "recursively) instead of procedural paintings.")] = None,
    contact_sheet: Annotated[Path | None, typer.Option(
        "--contact-sheet", help="Also save a PNG grid of sample images with their labels.")]
        = None,
) -> None:
    """Generate a deterministic synthetic data set (no download) in a layout `--data` reads."""
    from artkit.api.data import synth

    made = synth(out, task, n=n, seed=seed, size=size, paintings=paintings,
                 contact_sheet=contact_sheet)
    if made.boxes is not None:
        what = f"{made.boxes} painting boxes"
    elif made.labels_per_image is not None:
        what = f"{len(made.labels)} attributes, {made.labels_per_image:.1f} per image"
    else:
        what = f"{len(made.labels)} classes"
    console.print(f"{task}: {made.images} images, {what} -> {made.path} "
                  f"(reader: {made.reader})", highlight=False, soft_wrap=True)
    if made.contact_sheet is not None:
        console.print(f"[dim]contact sheet: {made.contact_sheet}[/dim]")


def register(app: typer.Typer) -> None:
    data_app = new_app("Inspect and generate data sets.")
    data_app.command("info")(info_command)
    data_app.command("synth")(synth_command)
    app.add_typer(data_app, name="data")
