"""`bow-svm`: bag of visual words + RBF SVM, the seed paper's classic baseline.

Local descriptors (``--features``, default SIFT) -> k-means vocabulary (``--vocab``) ->
per-image word histograms (L1 or TF-IDF, optionally a spatial pyramid) -> standardised ->
one-vs-rest RBF SVMs with C and gamma chosen by stratified CV on the training split ->
sigmoid-calibrated class probabilities. The predicted class is always the argmax of those
probabilities (see `artkit_plugins.lib.bow.svm`).

``--vocab 500,1000,2500`` fits one vocabulary and one SVM per size in a single run (the
descriptors are extracted once) and reports them as one table, saved as
``vocab_comparison.json``; the run keeps the size with the best *validation* accuracy (ties:
the better validation macro F1, then the smaller vocabulary). Test accuracy per size is shown
for the report only and never used to choose.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from artkit.console import info
from artkit.contracts import OnnxGraph, OptionSpec, TrainContext
from artkit.errors import ArtkitError
from artkit.hookspecs import hookimpl
from artkit.training.runs import Run

# Besides the model file (svm.skops, or an artkit 0.1 svm.joblib: see bow/model_file.py).
ARTEFACTS = ("bow.json", "vocabulary.npy")


def parse_vocab_sizes(text: str) -> list[int]:
    """``"500,1000,2500"`` -> [500, 1000, 2500] (sorted, unique, each at least 2)."""
    try:
        sizes = sorted({int(s) for s in str(text).split(",") if s.strip()})
    except ValueError:
        raise ArtkitError(f"--vocab takes whole numbers separated by commas, got '{text}'",
                          ) from None
    if not sizes or sizes[0] < 2:
        raise ArtkitError(f"--vocab sizes must be at least 2 words, got '{text}'")
    return sizes


def _workers(value: int) -> int:
    from artkit_plugins.lib.bow.descriptors import default_workers

    return value if value > 0 else default_workers()


class BowPredictor:
    """A trained bow-svm run, ready to score images or the descriptors of one image."""

    def __init__(self, run: Run):
        from artkit import registry
        from artkit_plugins.lib.bow.encoding import Normaliser
        from artkit_plugins.lib.bow.model_file import load_model

        missing = [name for name in ARTEFACTS if not run.path(name).exists()]
        if missing:
            raise ArtkitError(f"not a finished bow-svm run (missing {', '.join(missing)})",
                              run.dir)
        self.settings = run.read_json("bow.json")
        self.labels: list[str] = list(run.config.labels)
        self.extractor = registry.get(registry.Kind.FEATURE_EXTRACTOR, self.settings["features"])
        self.extractor_options: dict[str, Any] = self.settings["feature_options"]
        self.centres = np.load(run.path("vocabulary.npy"))
        self.pyramid = bool(self.settings["spatial_pyramid"])
        idf = np.load(run.path("idf.npy")) if run.path("idf.npy").exists() else None
        self.normaliser = Normaliser(self.settings["encoding"], idf)
        self.model = load_model(run.dir)
        self.workers = 0

    def features(self, xy: np.ndarray, descriptors: np.ndarray) -> np.ndarray:
        """The normalised encoding (1, D) of one image's descriptors."""
        from artkit_plugins.lib.bow.encoding import assign_words, histogram

        words = assign_words(descriptors, self.centres)
        counts = histogram(words, xy, len(self.centres), self.pyramid)
        return self.normaliser.transform(counts[None, :])

    def scores_from_columns(self, columns: np.ndarray) -> np.ndarray:
        """Scores (1, n_labels) from the ONNX input layout: descriptors, plus normalised x, y
        as the last two columns when the spatial pyramid is on."""
        from artkit_plugins.lib.bow.svm import class_scores

        columns = np.asarray(columns, np.float32)
        if self.pyramid:
            xy, descriptors = columns[:, -2:], columns[:, :-2]
        else:
            xy, descriptors = np.zeros((len(columns), 2), np.float32), columns
        return class_scores(self.model, self.features(xy, descriptors))

    def predict_paths(self, paths: Sequence[Path]) -> np.ndarray:
        from artkit.console import track, warn
        from artkit_plugins.lib.bow.descriptors import extract_descriptors
        from artkit_plugins.lib.bow.svm import class_scores

        found = extract_descriptors(list(paths), self.extractor, self.extractor_options,
                                    workers=self.workers)
        if found.errors:
            warn(f"{len(found.errors)} unreadable image(s) scored as blank images")
        encoded = np.zeros((len(paths), self.model.n_features_in_), np.float32)
        for i in track(range(len(paths)), "encoding images"):
            encoded[i] = self.features(*found.load(i))[0]
        return class_scores(self.model, encoded)


class BowSvm:
    name = "bow-svm"
    description = ("Bag of visual words (SIFT + k-means vocabulary) + RBF SVM, one-vs-rest, "
                   "grid-searched and calibrated.")
    tasks = ("multiclass",)
    options = (
        OptionSpec("features", str, "sift",
                   "Feature-extractor plugin: sift, dense-sift, orb (see `artkit plugins`)."),
        OptionSpec("feature_options", str, "",
                   "Extractor options as key=value,... e.g. 'step=6,scales=8,16,24'."),
        OptionSpec("vocab", str, "1000",
                   "Vocabulary size, or several ('500,1000,2500') to compare in one run; "
                   "the best on validation is kept."),
        OptionSpec("encoding", str, "l1", "Histogram normalisation.", choices=("l1", "tfidf")),
        OptionSpec("spatial_pyramid", bool, False,
                   "Concatenate histograms of 1x1, 2x2 and 4x4 cells (21x longer vectors)."),
        OptionSpec("grid_c", str, "0.1,1,10", "SVM C values to cross-validate."),
        OptionSpec("grid_gamma", str, "scale,auto",
                   "RBF gamma values to cross-validate (numbers, 'scale', 'auto')."),
        OptionSpec("cv_folds", int, 5, "Stratified CV folds on the training split (reduced "
                   "with a warning when a class has fewer images)."),
        OptionSpec("class_weight", str, "none", "'balanced' reweights rare classes.",
                   choices=("none", "balanced")),
        OptionSpec("kmeans_sample", int, 100_000,
                   "Training descriptors sampled for k-means (bounds memory and time)."),
        OptionSpec("workers", int, 0, "Parallel workers for extraction and SVM (0: all cores)."),
    )

    # -- training -------------------------------------------------------------------------
    def train(self, ctx: TrainContext) -> None:
        from artkit import registry
        from artkit_plugins.lib.bow.descriptors import extract_descriptors, resolve_options
        from artkit_plugins.lib.bow.svm import parse_grid

        opts = ctx.options
        sizes = parse_vocab_sizes(opts["vocab"])
        grid_c = parse_grid(opts["grid_c"], "grid-c")
        grid_gamma = parse_grid(opts["grid_gamma"], "grid-gamma", ("scale", "auto"))
        if opts["cv_folds"] < 2:
            raise ArtkitError(f"--cv-folds must be at least 2, got {opts['cv_folds']}")
        extractor = registry.get(registry.Kind.FEATURE_EXTRACTOR, opts["features"])
        feature_options = resolve_options(extractor, opts["feature_options"])
        workers = _workers(opts["workers"])
        dataset = ctx.dataset

        everything = np.concatenate([ctx.train_idx, ctx.val_idx, ctx.test_idx])
        found = extract_descriptors([dataset.paths[i] for i in everything], extractor,
                                    feature_options, workers=workers)
        position = {int(image): row for row, image in enumerate(everything)}
        train = np.array([i for i in ctx.train_idx if position[int(i)] not in found.errors],
                         np.int64)
        if len(train) < len(ctx.train_idx):
            info(f"{len(ctx.train_idx) - len(train)} unreadable training images left out")
        comparison, chosen = self._compare(ctx, found, position, train, sizes, grid_c,
                                           grid_gamma, workers)
        self._save(ctx.run, chosen, extractor.name, feature_options, comparison, found.dim)

    def _compare(self, ctx: TrainContext, found: Any, position: dict[int, int],
                 train: np.ndarray, sizes: list[int], grid_c: list[float],
                 grid_gamma: list[Any], workers: int) -> tuple[list[dict[str, Any]], dict]:
        """Fit one vocabulary + SVM per size; return the comparison rows and the chosen fit."""
        from sklearn.metrics import accuracy_score, f1_score

        from artkit_plugins.lib.bow.encoding import Normaliser, encode_images
        from artkit_plugins.lib.bow.svm import class_scores, fit_svm
        from artkit_plugins.lib.bow.vocabulary import (
            check_vocabulary_size,
            fit_vocabulary,
            sample_descriptors,
        )

        opts, targets, labels = ctx.options, ctx.dataset.targets, ctx.dataset.labels
        rows_of = {name: [position[int(i)] for i in idx]
                   for name, idx in (("train", train), ("val", ctx.val_idx),
                                     ("test", ctx.test_idx))}
        check_vocabulary_size(sizes, int(found.counts[rows_of["train"]].sum()), len(train))
        sample_size = max(opts["kmeans_sample"], 20 * max(sizes))
        sample = sample_descriptors(found, rows_of["train"], sample_size, ctx.seed)
        check_vocabulary_size(sizes, len(sample), len(train))
        vocabularies, kmeans_seconds = {}, {}
        for size in sizes:
            info(f"fitting a {size}-word vocabulary on {len(sample):,} descriptors")
            vocabularies[size], kmeans_seconds[size] = fit_vocabulary(sample, size, ctx.seed)
        del sample
        encoded = {name: encode_images(found, rows, vocabularies, opts["spatial_pyramid"],
                                       f"encoding {name} images")
                   for name, rows in rows_of.items()}
        class_weight = None if opts["class_weight"] == "none" else opts["class_weight"]
        comparison, fits = [], {}
        for size in sizes:
            normaliser = Normaliser(opts["encoding"]).fit(encoded["train"][size])
            x = {name: normaliser.transform(encoded[name][size]) for name in encoded}
            info(f"vocab {size}: grid search of the SVM ({len(grid_c) * len(grid_gamma)} "
                 "settings)")
            model, report = fit_svm(x["train"], targets[train], labels, grid_c, grid_gamma,
                                    opts["cv_folds"], class_weight, ctx.seed, workers)
            row: dict[str, Any] = {"vocab": size, "cv_accuracy": report["cv_accuracy"],
                                   "C": report["C"], "gamma": report["gamma"]}
            for name, idx in (("val", ctx.val_idx), ("test", ctx.test_idx)):
                if len(idx):
                    predicted = class_scores(model, x[name]).argmax(axis=1)
                    row[f"{name}_accuracy"] = float(accuracy_score(targets[idx], predicted))
                    row[f"{name}_macro_f1"] = float(f1_score(
                        targets[idx], predicted, average="macro",
                        labels=np.arange(len(labels)), zero_division=0))
            row.update(kmeans_s=kmeans_seconds[size], svm_s=report["grid_seconds"]
                       + report["final_fit_seconds"], folds=report["folds"])
            comparison.append(row)
            fits[size] = {"vocabulary": vocabularies[size], "normaliser": normaliser,
                          "model": model, "svm_report": report}
            ctx.run.append_history(row)
        key = ("val_accuracy", "val_macro_f1") if len(ctx.val_idx) else ("cv_accuracy",)
        best = max(comparison, key=lambda r: (*(r[k] for k in key), -r["vocab"]))
        for row in comparison:
            row["chosen"] = row is best
        chosen = fits[best["vocab"]] | {"size": best["vocab"], "chosen_by": key[0],
                                        "spatial_pyramid": opts["spatial_pyramid"]}
        return comparison, chosen

    def _save(self, run: Run, chosen: dict, features: str, feature_options: dict[str, Any],
              comparison: list[dict[str, Any]], dim: int) -> None:
        from artkit import atomic
        from artkit.console import table
        from artkit_plugins.lib.bow.model_file import MODEL_FILE, save_model

        with atomic.atomic_path(run.path("vocabulary.npy")) as tmp:
            np.save(tmp, chosen["vocabulary"])
        if chosen["normaliser"].idf is not None:
            with atomic.atomic_path(run.path("idf.npy")) as tmp:
                np.save(tmp, chosen["normaliser"].idf)
        save_model(chosen["model"], run.path(MODEL_FILE))
        run.write_json("vocab_comparison.json", {
            "chosen_vocab": chosen["size"], "chosen_by": chosen["chosen_by"],
            "note": "test columns are for the report only; the choice uses validation "
                    "(or CV accuracy when there is no validation split)",
            "rows": comparison})
        run.write_json("bow.json", {
            "features": features, "feature_options": feature_options, "descriptor_dim": dim,
            "vocab": chosen["size"], "encoding": chosen["normaliser"].mode,
            "spatial_pyramid": chosen["spatial_pyramid"],
            "decision_rule": "argmax of the calibrated one-vs-rest probabilities",
            "svm": chosen["svm_report"]})
        shown = {"C": "C", "gamma": "gamma", "cv_accuracy": "cv acc", "val_accuracy": "val acc",
                 "val_macro_f1": "val F1", "test_accuracy": "test acc"}
        table(f"vocabulary comparison: * = kept (best {chosen['chosen_by']}); test acc "
                    "is for the report only",
                    [{"vocab": f"{row['vocab']}{' *' if row['chosen'] else ''}"}
                     | {label: row[key] for key, label in shown.items() if key in row}
                     | {"fit s": round(row["kmeans_s"] + row["svm_s"], 1)}
                     for row in comparison])

    # -- loading and export ---------------------------------------------------------------
    def load(self, run: Run) -> BowPredictor:
        return BowPredictor(run)

    def export_onnx(self, run: Run, opset: int) -> OnnxGraph:
        """Word assignment, histogram, normalisation, scaler and calibrated SVM as one graph
        over ONE image's descriptors; with the spatial pyramid, two extra input columns hold
        each descriptor's x / width and y / height."""
        from artkit_plugins.lib.bow.onnx_graph import build_graph

        predictor = BowPredictor(run)
        model = build_graph(predictor, opset)
        preprocessing = {
            "extractor": predictor.settings["features"],
            "extractor_options": predictor.extractor_options,
            "descriptor_dim": predictor.settings["descriptor_dim"],
            "position_columns": predictor.pyramid,
            "position_note": ("the input has two extra last columns, x / width and "
                              "y / height of each keypoint in [0, 1)") if predictor.pyramid
            else "descriptors only",
        }
        return OnnxGraph(model=model, input_kind="descriptors", preprocessing=preprocessing,
                         reference=lambda batch: {"scores": predictor.scores_from_columns(batch)},
                         quantizable=False)


@hookimpl
def register_models(register) -> None:
    register(BowSvm())
