"""`artkit.load(path)`: an exported model, ready to score images and find paintings.

A :class:`Model` needs the ``.onnx`` file alone: labels, input size, decision rule and
feature extractor come from its :class:`~artkit.formats.model_card.ModelCard`. TensorFlow is never
imported on this path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from artkit.api.engine import Engine, score_stream
from artkit.console import ProgressCallback, info, make_progress, reporting, warn
from artkit.decisions.rule import DecisionRule
from artkit.errors import ArtkitError
from artkit.formats.model_card import ModelCard
from artkit.runtime.inputs import ExpandedInputs, InputStream, check_named, expand_inputs
from artkit.runtime.prediction import Prediction
from artkit.runtime.writers import PredictionsHeader, check_format, open_writer

Inputs = str | Path | Sequence[str | Path] | ExpandedInputs | InputStream
"""Image files, folders (searched recursively), glob patterns or ``.txt`` lists, or an
already expanded list (:func:`artkit.runtime.inputs.expand_inputs`) or stream
(:class:`artkit.runtime.inputs.InputStream`)."""

BATCH_SIZE = 32
"""Images per onnxruntime batch: the default of predict, embed, similar and duplicates."""
TOP_K = 3
"""Labels kept per image (``Prediction.top``) by default."""


@dataclass(frozen=True)
class Embedding:
    """One input's embedding (:meth:`Model.embed`): `vector` float32 (D,), L2-normalised,
    or None with the `error` of a file that could not be read."""

    index: int
    path: Path
    vector: np.ndarray | None
    error: str | None = None
    rotated: np.ndarray | None = None
    """With ``rotations=True``: float32 (3, D), the embeddings of the image turned by 90,
    180 and 270 degrees (L2-normalised)."""

    @property
    def ok(self) -> bool:
        return self.vector is not None


def _report_listing(ignored: int, empty_patterns: list[str]) -> None:
    if ignored:
        info(f"ignored {ignored} files without an image suffix or hidden")
    for origin in empty_patterns:
        warn(f"{origin}: no images found there")


def as_stream(inputs: Inputs, exclude: Collection[str] = ()) -> InputStream:
    """`inputs` listed on a background thread (see :class:`InputStream`), without the
    paths in `exclude` (those a resumed output holds)."""
    if isinstance(inputs, InputStream):
        return InputStream.of(inputs, exclude) if exclude else inputs
    if isinstance(inputs, ExpandedInputs):
        return InputStream.of(inputs.paths, exclude)
    return InputStream.listing(inputs, exclude)


def named_inputs(inputs: Inputs) -> Inputs:
    """`inputs` as a list (or the stream or listing given), after a one-line error for a
    named file or folder that does not exist: before a model runs or a file is made."""
    if isinstance(inputs, ExpandedInputs | InputStream):
        return inputs
    items = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    check_named(items)
    return items


@dataclass
class PredictSummary:
    """What a :meth:`Model.predict` did, filled in as its predictions are consumed and
    final once they all are: the output file, the images scored, the files that failed,
    the files a resumed output already held, and the seconds spent scoring."""

    path: Path | None = None
    scored: int = 0
    failed: list[Prediction] = field(default_factory=list)
    resumed: int = 0
    seconds: float = 0.0
    finished: bool = False
    """Every input was scored (and the output, if any, is complete)."""


class Predictions(Iterator[Prediction]):
    """What :meth:`Model.predict` returns: its predictions, streamed in input order
    (iterate once), and their :class:`PredictSummary`. Nothing is scored, and no file is
    opened, before the first one is asked for; :meth:`close` (or leaving a ``with``
    block) stops early and closes the output with the rows written so far."""

    def __init__(self, run: Callable[[PredictSummary], Iterator[Prediction]],
                 output: Path | None):
        self.summary = PredictSummary(output)
        self._iterator = run(self.summary)

    def __next__(self) -> Prediction:
        return next(self._iterator)

    def close(self) -> None:
        self._iterator.close()  # type: ignore[attr-defined]

    def __enter__(self) -> Predictions:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def as_expanded(inputs: Inputs) -> ExpandedInputs:
    """Expand `inputs` (reporting ignored files and empty patterns) unless already done."""
    if isinstance(inputs, ExpandedInputs):
        return inputs
    if isinstance(inputs, InputStream):
        return ExpandedInputs(list(inputs), inputs.ignored, inputs.empty_patterns)
    expanded = expand_inputs([inputs] if isinstance(inputs, str | Path) else list(inputs))
    _report_listing(expanded.ignored, expanded.empty_patterns)
    return expanded


class Model:
    """An exported artkit model (``artkit.load(path)``)."""

    def __init__(self, path: str | Path, device: Literal["auto", "cpu", "cuda"] = "auto"):
        from artkit.runtime.session import create_session

        self.path = Path(path)
        self.device = device
        self.session = create_session(self.path, device=device)
        self.card = ModelCard.from_session(self.session, self.path)

    def __repr__(self) -> str:
        return (f"Model({str(self.path)!r}: {self.card.model}, {self.card.task}, "
                f"{len(self.labels)} labels)")

    @property
    def labels(self) -> list[str]:
        return list(self.card.labels)

    @property
    def task(self) -> str:
        return self.card.task

    @property
    def provider(self) -> str:
        """'cuda' or 'cpu': where onnxruntime really runs this model."""
        from artkit.runtime.session import active_provider

        return active_provider(self.session)

    def decision(self, threshold: float | None = None, min_labels: int | None = None,
                 max_labels: int | None = None) -> DecisionRule | None:
        """The multi-label rule predict applies: the stored one with any part overridden
        (None for a multi-class model)."""
        if not self.card.multilabel:
            return None
        return self.card.decision_rule().replace(thresholds=threshold, min_labels=min_labels,
                                                 max_labels=max_labels)

    def predict(self, inputs: Inputs, *, batch_size: int = BATCH_SIZE,
                workers: int | None = None, top_k: int = TOP_K,
                decision: DecisionRule | None = None, engine: Engine = "local",
                ray_address: str | None = None, output: str | Path | None = None,
                resume: bool = False,
                progress: bool | ProgressCallback | None = None) -> Predictions:
        """Score every input image, streamed and in input order; a file that cannot be read
        gives a Prediction with status ``error`` and the reason, and the rest go on.

        `decision` overrides the stored multi-label rule (see :meth:`decision`). `output`
        (``.csv``, ``.json`` or ``.jsonl``) receives every row as it goes, under an
        exclusive lock; with `resume` the paths it already holds are skipped and the rest
        appended. A named input that does not exist, a bad option or output format is an
        :class:`ArtkitError` here, before anything runs or is written."""
        if top_k < 1:
            raise ArtkitError("top_k must be at least 1")
        rule = decision if decision is not None else self.decision()
        if rule is not None:
            try:
                rule.check(len(self.labels))
            except ValueError as exc:
                raise ArtkitError(f"decision rule: {exc}", self.path) from None
        if self.card.is_embedding:
            raise ArtkitError("an embedding model gives vectors, not labels", self.path,
                              hint="use artkit embed / similar / duplicates with it")
        path = Path(output) if output is not None else None
        if path is None and resume:
            raise ArtkitError("resume needs an output file (the file to continue)")
        if path is not None:
            check_format(path)
        inputs = named_inputs(inputs)
        options = dict(batch_size=batch_size, workers=workers, engine=engine,
                       ray_address=ray_address, progress=progress)
        return Predictions(lambda summary: self._predicting(
            summary, inputs, path, resume, rule, top_k, options), path)

    def _predicting(self, summary: PredictSummary, inputs: Inputs, path: Path | None,
                    resume: bool, rule: DecisionRule | None, top_k: int,
                    options: dict[str, Any]) -> Iterator[Prediction]:
        """The predictions of :meth:`predict`, each batch written to `path` (if any) before
        it is yielded; `summary` kept up to date. However the stream ends, the output is
        closed with the rows written so far (whole), and its lock released."""
        writer = None if path is None else open_writer(
            path, self.labels, self.predictions_header(rule), resume)
        began = time.perf_counter()
        stream = None
        try:
            stream = as_stream(inputs, writer.done if writer is not None else ())
            for scored in self._scored(stream, ("scores",), "predict", **options):
                batch = self._predictions(scored, rule, top_k)
                if writer is not None:
                    writer.write(batch)
                for prediction in batch:
                    if prediction.ok:
                        summary.scored += 1
                    else:
                        summary.failed.append(prediction)
                summary.seconds = time.perf_counter() - began
                yield from batch
            summary.finished = True
        finally:
            summary.seconds = time.perf_counter() - began
            summary.resumed = stream.excluded if stream is not None else 0
            if writer is not None:
                writer.close(summary.finished)
                if not summary.finished and writer.rows:
                    warn(f"interrupted: the results so far are in {writer.path}; rerun "
                         "with --resume to continue")

    def predict_arrays(self, images: np.ndarray, names: Sequence[str | Path], *,
                       top_k: int = TOP_K, decision: DecisionRule | None = None
                       ) -> list[Prediction]:
        """:meth:`predict` for images already in memory (uploads to `artkit serve`): a
        float32 (n, H, W, 3) batch at the model's input size (RGB 0..255, as
        :func:`artkit.data.decode.load_resized` makes), one Prediction per row, its path
        the row's name. Image classification models only."""
        from artkit.runtime.pipeline import Batch
        from artkit.runtime.scoring import Scored

        if self.card.is_embedding or self.card.input_kind != "image":
            raise ArtkitError("predict_arrays needs an image classification model", self.path)
        rule = decision if decision is not None else self.decision()
        (scores,) = self.session.run(["scores"], {self.session.get_inputs()[0].name: images})
        rows = list(range(len(names)))
        batch = Batch(range(len(names)), rows, [Path(n) for n in names], images, [])
        return self._predictions(Scored(batch, {"scores": scores}), rule, top_k)

    def predictions_header(self, rule: DecisionRule | None) -> PredictionsHeader:
        """The header of this model's predictions files under `rule`."""
        return PredictionsHeader(str(self.path), self.card.model, self.card.task,
                                 self.labels, rule.to_json() if rule else None)

    def embed(self, inputs: Inputs, *, batch_size: int = BATCH_SIZE, workers: int | None = None,
              engine: Engine = "local", ray_address: str | None = None, rotations: bool = False,
              progress: bool | ProgressCallback | None = None) -> Iterator[Embedding]:
        """The L2-normalised embedding (float32 (D,)) of every input image, streamed and in
        input order; a file that cannot be read gives an Embedding with its error. Needs an
        embedding model (``artkit export onnx --embedding``). `rotations` also embeds each
        image turned by 90, 180 and 270 degrees (``Embedding.rotated``; 4x the inference,
        decoded once; square input sizes, local engine)."""
        from artkit.embeddings.vectors import l2_normalise

        if not self.card.is_embedding:
            raise ArtkitError(f"not an embedding model (task {self.card.task})", self.path,
                              hint="export one with `artkit export onnx --embedding RUN`")
        size = self.card.input_size
        if rotations and (engine != "local" or size is None or size[0] != size[1]):
            raise ArtkitError("rotations need a square image input and the local engine",
                              self.path)
        for scored in self._scored(inputs, ("embedding",), "embed", batch_size, workers,
                                   engine, ray_address, progress):
            found: dict[int, Embedding] = {}
            batch = scored.batch
            if len(batch):
                vectors = l2_normalise(scored.outputs["embedding"])
                turned = self._rotated(batch.items) if rotations else None
                for row, index in enumerate(batch.indices):
                    found[index] = Embedding(index, Path(batch.paths[row]), vectors[row],
                                             rotated=None if turned is None else turned[row])
            for failure in scored.failures:
                found[failure.index] = Embedding(failure.index, Path(failure.path), None,
                                                 failure.reason)
            yield from (found[i] for i in sorted(found))

    def embed_images(self, images: Sequence[np.ndarray], batch_size: int = BATCH_SIZE
                     ) -> np.ndarray:
        """float32 (n, D) L2-normalised embeddings of RGB uint8 `images` already in memory
        (crops cut from a photo, an upload), each resized to the input size as files
        are (:func:`~artkit.data.decode.resize_to`)."""
        from artkit.data.decode import resize_to
        from artkit.embeddings.vectors import l2_normalise
        from artkit.runtime.preprocess import input_size

        if not self.card.is_embedding:
            raise ArtkitError(f"not an embedding model (task {self.card.task})", self.path,
                              hint="export one with `artkit export onnx --embedding RUN`")
        size, name = input_size(self.card), self.session.get_inputs()[0].name
        found = [np.zeros((0, self.card.embedding_dim or 0), np.float32)]
        for start in range(0, len(images), batch_size):
            batch = np.stack([resize_to(i, size) for i in images[start:start + batch_size]])
            (vectors,) = self.session.run(["embedding"], {name: batch.astype(np.float32)})
            found.append(l2_normalise(vectors))
        return np.concatenate(found)

    def _rotated(self, images: np.ndarray) -> np.ndarray:
        """(n, 3, D) L2-normalised embeddings of `images` turned by 90, 180, 270 degrees."""
        from artkit.embeddings.vectors import l2_normalise

        name = self.session.get_inputs()[0].name
        turned = [l2_normalise(self.session.run(["embedding"], {
            name: np.ascontiguousarray(np.rot90(images, k, axes=(1, 2)))})[0])
            for k in (1, 2, 3)]
        return np.stack(turned, axis=1)

    def _scored(self, inputs: Inputs, outputs: tuple[str, ...], name: str, batch_size: int,
                workers: int | None, engine: Engine, ray_address: str | None,
                progress: bool | ProgressCallback | None) -> Iterator[Any]:
        """Scored batches of `inputs` (the requested outputs), in order, with a bar."""
        import cv2

        from artkit.runtime.session import cpu_count

        cv2.setNumThreads(1)  # the worker pool is the parallelism; OpenCV's would oversubscribe
        with reporting(progress):
            stream = as_stream(inputs)
            batches = score_stream(self.path, self.session, self.card, stream, engine=engine,
                                   batch_size=batch_size, workers=workers or cpu_count(),
                                   device=self.device, address=ray_address, outputs=outputs)
            with make_progress(rate_unit="img") as bar:
                # the total shows once the listing (on its own thread) has finished
                task = bar.add_task(name, total=stream.total, rate="")
                began, done = time.perf_counter(), 0
                for scored in batches:
                    done += len(scored.batch) + len(scored.failures)
                    rate = done / max(time.perf_counter() - began, 1e-9)
                    bar.update(task, completed=done, total=stream.total,
                               rate=f"{rate:.1f} img/s")
                    yield scored
            _report_listing(stream.ignored, stream.empty_patterns)

    def _predictions(self, scored: Any, rule: DecisionRule | None, top_k: int
                     ) -> list[Prediction]:
        """One batch's predictions, good and bad files together, in input order."""
        labels = self.labels
        found: dict[int, Prediction] = {}
        batch, scores = scored.batch, scored.outputs["scores"]
        if len(batch):
            on = rule.apply(scores) if rule is not None else None
            order = np.argsort(-scores, axis=1, kind="stable")
            for row, index in enumerate(batch.indices):
                top = [(labels[j], float(scores[row, j])) for j in order[row, :top_k]]
                chosen = [labels[j] for j in order[row] if on[row, j]] if on is not None \
                    else [top[0][0]]
                found[index] = Prediction(index, Path(batch.paths[row]), "ok", chosen,
                                          scores[row], top, multilabel=on is not None,
                                          model_labels=labels)
        for failure in scored.failures:
            found[failure.index] = Prediction(failure.index, Path(failure.path), "error",
                                              error=failure.reason,
                                              multilabel=self.card.multilabel,
                                              model_labels=labels)
        return [found[i] for i in sorted(found)]

    def scores(self, inputs: Inputs, batch_size: int = BATCH_SIZE
               ) -> tuple[np.ndarray, list[int]]:
        """(scores (n_ok, n_labels), input positions that scored): for evaluation code."""
        rows, kept = [], []
        for prediction in self.predict(inputs, batch_size=batch_size):
            if prediction.ok:
                rows.append(prediction.scores)
                kept.append(prediction.index)
            else:
                warn(f"{prediction.path}: skipped ({prediction.error})")
        if not rows:
            return np.zeros((0, len(self.labels)), np.float32), []
        return np.stack(rows), kept


def load(path: str | Path, device: Literal["auto", "cpu", "cuda"] = "auto") -> Model:
    """Open an exported ``.onnx`` model (one-line errors for a missing, foreign or newer
    file). `device`: ``auto`` uses a GPU when onnxruntime's CUDA provider can really run."""
    return Model(path, device=device)
