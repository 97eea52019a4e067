"""The report of a run folder: metrics, curves, confusion matrices, per-class tables,
thresholds, the worst mistakes of the test split, the data and the config.

The mistakes come from ``eval/predictions.npz``, the per-image scores the evaluation saves
(:func:`artkit.training.evaluation.save_predictions`), so the page is made without loading the
model. A run evaluated before artkit saved that file is scored again with its model plugin.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from artkit import registry
from artkit.console import info
from artkit.decisions.grids import LABEL_THRESHOLD_GRID
from artkit.decisions.rule import DecisionRule, decide
from artkit.errors import ArtkitError
from artkit.metrics.fbeta import fbeta_from_counts, sample_scores
from artkit.reports.charts import Chart, line_chart
from artkit.reports.page import Gallery, Table, clean, relative_link, render
from artkit.reports.thumbs import ThumbnailMode, Thumbnails, embed_file
from artkit.training.evaluation import PREDICTIONS_FILE, load_predictions, run_dataset
from artkit.training.runs import Run

MAX_MISTAKES = 1000
"""The gallery shows at most this many mistakes (the worst ones)."""
CONFUSION_MAX_CLASSES = 60
"""Larger confusion matrices are left to the evaluator's PNGs."""
SHOWN_LABELS = 30
"""The config shown on the page lists at most this many labels."""
TILE_LABELS = 6
"""A mistake's tile names at most this many labels of each kind (wrong, missed, right)."""


@dataclass
class Scored:
    """Per-image scores of the test split."""

    paths: list[str]
    targets: np.ndarray
    scores: np.ndarray
    source: str


def intervals(stored: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Confidence intervals an evaluator gave: ``"intervals": {name: [low, high]}`` in
    metrics.json, or metrics named ``<name>_low`` and ``<name>_high``."""
    found: dict[str, tuple[float, float]] = {}
    for name, bounds in (stored.get("intervals") or {}).items():
        if isinstance(bounds, dict):
            bounds = [bounds.get("low"), bounds.get("high")]
        if isinstance(bounds, list | tuple) and len(bounds) == 2:
            found[name] = (float(bounds[0]), float(bounds[1]))
    metrics = stored.get("metrics", {})
    for name in metrics:
        if f"{name}_low" in metrics and f"{name}_high" in metrics:
            found.setdefault(name, (float(metrics[f"{name}_low"]),
                                    float(metrics[f"{name}_high"])))
    return found


def test_predictions(run: Run) -> Scored | None:
    """The saved per-image test scores, else the model's scores of the test split (runs
    evaluated before the scores were saved); None when neither can be had."""
    config = run.config
    saved = run.path("eval", PREDICTIONS_FILE)
    if saved.exists():
        stored = load_predictions(saved)
        if [str(x) for x in stored["labels"]] != list(config.labels):
            raise ArtkitError("its labels are not the run's (evaluated by another run?)",
                              saved)
        return Scored([str(p) for p in stored["paths"]], stored["targets"],
                      stored["scores"].astype(np.float32), str(saved))
    if run.metrics is None:
        return None
    info(f"no {saved}: scoring the test split with the run's model "
         "(`artkit evaluate` saves the scores for next time)")
    try:
        dataset, split = run_dataset(run)
        subset = dataset.subset(split.test)
        predictor = registry.get(registry.Kind.MODEL, config.model).load(run)
        scores = np.asarray(predictor.predict_paths(subset.paths), dtype=np.float32)
    except ArtkitError as exc:
        info(f"the mistakes cannot be shown: {exc}")
        return None
    return Scored([str(p) for p in subset.paths], subset.targets, scores,
                  f"the {config.model} model, scored now")


def history_charts(history: list[dict[str, str]]) -> tuple[list[Chart], str]:
    """One chart per metric of ``history.csv`` (training solid, validation dashed), over
    epochs, or over the first column (bow-svm: the vocabulary sizes it compared)."""
    if len(history) < 2:
        return [], ""
    columns = list(history[0])
    x_name = "epoch" if "epoch" in columns else columns[0]

    def number(text: str | None) -> float:
        try:
            return float(text) if text not in (None, "") else math.nan
        except ValueError:
            return math.nan

    x = [number(row.get(x_name)) for row in history]
    if not all(math.isfinite(v) for v in x):
        return [], ""
    skipped = {x_name, "seconds", "lr", "epoch"}
    charts = []
    for name in columns:
        if name in skipped or name.startswith("val_") or name.endswith("_s"):
            continue
        values = [number(row.get(name)) for row in history]
        finite = {v for v in values if math.isfinite(v)}
        if len(finite) < 2 and f"val_{name}" not in columns:
            continue  # nothing to draw, or a setting that never changed (bow-svm's folds)
        series = [("train" if f"val_{name}" in columns else name, values, "s0")]
        if f"val_{name}" in columns:
            series.append(("validation", [number(r.get(f"val_{name}")) for r in history],
                           "s1 dashed"))
        charts.append(line_chart(name, x, series, xlabel=x_name))
    return charts, x_name


def confusion(scored: Scored, labels: list[str]) -> dict[str, Any] | None:
    """Raw and row-normalised confusion matrices as heat-map cells (value, strength)."""
    n = len(labels)
    if n > CONFUSION_MAX_CLASSES:
        return None
    truth = scored.targets.astype(np.int64)
    predicted = scored.scores.argmax(axis=1)
    raw = np.bincount(truth * n + predicted, minlength=n * n).reshape(n, n)
    rows = raw.sum(axis=1, keepdims=True)
    normalised = np.divide(raw, rows, out=np.zeros(raw.shape), where=rows > 0)
    peak = max(int(raw.max()), 1)
    return {"labels": labels,
            "raw": [[(int(v), round(v / peak, 3)) for v in row] for row in raw],
            "normalised": [[(f"{v:.2f}" if v else "", round(float(v), 3)) for v in row]
                           for row in normalised],
            "n": int(raw.sum())}


def multiclass_mistakes(scored: Scored, labels: list[str]) -> tuple[list[int], list[dict]]:
    """The wrongly classified test images, the most confident error first."""
    predicted = scored.scores.argmax(axis=1)
    wrong = np.flatnonzero(predicted != scored.targets)
    confidence = scored.scores[wrong, predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")]
    items = []
    for i in order:
        truth, guess = int(scored.targets[i]), int(predicted[i])
        items.append({
            "lines": [["truth", f"true: {labels[truth]} ({scored.scores[i, truth]:.2f})"],
                      ["wrong", f"predicted: {labels[guess]} ({scored.scores[i, guess]:.2f})"]],
            "f": {"truth": [labels[truth]], "pred": [labels[guess]]},
            "score": clean(scored.scores[i, guess])})
    return [int(i) for i in order], items


def multilabel_mistakes(scored: Scored, labels: list[str], rule: DecisionRule
                        ) -> tuple[list[int], list[dict]]:
    """Test images whose labels are not exactly right under the run's rule: the lowest F2
    first, then the most confident wrong label first."""
    truth = scored.targets.astype(bool)
    on = rule.apply(scores := scored.scores)
    tp = (on & truth).sum(axis=1)
    f2 = fbeta_from_counts(tp, on.sum(axis=1), truth.sum(axis=1))
    false_positive = np.where(on & ~truth, scores, 0).max(axis=1)
    wrong = np.flatnonzero((on != truth).any(axis=1))
    order = wrong[np.lexsort((-false_positive[wrong], f2[wrong]))]
    items = []
    for i in order:
        def named(mask: np.ndarray, row: int = int(i)) -> str:
            columns = np.flatnonzero(mask)
            columns = columns[np.argsort(-scores[row, columns])]
            text = ", ".join(f"{labels[j]} ({scores[row, j]:.2f})"
                             for j in columns[:TILE_LABELS])
            more = len(columns) - TILE_LABELS
            return text + (f" and {more} more" if more > 0 else "")

        lines = [["score", f"F2 {f2[i]:.2f}"]]
        for css, title, mask in (("wrong", "wrong", on[i] & ~truth[i]),
                                 ("missed", "missed", truth[i] & ~on[i]),
                                 ("truth", "right", on[i] & truth[i])):
            if mask.any():
                lines.append([css, f"{title}: {named(mask)}"])
        items.append({"lines": lines,
                      "f": {"truth": [labels[j] for j in np.flatnonzero(truth[i])],
                            "pred": [labels[j] for j in np.flatnonzero(on[i])]},
                      "score": clean(f2[i])})
    return [int(i) for i in order], items


def f2_chart(run: Run, scored: Scored, rule: DecisionRule) -> tuple[Chart, float]:
    """Test F2 against one global threshold, the validation curve of ``tune-thresholds``
    when it ran, and the run's rule as a line; returns the chart and the rule's test F2."""
    truth = scored.targets.astype(bool)
    grid = [float(t) for t in LABEL_THRESHOLD_GRID]
    test = [sample_scores(decide(scored.scores, t, min_labels=0), truth)["f"]
            for t in LABEL_THRESHOLD_GRID]
    series: list[tuple[str, list[float], str]] = [("test, one global threshold", test, "s0")]
    tuned = run.path("thresholds", "thresholds.json")
    if tuned.exists():
        curve = json.loads(tuned.read_text(encoding="utf-8")).get("curve", {})
        if curve.get("val") and len(curve.get("thresholds", [])) == len(curve["val"]):
            lookup = dict(zip(curve["thresholds"], curve["val"], strict=True))
            series.append(("validation (tune-thresholds)",
                           [lookup.get(round(t, 2), math.nan) for t in grid], "s1 dashed"))
    rule_f2 = sample_scores(rule.apply(scored.scores), truth)["f"]
    chosen = rule.global_threshold if rule.global_threshold is not None else (
        rule.thresholds if isinstance(rule.thresholds, float | int) else None)
    vlines = [(float(chosen), "marker", f"chosen {float(chosen):.2f}")] if chosen is not None \
        else []
    return line_chart("F2 against the threshold (test split)", grid, series,
                      xlabel="threshold", ylabel="F2 per sample", y_range=(0.0, 1.0),
                      vlines=vlines,
                      hlines=[(rule_f2, "s2", f"the run's rule: {rule_f2:.3f}")]), rule_f2


def threshold_tables(run: Run, rule: DecisionRule, scored: Scored | None,
                     labels: list[str]) -> tuple[list[Table], str]:
    config = run.config
    note = "" if config.decision is not None else (
        "Not tuned: the default rule (0.5, at least one label). `artkit tune-thresholds "
        f"{run.dir}` chooses thresholds that maximise F2 on the validation split.")
    summary = {"strategy": rule.strategy or ("global" if isinstance(rule.thresholds, float)
                                             else "per label"),
               "global threshold": rule.global_threshold if rule.global_threshold is not None
               else (rule.thresholds if not isinstance(rule.thresholds, tuple) else None),
               "min labels": rule.min_labels, "max labels": rule.max_labels}
    tables = [Table.from_dicts("The decision rule", [summary])]
    if rule.groups:
        tables.append(Table.from_dicts("Thresholds per group", [
            {"group": name, "threshold": value} for name, value in rule.groups.items()]))
    tuned = run.path("thresholds", "thresholds.json")
    if tuned.exists():
        stored = json.loads(tuned.read_text(encoding="utf-8"))
        if stored.get("table"):
            tables.append(Table.from_dicts("Candidates compared by tune-thresholds",
                                           stored["table"]))
    if isinstance(rule.thresholds, tuple):
        vector = rule.vector(len(labels))
        support = scored.targets.sum(axis=0) if scored is not None else None
        rows = [{"label": name, "threshold": float(vector[j])} |
                ({"test images": int(support[j])} if support is not None else {})
                for j, name in enumerate(labels)]
        tables.append(Table.from_dicts("Threshold of each label", rows, id="label-thresholds"))
    return tables, note


def distribution(run: Run, scored: Scored | None) -> tuple[Table | None, str]:
    """Images per class (or label) in each split."""
    config = run.config
    try:
        dataset, split = run_dataset(run)
    except ArtkitError as exc:
        if scored is None:
            return None, f"The data set cannot be read ({exc})."
        counts = (np.bincount(scored.targets, minlength=len(config.labels))
                  if config.task == "multiclass" else scored.targets.sum(axis=0))
        return Table.from_dicts("Images per class, test split", [
            {"class": name, "test": int(c)} for name, c in zip(config.labels, counts,
                                                              strict=True)]), \
            f"Only the test split is shown: the data set cannot be read ({exc})."
    parts = {}
    for name in ("train", "val", "test"):
        subset = dataset.subset(getattr(split, name))
        parts[name] = subset.counts()
    total = sum(parts.values())
    grand = max(int(total.sum()), 1)
    rows = [{"class": label, "train": int(parts["train"][j]), "val": int(parts["val"][j]),
             "test": int(parts["test"][j]), "total": int(total[j]),
             "share": float(total[j]) / grand} for j, label in enumerate(config.labels)]
    rows.sort(key=lambda r: -r["total"])
    what = "images per class" if config.task == "multiclass" else \
        "images per label (an image counts once for each of its labels)"
    return Table.from_dicts(what[0].upper() + what[1:], rows, id="distribution"), \
        f"{config.data} ({len(dataset)} images, read by the {dataset.reader} reader)"


def shown_config(run: Run) -> str:
    stored = run.config.to_json()
    labels = stored.get("labels", [])
    if len(labels) > SHOWN_LABELS:
        stored["labels"] = labels[:SHOWN_LABELS] + [f"... {len(labels) - SHOWN_LABELS} more"]
    decision = stored.get("decision") or {}
    per_label = (decision.get("thresholds") or {}).get("per_label")
    if per_label and len(per_label) > SHOWN_LABELS:
        decision["thresholds"]["per_label"] = f"[{len(per_label)} thresholds: see the table]"
    return json.dumps(stored, indent=2, default=str)


def saved_plots(run: Run, stored: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The PNGs in the run folder (evaluator plots, curves, threshold plots), embedded."""
    paths: list[Path] = []
    for text in (stored or {}).get("plots", []):
        path = Path(text)
        paths.append(path if path.is_absolute() or path.exists() else run.dir / path)
    paths += sorted(run.dir.glob("*.png")) + sorted(run.path("thresholds").glob("*.png"))
    found, seen = [], set()
    for path in paths:
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        uri = embed_file(path)
        if uri:
            found.append((path.name, uri))
    return found


def run_report(run: Run, output: Path, thumbnails: ThumbnailMode = "auto") -> Path:
    config = run.config
    stored = run.metrics
    labels = list(config.labels)
    notes: list[str] = []
    why = run.unfinished()
    if why:
        notes.append(f"This run did not finish ({why}): only what it wrote so far is shown.")
    metrics = (stored or {}).get("metrics", {})
    bounds = intervals(stored or {})
    headline = [{"name": k, "value": metrics.get(k), "interval": bounds.get(k)}
                for k in (stored or {}).get("headline", []) if k in metrics]
    history = run.history()
    charts, x_name = history_charts(history)
    scored = test_predictions(run)

    rule = config.decision_rule() if config.task == "multilabel" else None
    matrix = confusion(scored, labels) if scored is not None and \
        config.task == "multiclass" else None
    f2 = None
    threshold_section: tuple[list[Table], str] | None = None
    if rule is not None:
        threshold_section = threshold_tables(run, rule, scored, labels)
        if scored is not None:
            f2 = f2_chart(run, scored, rule)[0]

    gallery = None
    if scored is not None:
        order, items = (multiclass_mistakes(scored, labels) if rule is None
                        else multilabel_mistakes(scored, labels, rule))
        total = len(items)
        order, items = order[:MAX_MISTAKES], items[:MAX_MISTAKES]
        thumbs = Thumbnails(output, thumbnails, count=len(items))
        made = thumbs.make([Path(scored.paths[i]) for i in order], "mistakes: thumbnails")
        thumbs.finish()
        for item, i, thumb in zip(items, order, made, strict=True):
            path = Path(scored.paths[i])
            item.update({"name": path.name, "path": str(path), "src": thumb.src,
                         "err": thumb.error, "href": relative_link(path, output)})
        n_test = len(scored.paths)
        what = "misclassified" if rule is None else "with wrong or missing labels"
        note = (f"{total} of {n_test} test images {what}"
                + (f"; the worst {len(items)} are shown" if total > len(items) else "")
                + (", the most confident error first." if rule is None else
                   ", the lowest F2 first (then the most confident wrong label)."))
        gallery = Gallery("mistakes", "The worst mistakes", items, note=note,
                          score={"title": "confidence" if rule is None else "F2 of the image",
                                 "min": 0.0, "max": 1.0},
                          orders=[("given", "worst first"), ("score-asc", "score, low first"),
                                  ("score-desc", "score, high first"), ("name", "file name")])
        gallery.add_filter("truth", "true label")
        gallery.add_filter("pred", "predicted label")

    per_class = stored.get("per_class", []) if stored else []
    table_title = "Per class" if config.task == "multiclass" else "Per label"
    data_table, data_note = distribution(run, scored)
    return render(
        "run.html.j2", output,
        title=f"{config.model} run {run.dir.name}",
        subtitle=f"{config.task}, {len(labels)} labels, data {config.data}",
        target=str(run.dir), kind="run", notes=notes, config=config,
        split=(stored or {}).get("split"), n_images=(stored or {}).get("n_images"),
        headline=headline, metrics=Table.from_dicts("All metrics", [
            {"metric": k, "value": v} | ({"interval": "[{:.4f}, {:.4f}]".format(*bounds[k])}
                                         if k in bounds else {})
            for k, v in metrics.items()], id="metrics"),
        charts=charts, x_name=x_name,
        history=Table.from_dicts("history.csv", history) if history else None,
        confusion=matrix,
        per_class=Table.from_dicts("", per_class, id="per-class") if per_class else None,
        per_class_title=table_title,
        f2_chart=f2, thresholds=threshold_section, gallery=gallery,
        scores_source=scored.source if scored is not None else None,
        distribution=data_table, data_note=data_note, config_json=shown_config(run),
        plots=saved_plots(run, stored))
