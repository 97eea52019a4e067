"""What a data set holds: its summary and its distribution (images per class or attribute,
or boxes per image), as rows, and as a bar chart. Behind `artkit data info`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from artkit.data.dataset import Dataset

CHART_ROWS = 40
"""Bars drawn at most (the rows saved in the JSON are all of them)."""


def distribution_key(dataset: Dataset) -> str:
    """The column the distribution is counted by."""
    return "boxes per image" if dataset.task == "detection" else "label"


def distribution(dataset: Dataset) -> list[dict[str, Any]]:
    """Images per class or attribute, most first, with their share; for a detection set,
    images per number of boxes."""
    if dataset.task == "detection":
        per_image = np.array([len(b) for b in dataset.boxes or []])
        counts = np.bincount(per_image) if len(per_image) else np.array([0])
        return [{"boxes per image": k, "images": int(v)} for k, v in enumerate(counts) if v]
    counts = dataset.counts()
    total = len(dataset)
    order = np.argsort(-counts, kind="stable")
    return [{"label": dataset.labels[i], "images": int(counts[i]),
             "share": float(counts[i]) / total} for i in order]


def summary(dataset: Dataset, path: Path) -> dict[str, Any]:
    """Reader, task, images and labels; labels per image and attribute groups (``group::
    name``) of a multi-label set; the boxes of a detection set."""
    found: dict[str, Any] = {"path": str(path), "reader": dataset.reader, "task": dataset.task,
                             "images": len(dataset), "labels": len(dataset.labels)}
    if dataset.task == "multilabel":
        found["labels per image (mean)"] = float(dataset.targets.sum(1).mean())
        groups: dict[str, int] = {}
        for name in dataset.labels:
            group = name.split("::")[0] if "::" in name else "(none)"
            groups[group] = groups.get(group, 0) + 1
        found["attribute groups"] = ", ".join(f"{g} {n}" for g, n in groups.items())
    if dataset.task == "detection":
        found["boxes"] = int(sum(len(b) for b in dataset.boxes or []))
    return found


def save_bar_chart(rows: list[dict[str, Any]], key: str, title: str, path: Path) -> Path:
    """The first :data:`CHART_ROWS` rows as horizontal bars of their images (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from artkit.reports.plots import save_figure

    shown = rows[:CHART_ROWS]
    fig, ax = plt.subplots(figsize=(8, 0.25 * len(shown) + 1.5))
    ax.barh([str(r[key]) for r in shown][::-1], [r["images"] for r in shown][::-1],
            color="#4C72B0")
    ax.set_xlabel("images")
    suffix = f" (top {len(shown)} of {len(rows)})" if len(rows) > len(shown) else ""
    ax.set_title(title + suffix)
    return save_figure(fig, path)
