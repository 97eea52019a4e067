"""Train one model plugin on one data set: the split, the run folder, then evaluation.

The core does the bookkeeping every model shares; the plugin only fits and saves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from artkit import registry
from artkit.console import info, warn
from artkit.contracts import EvalResult, TrainContext, capability
from artkit.data.dataset import Dataset, load_dataset
from artkit.data.splits import TEST_FRACTION, VAL_FRACTION, Split, make_split
from artkit.errors import DataError
from artkit.formats.run_config import RunConfig
from artkit.training.evaluation import evaluate_indices
from artkit.training.runs import Run, new_run


def resolve_data(data: Path | None, format: str | None, task: str | None,
                 supported: tuple[str, ...], default_data: str | None = None) -> Dataset:
    """The user's data set, or the built-in synthetic one: the model's `default_data` set
    when it names one (and no --task asks otherwise), else the set of the task."""
    if data is None:
        from artkit.data.synth import default_dataset

        chosen = task or default_data or supported[0]
        info(f"no --data given: using the built-in synthetic {chosen} data set")
        return load_dataset(default_dataset(chosen))
    dataset = load_dataset(data, format)
    if task is not None and dataset.task != task:
        raise DataError(f"this is a {dataset.task} data set, but --task {task} was asked for",
                        data)
    return dataset


def drop_small_classes(dataset: Dataset, min_images: int) -> Dataset:
    """Leave out the classes (multi-class) or attributes (multi-label) with fewer than
    `min_images` images, naming them in a warning: a class with a handful of images can be
    neither stratified nor cross-validated, and its metrics would be noise."""
    if min_images <= 0 or dataset.task not in ("multiclass", "multilabel"):
        return dataset
    counts = dataset.counts()
    kept = np.flatnonzero(counts >= min_images)
    if len(kept) == len(counts):
        return dataset
    if len(kept) < 2:
        raise DataError(f"fewer than 2 classes have at least {min_images} images "
                        "(--min-class-images)", dataset.root)
    dropped = [f"{dataset.labels[i]} ({counts[i]})" for i in np.flatnonzero(counts < min_images)]
    if dataset.task == "multiclass":
        subset = dataset.subset(np.flatnonzero(np.isin(dataset.targets, kept)))
        new_index = np.full(len(dataset.labels), -1, dtype=np.int64)
        new_index[kept] = np.arange(len(kept))
        subset.targets = new_index[subset.targets]
    else:
        subset = dataset.subset(np.arange(len(dataset)))
        subset.targets = subset.targets[:, kept]
    subset.labels = [dataset.labels[i] for i in kept]
    warn(f"--min-class-images {min_images}: left out {len(dropped)} class(es) with fewer "
         f"images ({len(dataset) - len(subset)} images): {', '.join(dropped)}")
    return subset


def train_model(model_name: str, options: dict[str, Any], data: Path | None = None,
                format: str | None = None, task: str | None = None, name: str | None = None,
                seed: int = 0, test_fraction: float = TEST_FRACTION,
                val_fraction: float = VAL_FRACTION,
                min_class_images: int = 0) -> tuple[Run, EvalResult]:
    dataset = model_dataset(model_name, data, format, task, min_class_images)
    split = make_split(dataset, seed=seed, test_fraction=test_fraction,
                       val_fraction=val_fraction)
    return train_on_split(model_name, options, dataset, split, name=name, seed=seed,
                          test_fraction=test_fraction, val_fraction=val_fraction,
                          min_class_images=min_class_images)


def model_dataset(model_name: str, data: Path | None, format: str | None, task: str | None,
                  min_class_images: int) -> Dataset:
    """The data set a model plugin will train on (checked against the tasks it supports)."""
    model = registry.get(registry.Kind.MODEL, model_name)
    dataset = resolve_data(data, format, task, tuple(model.tasks),
                           capability(model, "default_data"))
    dataset = drop_small_classes(dataset, min_class_images)
    if dataset.task not in model.tasks:
        raise DataError(f"model '{model_name}' cannot train a {dataset.task} task "
                        f"(it supports: {', '.join(model.tasks)})", dataset.root)
    return dataset


def train_on_split(model_name: str, options: dict[str, Any], dataset: Dataset, split: Split,
                   name: str | None = None, seed: int = 0,
                   test_fraction: float = TEST_FRACTION, val_fraction: float = VAL_FRACTION,
                   min_class_images: int = 0) -> tuple[Run, EvalResult]:
    """Train on `split` of `dataset` into a new run folder, then evaluate its test part.

    A training or evaluation that raises leaves the folder marked failed (``failed.json``,
    :meth:`Run.mark_failed`): an interrupted Keras run keeps its checkpoint for ``--resume``,
    and ``artkit runs`` tells either from a finished run."""
    model = registry.get(registry.Kind.MODEL, model_name)
    # A model may keep a process's run out of runs/ (a non-chief worker of a distributed
    # training: only the chief writes the run folder).
    scratch = capability(model, "scratch_runs_root")
    run = new_run(model_name, name, root=scratch(options) if scratch else None)
    run.write_config(RunConfig(
        model=model_name, options=options, task=dataset.task, labels=list(dataset.labels),
        data=dataset.extra.get("source", str(dataset.root.resolve())),
        format=dataset.reader, seed=seed, test_fraction=test_fraction,
        val_fraction=val_fraction, min_class_images=min_class_images,
        n_images={"train": len(split.train), "val": len(split.val), "test": len(split.test)}))
    run.write_json("split.json", split.to_json(dataset))
    info(f"run folder: {run.dir}  (train {len(split.train)}, val {len(split.val)}, "
         f"test {len(split.test)} images, {len(dataset.labels)} labels)")
    try:
        model.train(TrainContext(dataset=dataset, train_idx=split.train, val_idx=split.val,
                                 test_idx=split.test, run=run, options=options, seed=seed))
        result = evaluate_indices(run, dataset, split.test, label="test")
    except BaseException as exc:  # an interrupt too: the run is marked, then it goes on up
        run.mark_failed(exc)
        raise
    return run, result
