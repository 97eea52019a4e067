"""`artkit data ...`: inspect data sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import typer

from artkit.cli.common import FormatOption, new_app
from artkit.console import console, print_table
from artkit.reports.plots import save_figure


def _distribution_rows(dataset) -> list[dict]:
    if dataset.task == "detection":
        per_image = np.array([len(b) for b in dataset.boxes or []])
        counts = np.bincount(per_image) if len(per_image) else np.array([0])
        return [{"boxes per image": k, "images": int(v)} for k, v in enumerate(counts) if v]
    counts = dataset.counts()
    total = len(dataset)
    order = np.argsort(-counts, kind="stable")
    return [{"label": dataset.labels[i], "images": int(counts[i]),
             "share": float(counts[i]) / total} for i in order]


def _save_bar_chart(rows: list[dict], key: str, title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = rows[:40]
    fig, ax = plt.subplots(figsize=(8, 0.25 * len(shown) + 1.5))
    ax.barh([str(r[key]) for r in shown][::-1], [r["images"] for r in shown][::-1],
            color="#4C72B0")
    ax.set_xlabel("images")
    suffix = f" (top {len(shown)} of {len(rows)})" if len(rows) > len(shown) else ""
    ax.set_title(title + suffix)
    return save_figure(fig, path)


def info_command(
    path: Annotated[Path, typer.Argument(help="Data set folder, csv or COCO json.")],
    format: FormatOption = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the chart and JSON.")] =
        Path("data-info"),
    top: Annotated[int, typer.Option("--top", help="Rows to print (all are saved).")] = 30,
) -> None:
    """Print the class / attribute / box distribution as a table and save it as a bar chart."""
    from artkit.atomic import write_json
    from artkit.data.dataset import load_dataset

    dataset = load_dataset(path, format)
    rows = _distribution_rows(dataset)
    key = "boxes per image" if dataset.task == "detection" else "label"
    summary = {"path": str(path), "reader": dataset.reader, "task": dataset.task,
               "images": len(dataset), "labels": len(dataset.labels)}
    if dataset.task == "multilabel":
        summary["labels per image (mean)"] = float(dataset.targets.sum(1).mean())
        groups: dict[str, int] = {}
        for name in dataset.labels:
            group = name.split("::")[0] if "::" in name else "(none)"
            groups[group] = groups.get(group, 0) + 1
        summary["attribute groups"] = ", ".join(f"{g} {n}" for g, n in groups.items())
    if dataset.task == "detection":
        summary["boxes"] = int(sum(len(b) for b in dataset.boxes or []))
    print_table(f"data set {path}", [{"field": k, "value": v} for k, v in summary.items()])
    print_table(f"distribution ({len(rows)} rows, top {min(top, len(rows))})", rows[:top])
    name = (path.stem if path.is_file() else path.name) or "data"
    chart = _save_bar_chart(rows, key, f"{name}: {dataset.task}", out / f"{name}.png")
    write_json(out / f"{name}.json", {"summary": summary, "distribution": rows})
    console.print(f"[dim]saved {chart} and {out / (name + '.json')}[/dim]")


SynthTask = Literal["multiclass", "multilabel", "detection", "painting-sculpture"]


def synth_command(
    out: Annotated[Path, typer.Argument(help="New (or empty) folder for the data set.")],
    task: Annotated[SynthTask, typer.Option("--task", help="Which data set to make.")] =
        "multiclass",
    n: Annotated[int | None, typer.Option(
        "--n", help="Number of images [default: as the built-in set of the task].")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same files.")] = 0,
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
    from artkit.data.dataset import load_dataset
    from artkit.data.synth import DEFAULTS, generate

    default_n, default_size = DEFAULTS[task]
    path = generate(out, task=task, n=default_n if n is None else n, seed=seed,
                    size=default_size if size is None else size, paintings=paintings)
    dataset = load_dataset(path)
    if dataset.task == "detection":
        what = f"{sum(len(b) for b in dataset.boxes or [])} painting boxes"
    elif dataset.task == "multilabel":
        what = (f"{len(dataset.labels)} attributes, "
                f"{dataset.targets.sum(1).mean():.1f} per image")
    else:
        what = f"{len(dataset.labels)} classes"
    console.print(f"{task}: {len(dataset)} images, {what} -> {path} "
                  f"(reader: {dataset.reader})", highlight=False, soft_wrap=True)
    if contact_sheet is not None:
        from artkit.data.contact_sheet import save_contact_sheet

        console.print(f"[dim]contact sheet: {save_contact_sheet(dataset, contact_sheet)}[/dim]")


def register(app: typer.Typer) -> None:
    data_app = new_app("Inspect and generate data sets.")
    data_app.command("info")(info_command)
    data_app.command("synth")(synth_command)
    app.add_typer(data_app, name="data")
