"""`artkit tune-thresholds RUN|MODEL.onnx`: multi-label thresholds that maximise F2.

Scores the validation split (never the test split) with the run's model or the ONNX file,
chooses thresholds with :mod:`artkit.thresholds`, and stores them where evaluation and
predict read them: the run's config, or the ONNX file's artkit metadata. The test split is
scored only to report how the choice generalises.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import typer

from artkit.cli.common import FormatOption, QuietOption, apply_quiet, print_table
from artkit.console import console, info, make_progress, warn
from artkit.errors import ArtkitError
from artkit.plots import save_figure
from artkit.thresholds import DEFAULT_SHRINKAGE

BETAS = {"f1": 1.0, "f2": 2.0}
TuneDataOption = Annotated[Path | None, typer.Option(
    "--data", help="Data set to tune on (its validation split is used). Default for a run: "
    "its own data set and saved split; for an ONNX file: those of the run it was exported "
    "from, when that run folder is still here.")]


@dataclass
class Scored:
    """Scores and truth of the validation split, and of the test split where known."""

    labels: list[str]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray] | None
    source: str


# -- scoring ------------------------------------------------------------------------------
def _dataset_and_split(data: Path | str, format: str | None, labels: list[str],
                       saved_split: dict | None):
    """The data set in the model's label order and its (validation, test) indices: the
    run's saved split, else artkit's deterministic split of the data set."""
    from artkit.data.dataset import load_dataset
    from artkit.data.splits import Split, make_split
    from artkit.errors import DataError
    from artkit.evaluation import align_to_run

    dataset = load_dataset(data, format)
    if dataset.task != "multilabel":
        raise DataError(f"tune-thresholds needs multi-label data; this is {dataset.task}", data)
    dataset, _ = align_to_run(dataset, labels)
    if saved_split is not None:
        split = Split.from_json(saved_split, dataset)
    else:
        split = make_split(dataset)
    if len(split.val) == 0:
        raise DataError("the validation split is empty: nothing to tune on", data)
    return dataset, split


def score_run(run: Any, data: Path | None, format: str | None) -> Scored:
    from artkit import plugins

    config = run.config
    if config.get("task") != "multilabel":
        raise ArtkitError(f"tune-thresholds needs a multi-label run; this run is "
                          f"{config.get('task')}", run.dir)
    dataset, split = _dataset_and_split(data or config["data"],
                                        format or (None if data else config.get("format")),
                                        config["labels"], run.read_json("split.json"))
    predictor = plugins.get("model", config["model"]).load(run)

    def part(indices: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
        info(f"scoring the {name} split ({len(indices)} images)")
        scores = np.asarray(predictor.predict_paths([dataset.paths[i] for i in indices]))
        return scores, dataset.targets[indices]

    test = part(split.test, "test") if len(split.test) else None
    return Scored(config["labels"], part(split.val, "validation"), test, str(run.dir))


def _onnx_scores(session: Any, meta: dict, paths: list[Path], name: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Scores of `paths` and the positions that loaded (bad images are skipped, reported)."""
    from artkit.runtime.scoring import score_batches

    rows, kept, failed = [], [], []
    with make_progress() as progress:
        task = progress.add_task(f"scoring the {name} split", total=len(paths))
        for scored in score_batches(session, meta, paths):
            if len(scored.batch):
                rows.append(scored.outputs["scores"])
                kept += scored.batch.indices
            failed += scored.failures
            progress.advance(task, len(scored.batch.span))
    for failure in failed:
        warn(f"{failure.path}: skipped ({failure.reason})")
    if not rows:
        raise ArtkitError(f"no image of the {name} split could be scored")
    return np.concatenate(rows), np.asarray(kept, dtype=np.int64)


def _source_run(meta: dict) -> Any:
    """The run folder an exported model names (``<model>-<run>``), if it is still here."""
    from artkit.runs import Run, runs_root

    name, model = str(meta.get("run", "")), str(meta.get("model", ""))
    if not name.startswith(model + "-"):
        return None
    run = Run(runs_root() / model / name[len(model) + 1:])
    found = run.path("config.json").exists() and run.path("split.json").exists()
    return run if found else None


def score_onnx(path: Path, data: Path | None, format: str | None) -> tuple[Scored, dict]:
    from artkit.runs import runs_root
    from artkit.runtime.metadata import metadata_from_session
    from artkit.runtime.session import create_session

    session = create_session(path)
    meta = metadata_from_session(session, path)
    if meta["task"] != "multilabel":
        raise ArtkitError(f"not a multi-label model (its metadata says task "
                          f"'{meta['task']}'): thresholds apply to multi-label models", path)
    run = _source_run(meta)
    if data is None and run is None:
        raise ArtkitError(f"the run this model came from ({meta.get('run', 'not named')}) is "
                          f"not under {runs_root()}, so its data set and split are unknown",
                          path, hint="give the data set with --data")
    same_data = run is not None and (data is None or Path(data).expanduser().resolve() ==
                                     Path(run.config["data"]).resolve())
    if same_data:  # the run's own split: its validation images were never trained on
        config = run.config
        dataset, split = _dataset_and_split(config["data"], format or config.get("format"),
                                            meta["labels"], run.read_json("split.json"))
    else:
        info(f"tuning on the validation part of artkit's default split of {data}")
        dataset, split = _dataset_and_split(data, format, meta["labels"], None)

    def part(indices: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
        scores, kept = _onnx_scores(session, meta, [dataset.paths[i] for i in indices], name)
        return scores, dataset.targets[indices[kept]]

    test = part(split.test, "test") if len(split.test) else None
    return Scored(list(meta["labels"]), part(split.val, "validation"), test, str(path)), meta


# -- reporting ----------------------------------------------------------------------------
def comparison_rows(scored: Scored, candidates: list[tuple[str, Any]], beta: float,
                    min_labels: int, max_labels: int | None) -> list[dict[str, Any]]:
    """One row per candidate decision rule: F, precision, recall on validation and test."""
    from artkit.decision import decide
    from artkit.thresholds import sample_scores

    name = f"F{beta:g}"
    rows = []
    for label, thresholds in candidates:
        row: dict[str, Any] = {"thresholds": label}
        for split_name, part in (("val", scored.val), ("test", scored.test)):
            if part is None:
                continue
            scores, truth = part
            values = sample_scores(decide(scores, thresholds, min_labels, max_labels), truth,
                                   beta)
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

    from artkit.thresholds import GRID

    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.plot(GRID, val_curve, label="validation", color="tab:blue")
    if test_curve is not None:
        axes.plot(GRID, test_curve, label="test", color="tab:orange", linestyle="--")
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


# -- the command --------------------------------------------------------------------------
def tune_thresholds_command(
    target: Annotated[str, typer.Argument(
        help="A multi-label run (folder or MODEL/N) or an exported MODEL.onnx.")],
    data: TuneDataOption = None,
    format: FormatOption = None,
    strategy: Annotated[Literal["global", "group", "label"], typer.Option(
        "--strategy", help="One threshold for all labels, one per 'prefix::' group, or one "
        "per label (shrunk towards its group's).")] = "group",
    metric: Annotated[Literal["f2", "f1"], typer.Option(
        "--metric", help="The F-score, averaged over images, to maximise.")] = "f2",
    min_labels: Annotated[int, typer.Option(
        "--min-labels", help="Every image gets at least its N best-scoring labels.")] = 1,
    max_labels: Annotated[int | None, typer.Option(
        "--max-labels", help="At most N labels per image (its best-scoring ones).")] = None,
    shrinkage: Annotated[float, typer.Option(
        "--shrinkage", help="Per-label strategy: a label with n positive validation images "
        "moves n/(n+S) of the way from its group's threshold to its own best.")
    ] = DEFAULT_SHRINKAGE,
    output: Annotated[Path | None, typer.Option(
        "--output", help="ONNX only: write the tuned model here (default: update the file "
        "in place).")] = None,
    quiet: QuietOption = False,
) -> None:
    """Choose multi-label thresholds on the validation split that maximise F2 per image,
    and store them in the run (or the ONNX file) for evaluate and predict."""
    from artkit import io as aio
    from artkit.thresholds import ThresholdSearch, tune

    apply_quiet(quiet)
    if min_labels < 0:
        raise ArtkitError("--min-labels must be 0 or more")
    if max_labels is not None and max_labels < max(1, min_labels):
        raise ArtkitError("--max-labels must be at least 1 and at least --min-labels")
    if shrinkage < 0:
        raise ArtkitError("--shrinkage must be 0 or more")
    beta = BETAS[metric]
    is_onnx = target.lower().endswith(".onnx")
    if is_onnx:
        model_path = Path(target)
        scored, meta = score_onnx(model_path, data, format)
        destination = output or model_path
        report_dir = destination.parent / f"{destination.stem}-thresholds"
    else:
        from artkit.runs import resolve_run

        if output is not None:
            raise ArtkitError("--output applies to ONNX files; a run keeps its thresholds "
                              "in its config.json")
        run = resolve_run(target)
        scored = score_run(run, data, format)
        report_dir = run.path("thresholds")

    val_scores, val_truth = scored.val
    try:
        tuning = tune(val_scores, val_truth, scored.labels, strategy, beta=beta,
                      min_labels=min_labels, max_labels=max_labels, shrinkage=shrinkage)
        test_curve = None if scored.test is None else ThresholdSearch(
            *scored.test, beta=beta, min_labels=min_labels,
            max_labels=max_labels).global_curve()
    except ValueError as exc:
        raise ArtkitError(f"cannot tune on these scores: {exc}", scored.source) from None
    stored = tuning.stored()
    candidates = [("0.5", 0.5), (f"best global {tuning.global_threshold:.2f}",
                                 tuning.global_threshold)]
    if tuning.strategy != "global":
        candidates.append((tuning.strategy, stored))
    rows = comparison_rows(scored, candidates, beta, min_labels, max_labels)

    bounds = f"min {min_labels}, max {max_labels if max_labels is not None else '-'} labels"
    print_table(f"F{beta:g} per image, precision, recall ({bounds}; tuned on "
                f"{len(val_truth)} validation images)", rows)
    if tuning.group_thresholds:
        print_table("group thresholds", [{"group": g, "threshold": t}
                                         for g, t in tuning.group_thresholds.items()])
    for note in tuning.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    if tuning.no_positive:
        shown = ", ".join(tuning.no_positive[:10])
        more = f" and {len(tuning.no_positive) - 10} more" if len(tuning.no_positive) > 10 \
            else ""
        console.print(f"[dim]labels without positive validation images: {shown}{more}[/dim]")

    # The bounds go inside the thresholds too: the evaluator reads them from there, predict
    # and export from the top-level keys.
    bounds_kw = {"min_labels": min_labels, "max_labels": max_labels}
    decision = {"thresholds": {**stored, **bounds_kw}, **bounds_kw}
    if is_onnx:
        _write_onnx(model_path, destination, decision)
        console.print(f"thresholds written into {destination}")
    else:
        run.update_config(**decision)
        console.print(f"thresholds written into {run.path('config.json')} "
                      f"(`artkit evaluate {run.dir}` uses them)")
    plot = save_curve_plot(report_dir / "f_vs_threshold.png", tuning.curve, test_curve,
                           tuning.global_threshold, rows[-1][f"val F{beta:g}"],
                           tuning.strategy, beta)
    report = {"source": scored.source, "metric": metric, "beta": beta,
              "strategy_asked": strategy, "strategy": tuning.strategy,
              "shrinkage": shrinkage, **decision, "labels": scored.labels,
              "n_images": {"val": len(val_truth),
                           "test": 0 if scored.test is None else len(scored.test[1])},
              "table": rows, "groups": tuning.group_thresholds,
              "no_positive_labels": tuning.no_positive, "notes": tuning.notes,
              "curve": {"thresholds": [round(float(t), 2) for t in
                                       np.arange(1, 100) / 100],
                        "val": tuning.curve, "test": test_curve},
              "plot": str(plot)}
    json_path = aio.write_json(report_dir / "thresholds.json", report)
    console.print(f"[dim]saved {json_path} and {plot}[/dim]")


def _write_onnx(source: Path, destination: Path, decision: dict[str, Any]) -> None:
    """Store the decision rule in the artkit metadata, atomically, in place or in a copy."""
    from artkit.runtime.metadata import write_metadata

    if destination.resolve() == source.resolve():
        write_metadata(source, decision)
        return
    import onnx

    from artkit.io import write_bytes

    model = onnx.load(str(source), load_external_data=False)
    write_metadata(model, decision)
    write_bytes(destination, model.SerializeToString())


def register(app: typer.Typer) -> None:
    app.command("tune-thresholds")(tune_thresholds_command)
