"""Score a trained run on images and hand the scores to the evaluator of its task.

`Run.evaluate` calls this module, so it names `Run` for type hints only: the run folder
sits below its evaluation, and the two modules do not import each other."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from artkit import atomic, registry
from artkit.console import warn
from artkit.contracts import EvalResult
from artkit.data.dataset import Dataset, load_dataset
from artkit.data.splits import Split
from artkit.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from artkit.training.runs import Run


def evaluator_for(task: str):
    for info in registry.of_kind(registry.Kind.EVALUATOR).values():
        if info.obj.task == task:
            return info.obj
    raise DataError(f"no evaluator plugin is installed for the {task} task")


def align_to_run(dataset: Dataset, labels: list[str],
                 report: bool = True) -> tuple[Dataset, np.ndarray]:
    """Express `dataset`'s targets in the run's label order; returns (dataset, kept indices).

    Multi-class images whose class the run never saw are dropped (with a warning);
    multi-label attributes the run does not know are ignored."""
    if dataset.labels == labels:
        return dataset, np.arange(len(dataset))
    position = {name: i for i, name in enumerate(labels)}
    if dataset.task == "multiclass":
        mapped = np.array([position.get(dataset.labels[t], -1) for t in dataset.targets])
        keep = np.flatnonzero(mapped >= 0)
        if len(keep) == 0:
            raise DataError("none of this data set's classes is one the model was trained on",
                            dataset.root)
        if len(keep) < len(dataset) and report:
            warn(f"{len(dataset) - len(keep)} images belong to classes the model does not "
                 "know and are left out")
        subset = dataset.subset(keep)
        subset.labels, subset.targets = list(labels), mapped[keep]
        return subset, keep
    targets = np.zeros((len(dataset), len(labels)), dtype=np.uint8)
    for column, name in enumerate(dataset.labels):
        if name in position:
            targets[:, position[name]] = dataset.targets[:, column]
    aligned = dataset.subset(np.arange(len(dataset)))
    aligned.labels, aligned.targets = list(labels), targets
    return aligned, np.arange(len(dataset))


def run_dataset(run: Run) -> tuple[Dataset, Split]:
    """The data set a run was trained on, in the run's label order, and its saved split.

    Classes left out at training time (``--min-class-images``) are left out again."""
    config = run.config
    dataset = load_dataset(config.data, config.format)
    dataset, _ = align_to_run(dataset, config.labels, report=False)
    return dataset, Split.from_json(run.read_json("split.json"), dataset)


def evaluate_indices(run: Run, dataset: Dataset, indices: np.ndarray,
                     label: str = "test") -> EvalResult:
    """Score images `indices` of `dataset` with the run's model, evaluate, save metrics."""
    config = run.config
    model = registry.get(registry.Kind.MODEL, config.model)
    predictor = model.load(run)
    subset = dataset.subset(indices)
    scores = predictor.predict_paths(subset.paths)
    evaluator = evaluator_for(config.task)
    out_dir = run.path("eval" if label == "test" else f"eval-{label}")
    result = evaluator.evaluate(subset.targets, scores, config.labels, out_dir,
                                decision=config.decision)
    save_predictions(out_dir / PREDICTIONS_FILE, subset, scores)
    payload = {"split": label, "data": str(dataset.root), "n_images": len(subset),
               "evaluator": evaluator.name, "metrics": result.metrics,
               "headline": list(result.headline),
               "intervals": {k: [float(lo), float(hi)] for k, (lo, hi) in
                             result.intervals.items()},
               "per_class": result.per_class,
               "plots": [str(p) for p in result.plots]}
    run.write_json("metrics.json" if label == "test" else f"metrics-{label}.json", payload)
    return result


PREDICTIONS_FILE = "predictions.npz"


def save_predictions(path: Path, dataset: Dataset, scores: np.ndarray) -> Path:
    """Per-image scores of an evaluation (``eval/predictions.npz``): the image paths, the
    truth, the scores (float32, one column per label) and the labels, so that ``artkit
    report`` shows the mistakes without loading the model again."""
    with atomic.atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(handle, paths=np.array([str(p) for p in dataset.paths]),
                            targets=np.asarray(dataset.targets),
                            scores=np.asarray(scores, dtype=np.float32),
                            labels=np.array(dataset.labels))
    return path


def load_predictions(path: Path) -> dict[str, np.ndarray]:
    """What :func:`save_predictions` wrote (no pickles are loaded)."""
    with np.load(path, allow_pickle=False) as stored:
        return {key: stored[key] for key in stored.files}


def evaluate_run(run: Run, data: Path | None = None, format: str | None = None) -> EvalResult:
    """Re-evaluate `run` on its own test split, or on every image of another data set."""
    config = run.config
    if data is None:
        dataset, split = run_dataset(run)
        return evaluate_indices(run, dataset, split.test, label="test")
    dataset = load_dataset(data, format)
    if dataset.task != config.task:
        raise DataError(f"the run is {config.task} but this data set is {dataset.task}",
                        data)
    dataset, _ = align_to_run(dataset, config.labels)
    return evaluate_indices(run, dataset, np.arange(len(dataset)),
                            label=Path(data).name or "data")
