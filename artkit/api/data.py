"""Data sets through the API: `synth` writes a synthetic one (`artkit data synth`), and
`data_info` describes one and writes its distribution chart and JSON (`artkit data info`).
Each returns what it made and the paths it wrote; the CLI prints them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SYNTH_TASK = "multiclass"
SEED = 0
INFO_OUTPUT = Path("data-info")
"""The folder `data_info` writes its chart and JSON into by default."""


@dataclass
class SynthResult:
    """A synthetic data set as written: its folder, what it holds, the reader that reads it
    (what ``--data`` finds), and the contact sheet (None when not asked for)."""

    path: Path
    task: str
    images: int
    labels: list[str]
    reader: str
    boxes: int | None = None
    """Detection: the painting boxes of all the photos."""
    labels_per_image: float | None = None
    """Multi-label: the mean number of attributes per image."""
    contact_sheet: Path | None = None


def synth(out: str | Path, task: str = SYNTH_TASK, *, n: int | None = None, seed: int = SEED,
          size: int | None = None, paintings: str | Path | None = None,
          contact_sheet: str | Path | None = None) -> SynthResult:
    """Generate the deterministic synthetic `task` data set (same arguments, same files)
    into the new or empty folder `out`, in the layout its reader reads. `n` images of side
    `size` (None: as the built-in set of the task, :data:`artkit.data.synth.DEFAULTS`);
    detection hangs real images from `paintings` (a folder) instead of procedural ones.
    `contact_sheet` also saves a PNG grid of sample images with their labels."""
    from artkit.data.contact_sheet import save_contact_sheet
    from artkit.data.dataset import load_dataset
    from artkit.data.synth import DEFAULTS, generate

    default_n, default_size = DEFAULTS.get(task, (n, size))  # generate names a bad task
    path = generate(Path(out), task=task, n=default_n if n is None else n, seed=seed,
                    size=default_size if size is None else size,
                    paintings=Path(paintings) if paintings is not None else None)
    dataset = load_dataset(path)
    made = SynthResult(path, task, len(dataset), list(dataset.labels), dataset.reader)
    if dataset.task == "detection":
        made.boxes = sum(len(b) for b in dataset.boxes or [])
    elif dataset.task == "multilabel":
        made.labels_per_image = float(dataset.targets.sum(1).mean())
    if contact_sheet is not None:
        made.contact_sheet = save_contact_sheet(dataset, contact_sheet)
    return made


@dataclass
class DataInfo:
    """A data set described: `summary` (reader, task, images, labels, ...), `distribution`
    (rows of images per class or attribute, or per number of boxes), and the files written,
    the bar chart and the JSON of both."""

    summary: dict[str, Any]
    distribution: list[dict[str, Any]] = field(default_factory=list)
    chart: Path | None = None
    json_file: Path | None = None


def data_info(path: str | Path, format: str | None = None,
              out: str | Path = INFO_OUTPUT) -> DataInfo:
    """Describe the data set at `path` (a folder, csv or COCO json; `format` forces a
    reader) and write its distribution into `out`: ``NAME.png`` (a bar chart) and
    ``NAME.json`` (summary and distribution), NAME being the data set's."""
    from artkit.atomic import write_json
    from artkit.data.dataset import load_dataset
    from artkit.data.info import distribution, distribution_key, save_bar_chart, summary

    path, out = Path(path), Path(out)
    dataset = load_dataset(path, format)
    rows = distribution(dataset)
    found = DataInfo(summary(dataset, path), rows)
    name = (path.stem if path.is_file() else path.name) or "data"
    found.chart = save_bar_chart(rows, distribution_key(dataset), f"{name}: {dataset.task}",
                                 out / f"{name}.png")
    found.json_file = write_json(out / f"{name}.json",
                                 {"summary": found.summary, "distribution": rows})
    return found
