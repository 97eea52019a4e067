"""`artkit train linear-probe` and `artkit train knn`: heads on a frozen backbone that fit in
seconds once the embeddings are cached (plugins/lib/heads/).

Both train on the training images only (the validation images choose C, or k and the
weighting, and stay unseen for threshold tuning), save the backbone's weights and the head
in the run, and export one ONNX graph, backbone plus head: the linear probe as a dense
layer, kNN as MatMul against the stored L2-normalised training embeddings, TopK, and the
weighted class (label) votes. ``predict``, ``tune-thresholds`` and ``benchmark`` use them
like any other model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from artkit.console import info
from artkit.contracts import OnnxGraph, OptionSpec, TrainContext
from artkit.errors import ArtkitError
from artkit.hookspecs import hookimpl
from artkit.training.runs import Run
from artkit_plugins.lib.heads import fit
from artkit_plugins.lib.heads.backbones import BACKBONES

BACKBONE_WEIGHTS = "backbone.weights.h5"
HEAD_FILE = "head.npz"

BACKBONE_OPTIONS = [
    OptionSpec("backbone", str, "mobilenet", "Frozen keras.applications backbone whose pooled "
               "features are the embeddings.", choices=tuple(BACKBONES)),
    OptionSpec("weights", str, "imagenet", "Backbone weights: 'imagenet' (Keras download, "
               "needs the internet), the PATH of a no-top weights file, or 'none' (random)."),
    OptionSpec("alpha", float, 1.0, "MobileNet width multiplier (ImageNet weights exist for "
               "0.25, 0.5, 0.75, 1.0)."),
    OptionSpec("input_size", int, 224, "Side of the square backbone input in pixels."),
    OptionSpec("stages", int, 3, "Resolution stages whose pooled features make the "
               "embedding (the last N; 1 = the last block only)."),
    OptionSpec("tta", bool, False, "Test-time augmentation: embed the mean over the image and "
               "its horizontal mirror (also in the exported graph)."),
    OptionSpec("batch_size", int, 32, "Images per embedding batch."),
]


def write_head(run: Run, **arrays: Any) -> None:
    """The head's arrays in the run folder, written atomically like every run file."""
    from artkit import atomic

    with atomic.atomic_path(run.path(HEAD_FILE)) as tmp, tmp.open("wb") as handle:
        np.savez(handle, **arrays)


class BackboneParts:
    """The backbone of a run (or of a training): the Keras network and a cached embedder."""

    def __init__(self, options: dict[str, Any], weights: str, seed: int):
        from artkit_plugins.lib.heads.backbones import build_backbone

        size = int(options["input_size"])
        if size < 32:
            raise ArtkitError(f"--input-size {size} is too small (at least 32)")
        self.backbone = build_backbone(options["backbone"], size, weights,
                                       float(options["alpha"]), seed,
                                       int(options.get("stages", 1)))
        self.size = size

    def load_weights(self, path: Path) -> None:
        self.backbone.load_weights(path)

    def embedder(self, options: dict[str, Any]):
        from artkit_plugins.lib.heads.backbones import fingerprint, with_flip_mean
        from artkit_plugins.lib.heads.embeddings import Embedder

        network = with_flip_mean(self.backbone) if options["tta"] else self.backbone
        key = fingerprint(self.backbone) + ("-tta" if options["tta"] else "")
        return network, Embedder(network, self.size, key, int(options["batch_size"]))


class HeadPredictor:
    def __init__(self, embedder: Any, head: Any, labels: list[str]):
        self.embedder, self.head, self.labels = embedder, head, labels

    def predict_paths(self, paths: Sequence[Path]) -> np.ndarray:
        paths = list(paths)
        if not paths:
            return np.zeros((0, len(self.labels)), np.float32)
        return self.head.scores(self.embedder.embed_paths(paths))

    def predict_images(self, images: np.ndarray) -> np.ndarray:
        return self.head.scores(self.embedder.embed_images(images))


def best_on_validation(ctx: TrainContext, val_x: np.ndarray, candidates: Any,
                       ) -> tuple[Any, dict[str, Any]]:
    """The (head, hyper-parameters) of `candidates` that scores best on the validation
    images (the first one on a tie, or when there are no validation images)."""
    task, y_val = ctx.dataset.task, ctx.dataset.targets[ctx.val_idx]
    best = None
    for head, chosen in candidates:
        score = fit.selection_score(task, y_val, head.scores(val_x)) if len(val_x) else 0.0
        if best is None or score > best[0]:
            best = (score, head, chosen)
    score, head, chosen = best
    return head, {**chosen, "validation_score": round(score, 4)}


class EmbeddingHeadPlugin:
    """Shared by `linear-probe` and `knn`: embeddings, saving, loading, ONNX export."""

    name: str
    description: str
    tasks = ("multiclass", "multilabel")
    head_options: list[OptionSpec] = []

    @property
    def options(self) -> list[OptionSpec]:
        return [*BACKBONE_OPTIONS, *self.head_options]

    def fit_head(self, ctx: TrainContext, train_x: np.ndarray, val_x: np.ndarray):
        raise NotImplementedError

    def save_head(self, run: Run, head: Any) -> None:
        raise NotImplementedError

    def read_head(self, run: Run) -> Any:
        raise NotImplementedError

    def head_layer(self, head: Any, features: Any) -> Any:
        """The head as Keras ops on the (N, D) embedding tensor."""
        raise NotImplementedError

    def train(self, ctx: TrainContext) -> None:
        options = ctx.options
        parts = BackboneParts(options, options["weights"], ctx.seed)
        _, embedder = parts.embedder(options)
        dataset = ctx.dataset
        started = time.perf_counter()
        train_x = embedder.embed_paths([dataset.paths[i] for i in ctx.train_idx])
        val_x = embedder.embed_paths([dataset.paths[i] for i in ctx.val_idx])
        embedded = time.perf_counter() - started
        started = time.perf_counter()
        head, chosen = self.fit_head(ctx, train_x, val_x)
        fitted = time.perf_counter() - started
        parts.backbone.save_weights(ctx.run.path(BACKBONE_WEIGHTS))
        self.save_head(ctx.run, head)
        info(f"{self.name}: embeddings {embedded:.1f} s, head {fitted:.2f} s, chosen {chosen}")
        ctx.run.update_config(input_size=parts.size, embedding_dim=int(train_x.shape[1]),
                              head=chosen, seconds={"embeddings": round(embedded, 3),
                                                    "head": round(fitted, 3)})

    def _parts(self, run: Run) -> BackboneParts:
        config = run.config
        weights = run.path(BACKBONE_WEIGHTS)
        if not weights.exists():
            raise ArtkitError(f"no backbone weights ({BACKBONE_WEIGHTS}) in this run: did the "
                              "training finish?", run.dir)
        parts = BackboneParts(config.options, "none", config.seed)
        parts.load_weights(weights)
        return parts

    def load(self, run: Run) -> HeadPredictor:
        _, embedder = self._parts(run).embedder(run.config.options)
        return HeadPredictor(embedder, self.read_head(run), list(run.config.labels))

    def export_onnx(self, run: Run, opset: int) -> OnnxGraph:
        import keras

        from artkit_plugins.lib.keras_onnx import keras_onnx_graph

        options = run.config.options
        network, _ = self._parts(run).embedder(options)
        scores = self.head_layer(self.read_head(run), network.output)
        model = keras.Model(network.input, scores, name=f"{self.name}-model")
        size = int(options["input_size"])
        return keras_onnx_graph(model, (size, size), opset,
                                preprocessing={"network": f"{self.name}/{options['backbone']}"})


    def export_embedding_onnx(self, run: Run, opset: int) -> OnnxGraph:
        """The backbone alone (with its test-time augmentation, if trained with it): output
        ``embedding``, the pooled features the head was fitted on."""
        from artkit_plugins.lib.keras_onnx import keras_onnx_graph

        options = run.config.options
        network, _ = self._parts(run).embedder(options)
        size = int(options["input_size"])
        return keras_onnx_graph(network, (size, size), opset, output="embedding",
                                preprocessing={"network": f"backbone/{options['backbone']}"})


class LinearProbeModel(EmbeddingHeadPlugin):
    name = "linear-probe"
    description = ("Logistic regression (softmax, or a sigmoid per label) on frozen backbone "
                   "features; fits in seconds once the embeddings are cached.")
    head_options = [
        OptionSpec("c", str, "auto", "Inverse regularisation strength of the logistic "
                   "regression; 'auto' chooses among 0.01, 0.1, 1, 10 on validation."),
    ]

    def fit_head(self, ctx, train_x, val_x):
        dataset = ctx.dataset
        y_train = dataset.targets[ctx.train_idx]
        grid = fit.C_GRID if ctx.options["c"] == "auto" else (float(ctx.options["c"]),)
        return best_on_validation(ctx, val_x, (
            (head, {"c": c}) for c, head in fit.fit_linear_path(
                train_x, y_train, dataset.task, len(dataset.labels), grid, ctx.seed)))

    def save_head(self, run, head):
        write_head(run, weight=head.weight, bias=head.bias)

    def read_head(self, run):
        with np.load(run.path(HEAD_FILE)) as stored:
            return fit.LinearHead(stored["weight"], stored["bias"], run.config.task)

    def head_layer(self, head, features):
        import keras

        activation = "sigmoid" if head.task == "multilabel" else "softmax"
        dense = keras.layers.Dense(head.weight.shape[1], activation=activation, name="head")
        out = dense(features)
        dense.set_weights([head.weight, head.bias])
        return out


class KnnModel(EmbeddingHeadPlugin):
    name = "knn"
    description = ("Cosine k-nearest neighbours on frozen backbone features (k and weighting "
                   "chosen on validation); exports as MatMul + TopK + votes.")
    head_options = [
        OptionSpec("k", str, "auto", "Neighbours; 'auto' chooses among 1, 3, 5, 7, 9, 15, 21 "
                   "on validation."),
        OptionSpec("weighting", str, "auto", "Vote weights: uniform, similarity (cosine), or "
                   "auto (chosen on validation).", choices=("auto", "uniform", "similarity")),
    ]

    def fit_head(self, ctx, train_x, val_x):
        dataset, task = ctx.dataset, ctx.dataset.task
        bank = fit.l2_normalise(train_x)
        votes = fit.knn_votes(dataset.targets[ctx.train_idx], task, len(dataset.labels))
        ks = fit.K_GRID if ctx.options["k"] == "auto" else (int(ctx.options["k"]),)
        ks = tuple(k for k in ks if k <= len(bank)) or (len(bank),)
        weightings = (fit.WEIGHTINGS if ctx.options["weighting"] == "auto"
                      else (ctx.options["weighting"],))
        return best_on_validation(ctx, val_x, (
            (fit.KnnHead(bank, votes, k, weighting, task), {"k": k, "weighting": weighting})
            for k in ks for weighting in weightings))

    def save_head(self, run, head):
        write_head(run, bank=head.bank, votes=head.votes, k=head.k, weighting=head.weighting)

    def read_head(self, run):
        with np.load(run.path(HEAD_FILE)) as stored:
            return fit.KnnHead(stored["bank"], stored["votes"], int(stored["k"]),
                               str(stored["weighting"]), run.config.task)

    def head_layer(self, head, features):
        import keras

        bank = head.bank.T.copy()
        votes = head.votes
        k, uniform = min(head.k, len(head.bank)), head.weighting == "uniform"

        def vote(x):
            ops = keras.ops
            x = x / ops.maximum(ops.sqrt(ops.sum(x * x, axis=1, keepdims=True)), 1e-12)
            similarity = ops.matmul(x, ops.convert_to_tensor(bank))
            nearest, top = ops.top_k(similarity, k=k, sorted=True)
            weights = ops.ones_like(nearest) if uniform else ops.maximum(nearest, 1e-6)
            chosen = ops.take(ops.convert_to_tensor(votes), top, axis=0)  # (N, k, C)
            total = ops.sum(chosen * weights[:, :, None], axis=1)
            return total / ops.sum(weights, axis=1, keepdims=True)

        return keras.layers.Lambda(vote, name="knn_votes")(features)


@hookimpl
def register_models(register) -> None:
    register(LinearProbeModel())
    register(KnnModel())
