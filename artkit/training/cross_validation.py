"""K-fold cross-validation of a model plugin: one run per stratified fold, then the mean and
spread of every metric over the folds.

On a small collection one test split is one draw: macro-F1 moves by ±0.15 between splits of
500 images. ``artkit train MODEL --cv K`` trains K runs ``runs/<model>/<base>-fold<k>``,
fold k's test images being the k-th of K stratified parts (each image is tested exactly
once; validation images come from the other parts), and writes the summary to
``runs/<model>/<base>-cv.json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from artkit import atomic
from artkit.console import info
from artkit.data.splits import VAL_FRACTION, make_folds
from artkit.errors import ArtkitError
from artkit.training.runs import Run, runs_root


@dataclass
class CrossValidation:
    """The runs of a K-fold cross-validation and the spread of their test metrics."""

    runs: list[Run]
    per_fold: list[dict[str, float]]
    summary: dict[str, dict[str, float]] = field(default_factory=dict)
    """metric -> mean, std (sample standard deviation over folds), min, max."""
    path: Path | None = None
    """The summary file, ``runs/<model>/<base>-cv.json``."""

    def rows(self) -> list[dict[str, Any]]:
        """One row per metric: mean ± std, min, max (what the CLI prints)."""
        return [{"metric": name, "mean": s["mean"], "std": s["std"], "min": s["min"],
                 "max": s["max"]} for name, s in self.summary.items()]


def summarise(per_fold: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean, sample standard deviation, min and max of each metric every fold has."""
    names = [k for k in per_fold[0] if all(k in fold for fold in per_fold)]
    summary = {}
    for name in names:
        values = np.array([fold[name] for fold in per_fold], dtype=np.float64)
        summary[name] = {"mean": float(values.mean()),
                         "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                         "min": float(values.min()), "max": float(values.max())}
    return summary


def _base_name(model_name: str, name: str | None) -> str:
    folder = runs_root() / model_name
    if name:
        if (folder / f"{name}-cv.json").exists():
            raise ArtkitError("a cross-validation of this name exists",
                              folder / f"{name}-cv.json", hint="choose another --name")
        return name
    taken = {int(m.group(1)) for p in (folder.iterdir() if folder.exists() else ())
             if (m := re.fullmatch(r"cv(\d+)-.*", p.name))}
    return f"cv{max(taken, default=0) + 1}"


def cross_validate(model_name: str, options: dict[str, Any], folds: int,
                   data: Path | None = None, format: str | None = None,
                   task: str | None = None, name: str | None = None, seed: int = 0,
                   val_fraction: float = VAL_FRACTION,
                   min_class_images: int = 0) -> CrossValidation:
    from artkit.training.trainer import model_dataset, train_on_split

    dataset = model_dataset(model_name, data, format, task, min_class_images)
    splits = make_folds(dataset, folds, seed=seed, val_fraction=val_fraction)
    base = _base_name(model_name, name)
    runs, per_fold = [], []
    for k, split in enumerate(splits, start=1):
        info(f"fold {k} of {folds}")
        run, result = train_on_split(model_name, options, dataset, split,
                                     name=f"{base}-fold{k}", seed=seed,
                                     test_fraction=1.0 / folds, val_fraction=val_fraction,
                                     min_class_images=min_class_images)
        runs.append(run)
        per_fold.append({k: float(v) for k, v in result.metrics.items()
                         if isinstance(v, int | float)})
    summary = summarise(per_fold)
    path = runs_root() / model_name / f"{base}-cv.json"
    payload = {"model": model_name, "folds": folds, "seed": seed, "data": str(dataset.root),
               "runs": [str(r.dir) for r in runs], "per_fold": per_fold, "summary": summary}
    with atomic.atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2))
    return CrossValidation(runs=runs, per_fold=per_fold, summary=summary, path=path)
