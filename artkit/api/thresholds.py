"""`artkit.tune_thresholds(run_or_model)`: multi-label thresholds that maximise F2.

Scores the validation split (never the test split) with the run's model or the ONNX file,
chooses thresholds with :mod:`artkit.decisions.tuning`, and stores the resulting
:class:`~artkit.decisions.rule.DecisionRule` where evaluation and predict read it: the run's
config, or the ONNX file's model card. The test split is scored only to report how the
choice generalises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from artkit import atomic
from artkit.api.model import Model
from artkit.console import ProgressCallback, info, reporting
from artkit.decisions.grids import LABEL_THRESHOLD_GRID
from artkit.decisions.rule import DecisionRule
from artkit.decisions.tuning import DEFAULT_SHRINKAGE, ThresholdSearch, Tuning, tune
from artkit.errors import ArtkitError, DataError
from artkit.metrics.fbeta import sample_scores
from artkit.training.runs import Run, resolve_run, runs_root

BETAS = {"f1": 1.0, "f2": 2.0}
Strategy = Literal["global", "group", "label"]
Metric = Literal["f2", "f1"]
DEFAULT_STRATEGY: Strategy = "group"
DEFAULT_METRIC: Metric = "f2"
DEFAULT_MIN_LABELS = 1


@dataclass
class Scored:
    """Scores and truth of the validation split, and of the test split where known."""

    labels: list[str]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray] | None
    source: str


@dataclass
class ThresholdReport:
    """What :func:`tune_thresholds` chose, where it stored it, and how it compares."""

    rule: DecisionRule
    tuning: Tuning
    rows: list[dict[str, Any]]
    """One row per candidate (0.5, best global, the strategy): F, precision, recall on the
    validation and test splits."""
    stored_in: Path
    """The run's config.json or the ONNX file that now holds the rule."""
    report: Path
    """thresholds.json: everything here, the F curves included."""
    plot: Path
    n_val: int
    n_test: int
    notes: list[str] = field(default_factory=list)


# -- scoring ------------------------------------------------------------------------------
def _dataset_and_split(data: Path | str, format: str | None, labels: list[str],
                       saved_split: dict | None):
    """The data set in the model's label order and its (validation, test) indices: the
    run's saved split, else artkit's deterministic split of the data set."""
    from artkit.data.dataset import load_dataset
    from artkit.data.splits import Split, make_split
    from artkit.training.evaluation import align_to_run

    dataset = load_dataset(data, format)
    if dataset.task != "multilabel":
        raise DataError(f"tune-thresholds needs multi-label data; this is {dataset.task}", data)
    dataset, _ = align_to_run(dataset, labels)
    split = Split.from_json(saved_split, dataset) if saved_split is not None \
        else make_split(dataset)
    if len(split.val) == 0:
        raise DataError("the validation split is empty: nothing to tune on", data)
    return dataset, split


def score_run(run: Run, data: Path | None, format: str | None) -> Scored:
    from artkit import registry

    config = run.config
    if config.task != "multilabel":
        raise ArtkitError(f"tune-thresholds needs a multi-label run; this run is "
                          f"{config.task}", run.dir)
    dataset, split = _dataset_and_split(data or config.data,
                                        format or (None if data else config.format),
                                        config.labels, run.read_json("split.json"))
    predictor = registry.get(registry.Kind.MODEL, config.model).load(run)

    def part(indices: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
        info(f"scoring the {name} split ({len(indices)} images)")
        scores = np.asarray(predictor.predict_paths([dataset.paths[i] for i in indices]))
        return scores, dataset.targets[indices]

    test = part(split.test, "test") if len(split.test) else None
    return Scored(config.labels, part(split.val, "validation"), test, str(run.dir))


def _source_run(model: Model) -> Run | None:
    """The run folder an exported model names (``<model>-<run>``), if it is still here."""
    name, plugin = model.card.run or "", model.card.model
    if not name.startswith(plugin + "-"):
        return None
    run = Run(runs_root() / plugin / name[len(plugin) + 1:])
    found = run.path("config.json").exists() and run.path("split.json").exists()
    return run if found else None


def score_onnx(model: Model, data: Path | None, format: str | None) -> Scored:
    if not model.card.multilabel:
        raise ArtkitError(f"not a multi-label model (its model card says task "
                          f"'{model.task}'): thresholds apply to multi-label models",
                          model.path)
    run = _source_run(model)
    if data is None and run is None:
        raise ArtkitError(f"the run this model came from ({model.card.run or 'not named'}) is "
                          f"not under {runs_root()}, so its data set and split are unknown",
                          model.path, hint="give the data set with --data")
    same_data = run is not None and (data is None or Path(data).expanduser().resolve() ==
                                     Path(run.config.data).resolve())
    if same_data:  # the run's own split: its validation images were never trained on
        assert run is not None
        config = run.config
        dataset, split = _dataset_and_split(config.data, format or config.format,
                                            model.labels, run.read_json("split.json"))
    else:
        info(f"tuning on the validation part of artkit's default split of {data}")
        dataset, split = _dataset_and_split(data, format, model.labels, None)  # type: ignore

    def part(indices: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
        info(f"scoring the {name} split ({len(indices)} images)")
        scores, kept = model.scores([dataset.paths[i] for i in indices])
        if not kept:
            raise ArtkitError(f"no image of the {name} split could be scored")
        return scores, dataset.targets[indices[kept]]

    test = part(split.test, "test") if len(split.test) else None
    return Scored(model.labels, part(split.val, "validation"), test, str(model.path))


# -- comparing and reporting --------------------------------------------------------------
def comparison_rows(scored: Scored, candidates: list[tuple[str, DecisionRule]],
                    beta: float) -> list[dict[str, Any]]:
    """One row per candidate decision rule: F, precision, recall on validation and test."""
    name = f"F{beta:g}"
    rows = []
    for label, rule in candidates:
        row: dict[str, Any] = {"thresholds": label}
        for split_name, part in (("val", scored.val), ("test", scored.test)):
            if part is None:
                continue
            scores, truth = part
            values = sample_scores(rule.apply(scores), truth, beta)
            row[f"{split_name} {name}"] = values["f"]
            row[f"{split_name} P"] = values["precision"]
            row[f"{split_name} R"] = values["recall"]
        rows.append(row)
    return rows


def save_curve_plot(path: Path, val_curve: np.ndarray, test_curve: np.ndarray | None,
                    best: float, chosen_val: float, strategy: str, beta: float) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from artkit.reports.plots import save_figure

    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.plot(LABEL_THRESHOLD_GRID, val_curve, label="validation", color="tab:blue")
    if test_curve is not None:
        axes.plot(LABEL_THRESHOLD_GRID, test_curve, label="test", color="tab:orange",
                  linestyle="--")
    axes.axvline(0.5, color="grey", linestyle=":", label="0.5")
    axes.axvline(best, color="tab:green", linestyle=":", label=f"best global {best:.2f}")
    if strategy != "global":
        axes.axhline(chosen_val, color="tab:red", linewidth=0.8,
                     label=f"{strategy} thresholds (validation)")
    axes.set_xlabel("one threshold for every label")
    axes.set_ylabel(f"F{beta:g} averaged over images")
    axes.set_xlim(0, 1)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize=8)
    axes.set_title(f"F{beta:g} against the global threshold")
    return save_figure(figure, path)


# -- the call -----------------------------------------------------------------------------
def tune_thresholds(target: str | Path | Run | Model, *, data: str | Path | None = None,
                    format: str | None = None, strategy: Strategy = DEFAULT_STRATEGY,
                    metric: Metric = DEFAULT_METRIC, min_labels: int = DEFAULT_MIN_LABELS,
                    max_labels: int | None = None, shrinkage: float = DEFAULT_SHRINKAGE,
                    output: str | Path | None = None,
                    progress: bool | ProgressCallback | None = None) -> ThresholdReport:
    """Choose multi-label thresholds on the validation split that maximise F2 per image,
    and store them in the run (or the ONNX file) for evaluate and predict.

    `target`: a :class:`Run`, a run folder or ``MODEL/N``, a loaded :class:`Model` or a
    path to an ``.onnx`` file. `output` (ONNX only): write the tuned model there instead
    of updating the file in place."""
    if min_labels < 0:
        raise ArtkitError("--min-labels must be 0 or more")
    if max_labels is not None and max_labels < max(1, min_labels):
        raise ArtkitError("--max-labels must be at least 1 and at least --min-labels")
    if shrinkage < 0:
        raise ArtkitError("--shrinkage must be 0 or more")
    if metric not in BETAS:
        raise ArtkitError(f"unknown metric '{metric}'", hint="use f2 or f1")
    beta = BETAS[metric]
    data = Path(data) if data is not None else None
    with reporting(progress):
        if isinstance(target, Model) or str(target).lower().endswith(".onnx"):
            model = target if isinstance(target, Model) else Model(target)
            scored = score_onnx(model, data, format)
            destination = Path(output) if output is not None else model.path
            report_dir = destination.parent / f"{destination.stem}-thresholds"
            run = None
        else:
            if output is not None:
                raise ArtkitError("--output applies to ONNX files; a run keeps its thresholds "
                                  "in its config.json")
            run = target if isinstance(target, Run) else resolve_run(target)
            scored = score_run(run, data, format)
            destination, report_dir = run.path("config.json"), run.path("thresholds")
        val_scores, val_truth = scored.val
        try:
            tuning = tune(val_scores, val_truth, scored.labels, strategy, beta=beta,
                          min_labels=min_labels, max_labels=max_labels, shrinkage=shrinkage)
            test_curve = None if scored.test is None else ThresholdSearch(
                *scored.test, beta=beta, min_labels=min_labels,
                max_labels=max_labels).global_curve()
        except ValueError as exc:
            raise ArtkitError(f"cannot tune on these scores: {exc}", scored.source) from None
        rule = tuning.rule(min_labels, max_labels)
        candidates = [("0.5", DecisionRule(0.5, min_labels, max_labels)),
                      (f"best global {tuning.global_threshold:.2f}",
                       DecisionRule(tuning.global_threshold, min_labels, max_labels))]
        if tuning.strategy != "global":
            candidates.append((tuning.strategy, rule))
        rows = comparison_rows(scored, candidates, beta)
        if run is not None:
            run.update_config(decision=rule)
        else:
            model.card.replace(decision=rule).write(model.path, destination)
        plot = save_curve_plot(report_dir / "f_vs_threshold.png", tuning.curve, test_curve,
                               tuning.global_threshold, rows[-1][f"val F{beta:g}"],
                               tuning.strategy, beta)
        n_test = 0 if scored.test is None else len(scored.test[1])
        report = atomic.write_json(report_dir / "thresholds.json", {
            "source": scored.source, "metric": metric, "beta": beta,
            "strategy_asked": strategy, "strategy": tuning.strategy, "shrinkage": shrinkage,
            "decision": rule.to_json(), "labels": scored.labels,
            "n_images": {"val": len(val_truth), "test": n_test}, "table": rows,
            "groups": tuning.group_thresholds, "no_positive_labels": tuning.no_positive,
            "notes": tuning.notes,
            "curve": {"thresholds": [round(float(t), 2) for t in LABEL_THRESHOLD_GRID],
                      "val": tuning.curve, "test": test_curve},
            "plot": str(plot)})
    return ThresholdReport(rule, tuning, rows, destination, report, plot, len(val_truth),
                           n_test, list(tuning.notes))
