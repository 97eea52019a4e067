"""`artkit.detect(photos)`: find paintings in photos of rooms, write what was found, and
score boxes against annotations.

The detection method is a plugin (``method=``); without one, the best-ranked method that
can run (the plugins' ``default_rank``: ``frames+cnn`` when there is a model, else
``frames``, which needs none). :func:`detect` returns a :class:`DetectResult`: iterated,
it streams one :class:`Detection` per photo in input order, the reported paintings (score
at least `min_score`, at most `max_det`) with every scored candidate beside them (what AP
is computed on), and, when asked, each painting's crop and its labels from a
classification model. Once every photo is through, it writes the files asked for: the
boxes (COCO results json and csv), and with annotations the metrics file
(:class:`~artkit.detection.metrics_file.BoxesMetrics`) that the boxes report reads.
:func:`evaluate_detections` and :func:`evaluate_boxes` score detections or a boxes file
against COCO annotations.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from artkit import registry
from artkit.api.engine import Engine, check_engine, detect_stream
from artkit.api.model import Inputs, Model, as_expanded, load
from artkit.console import ProgressCallback, info, make_progress, reporting
from artkit.contracts import Detections, EvalResult, capability
from artkit.detection.coco import CocoTruth, read_coco_truth
from artkit.detection.metrics_file import BoxesMetrics, metrics_path
from artkit.errors import ArtkitError, PluginError
from artkit.runtime.prediction import Prediction

SWEEP_METRICS = ("ap50", "ap", "recall50", "corloc", "mean_best_iou")
#: The CAM paper's rule: pixels above 20% of the map's peak (``cam_threshold``).
CAM_THRESHOLD = 0.2
#: At most this many paintings are reported per photo (COCO's limit for AP, too).
MAX_DET = 100
#: Photos per onnxruntime batch.
BATCH_SIZE = 16
#: The range of `min_score` and `cam_threshold`.
SCORE_RANGE = (0.0, 1.0)


@dataclass
class Detection:
    """The paintings found in one photo (boxes in the photo's own pixels), or its error."""

    index: int
    """Position in the inputs."""
    path: Path
    status: Literal["ok", "error"]
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    """float32 (n, 4): x1, y1, x2, y2 of the reported paintings, best score first."""
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    error: str | None = None
    size: tuple[int, int] | None = None
    """The photo's (height, width)."""
    quads: np.ndarray | None = None
    """float32 (n, 4, 2) or None: each reported painting's four corners (top-left,
    top-right, bottom-right, bottom-left), when the method finds outlines."""
    candidates: Detections = field(default_factory=lambda: Detections(
        np.zeros((0, 4), np.float32), np.zeros(0, np.float32)), repr=False)
    """Every scored candidate, below `min_score` too (what AP is computed on)."""
    candidate_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64),
                                        repr=False)
    """int64 (n,): each reported painting's position in `candidates`."""
    crops: list[Path] = field(default_factory=list)
    """With ``crops=DIR``: the image file of each reported painting."""
    classified: list[Prediction] = field(default_factory=list)
    """With ``classify=MODEL``: the classification of each reported painting's crop."""
    by_threshold: dict[float, Detections] = field(default_factory=dict, repr=False)
    """Every candidate per CAM threshold asked for (``cam_thresholds=``), the main one
    included."""
    overlay: Path | None = None
    """With ``save_vis=DIR``: the overlay drawn for this photo."""
    image: np.ndarray | None = field(default=None, repr=False)
    """With ``keep_images=True``: the working copy (longest side at most 1280 px), RGB."""
    cam: np.ndarray | None = field(default=None, repr=False)
    """With ``keep_images=True`` and a CAM model: the class activation map on `image`."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def scale(self) -> float:
        """Working-copy pixels per photo pixel (for drawing on `image`)."""
        if self.image is None or self.size is None:
            return 1.0
        return self.image.shape[0] / self.size[0]

    def to_dict(self) -> dict[str, Any]:
        """The photo's result as plain JSON types (coordinates at 0.1 px, Python floats)."""
        from artkit.detection.coco import pixels

        if not self.ok:
            return {"path": str(self.path), "status": self.status, "error": self.error}
        found: dict[str, Any] = {"path": str(self.path), "status": "ok",
                                 "boxes": pixels(self.boxes),
                                 "scores": [round(float(s), 4) for s in self.scores]}
        if self.quads is not None:
            found["quads"] = pixels(self.quads)
        if self.crops:
            found["crops"] = [str(c) for c in self.crops]
        if self.classified:
            found["labels"] = [p.labels for p in self.classified]
        return found


# -- which method, which model ----------------------------------------------------------------
@dataclass
class DetectionSetup:
    """What :func:`choose_method` settled on."""

    method: Any
    model_path: Path | None
    notes: list[str] = field(default_factory=list)


def _needs_model(method: Any) -> bool:
    return bool(method.needs_cam or capability(method, "needs_classifier"))


def default_method(has_model: bool) -> str:
    """The detection method to run without one: the lowest ``default_rank`` among the
    methods that can run (one that needs a model only when there is one)."""
    ranked = []
    for name, plugin in registry.of_kind(registry.Kind.DETECTION_METHOD).items():
        rank = capability(plugin.obj, "default_rank")
        if rank is not None and (has_model or not _needs_model(plugin.obj)):
            ranked.append((rank, name))
    if not ranked:
        raise PluginError("no detection method that can run here declares a default_rank",
                          hint="choose one with --method (see `artkit plugins`)")
    return min(ranked)[1]


def choose_method(method_name: str | None, model: Path | None,
                  options: dict[str, Any]) -> DetectionSetup:
    """The method plugin and the model to use; checks the method's options.

    Without a model: the bundled painting detector (else a CAM model the model plugins
    offer, :func:`~artkit.detection.pipeline.default_cam_model`). Without a method:
    :func:`default_method`."""
    from artkit.detection.pipeline import default_cam_model

    notes: list[str] = []
    if method_name is None:
        if model is None:
            try:
                model, where = default_cam_model()
                notes.append(f"using {where}")
            except ArtkitError:
                model = None
        method_name = default_method(model is not None)
        notes.append(f"method {method_name}" + (
            "" if model is not None else " (no CAM model found: the method that needs none)"))
    method = registry.get(registry.Kind.DETECTION_METHOD, method_name)
    foreign = sorted(set(options) - {spec.name for spec in method.options})
    if foreign:
        raise PluginError(f"method '{method.name}' has no option(s) "
                          + ", ".join("--" + k.replace("_", "-") for k in foreign))
    if _needs_model(method) and model is None:
        model, where = default_cam_model()
        notes.append(f"using {where}")
    return DetectionSetup(method, model, notes)


def min_score_for(method: Any, min_score: float | None) -> float:
    """The minimum score of a reported painting: `min_score`, else the method's default
    (its ``default_threshold``)."""
    if min_score is not None:
        return float(min_score)
    return float(capability(method, "default_threshold"))


def _check_range(name: str, value: float | None) -> None:
    low, high = SCORE_RANGE
    if value is not None and not low <= value <= high:
        raise ArtkitError(f"{name} must be within [{low:g}, {high:g}], not {value:g}")


# -- detect -----------------------------------------------------------------------------------
@dataclass
class DetectPaths:
    """The files a detection wrote (None or empty: not asked for)."""

    boxes: Path | None = None
    """The COCO results json: every scored candidate, the reported ones marked."""
    csv: Path | None = None
    """The reported paintings, one row each."""
    metrics: Path | None = None
    """With annotations: ``<name>.metrics.json`` (:class:`BoxesMetrics`)."""
    plots: list[Path] = field(default_factory=list)
    """With annotations: the precision-recall curve (and the threshold sweep's plot)."""
    overlays: list[Path] = field(default_factory=list)
    crops: list[Path] = field(default_factory=list)


@dataclass
class _Request:
    """What :func:`detect` was asked for, checked."""

    paths: list[Path]
    setup: DetectionSetup
    min_score: float
    cam_threshold: float
    cam_thresholds: tuple[float, ...]
    max_det: int
    output: Path | None
    save_vis: Path | None
    truth: CocoTruth | None
    sweep: bool
    crops: Path | None
    classifier: Model | None
    cam_model: Any
    options: dict[str, Any]
    batch_size: int
    device: str
    engine: Engine
    ray_address: str | None
    keep_images: bool
    progress: bool | ProgressCallback | None


class DetectResult(Iterator[Detection]):
    """What :func:`detect` returns: an iterator of one :class:`Detection` per photo, in
    input order. When the last photo is through, the files asked for are written and
    :attr:`paths`, :attr:`evaluation` and the counts are final; reading :attr:`paths`,
    :attr:`metrics` or :attr:`evaluation` before that runs the remaining photos."""

    def __init__(self, request: _Request):
        self._request = request
        self.method: Any = request.setup.method
        """The detection method plugin that ran."""
        self.model: Path | None = request.setup.model_path
        self.min_score = request.min_score
        self.photos = 0
        """Photos read."""
        self.reported = 0
        """Reported paintings, in all photos."""
        self.candidates = 0
        """Scored candidates, in all photos."""
        self.skipped: list[Detection] = []
        """The photos that could not be read (status ``error``)."""
        self._paths = DetectPaths()
        self._evaluation: DetectionReport | None = None
        self._stream = self._run()

    def __next__(self) -> Detection:
        return next(self._stream)

    def __iter__(self) -> DetectResult:
        return self

    def finish(self) -> DetectResult:
        """Run the photos not yet iterated (and write the files); returns itself."""
        for _ in self:
            pass
        return self

    @property
    def paths(self) -> DetectPaths:
        return self.finish()._paths

    @property
    def evaluation(self) -> DetectionReport | None:
        """With annotations (``gt=``): the scores, and the threshold sweep if asked."""
        return self.finish()._evaluation

    @property
    def metrics(self) -> dict[str, float] | None:
        """With annotations (``gt=``): AP@0.5, COCO AP, recall@0.5, CorLoc, ..."""
        evaluation = self.evaluation
        return evaluation.result.metrics if evaluation is not None else None

    def _run(self) -> Iterator[Detection]:
        request = self._request
        kept: list[Detection] = []  # without pixels: what the files are made of
        with reporting(request.progress):
            for detection in _detections(request):
                self._count(detection)
                if request.output is not None:
                    kept.append(dataclasses.replace(detection, image=None, cam=None))
                yield detection
            self._write(kept)

    def _count(self, detection: Detection) -> None:
        if not detection.ok:
            self.skipped.append(detection)
            return
        self.photos += 1
        self.reported += len(detection.boxes)
        self.candidates += len(detection.candidates)
        self._paths.crops += detection.crops
        if detection.overlay is not None:
            self._paths.overlays.append(detection.overlay)

    def _write(self, found: list[Detection]) -> None:
        """The boxes files, then (with annotations) the scores and the metrics file."""
        from artkit.detection.coco import write_results

        request, truth = self._request, self._request.truth
        if request.output is None or not self.photos:  # no photo read: no file to write
            return
        ok = [d for d in found if d.ok]
        by_name = truth.id_by_name() if truth is not None else {}
        image_ids = [by_name.get(d.path.name, d.index + 1) for d in ok]
        rows, reported = result_rows(ok, image_ids, truth.category_id if truth else 1)
        self._paths.boxes, self._paths.csv = write_results(
            rows, request.output.with_suffix(".json"), reported)
        if truth is None:
            return
        boxes = self._paths.boxes
        report = evaluate_detections(found, truth, boxes.with_name(boxes.stem + "-eval"),
                                     request.cam_threshold, sweep=request.sweep)
        self._evaluation = report
        self._paths.plots = list(report.plots)
        self._paths.metrics = report.stored(
            boxes=boxes, method=request.setup.method.name, min_score=request.min_score,
            model=request.setup.model_path,
            photos=sorted({d.path.name for d in ok if d.path.name in by_name}),
        ).write(metrics_path(boxes))


def detect(photos: Inputs, *, model: str | Path | Model | None = None,
           method: str | None = None, min_score: float | None = None,
           cam_threshold: float = CAM_THRESHOLD, cam_thresholds: Sequence[float] = (),
           max_det: int = MAX_DET, output: str | Path | None = None,
           save_vis: str | Path | None = None, gt: str | Path | None = None,
           sweep: bool = False, crops: str | Path | None = None,
           classify: str | Path | Model | None = None, class_name: str | None = None,
           options: dict[str, Any] | None = None, batch_size: int = BATCH_SIZE,
           device: Literal["auto", "cpu", "cuda"] = "auto", engine: Engine = "local",
           ray_address: str | None = None, keep_images: bool = False,
           progress: bool | ProgressCallback | None = None) -> DetectResult:
    """Find paintings in each photo; returns a :class:`DetectResult`, an iterator of one
    :class:`Detection` per input, in order.

    `model`: an exported model (a path or :class:`Model`) with a ``cams`` output for the
    CAM methods, or any image classifier for ``frames+cnn``; None uses the bundled painting
    detector (``artkit/bundled``). `class_name`: the model's class that finds paintings
    (default ``painting``). `method`: a detection-method plugin name (see ``artkit
    plugins``). `min_score`: the minimum score of a reported painting, in [0, 1] (None: the
    method's own default; every candidate is kept in ``Detection.candidates``); `max_det`:
    at most this many reported per photo. `cam_threshold`: the CAM paper's rule for the
    methods that threshold the CAM (``cam``, ``cam+frames``), a share of the map's peak;
    `cam_thresholds` adds more (``Detection.by_threshold``, for sweeps).

    Files: `output` (``NAME.json`` or ``NAME.csv``): both the COCO results json (every
    scored candidate, the reported ones marked) and the csv (the reported paintings).
    `gt`: COCO annotations (photos matched by file name) to score every candidate against,
    written to ``NAME.metrics.json`` and ``NAME-eval/`` (needs `output`); `sweep` also
    scores CAM thresholds 0.05..0.95 (CAM methods). `save_vis`: a folder for overlays
    (photo, CAM heatmap, boxes, annotated boxes). `crops`: a folder to write each
    reported painting into as a JPEG (rectified to a frontal rectangle when the method
    gives its four corners). `classify`: an exported classification model run on each
    reported painting (``Detection.classified``). `options`: the method's own options.

    Raises :class:`ArtkitError` at once, before any photo is read, for a named input that
    does not exist or a bad argument. A photo that cannot be read gives a Detection with
    status ``error`` (``DetectResult.skipped``) and the rest go on; the files are written
    when at least one photo could be read."""
    _check_arguments(min_score, cam_threshold, max_det, batch_size, output, gt, sweep)
    check_engine(engine)
    options = dict(options or {})
    with reporting(progress):
        paths = as_expanded(photos).paths
        truth = read_coco_truth(gt, class_name) if gt is not None else None
        setup, cam_model = _setup(model, method, class_name, options, device)
        if sweep and not setup.method.needs_cam:
            raise ArtkitError(f"method '{setup.method.name}' does not use the CAM threshold: "
                              "nothing to sweep", hint="use --method cam or cam+frames")
        classifier = classify if isinstance(classify, Model) or classify is None \
            else load(classify, device=device)
    asked = {float(cam_threshold), *map(float, cam_thresholds)}
    if sweep:
        from artkit.decisions.grids import CAM_SWEEP

        asked |= set(map(float, CAM_SWEEP))
    return DetectResult(_Request(
        paths=paths, setup=setup, min_score=min_score_for(setup.method, min_score),
        cam_threshold=float(cam_threshold), cam_thresholds=tuple(sorted(asked)),
        max_det=max_det, output=_path(output), save_vis=_path(save_vis), truth=truth,
        sweep=sweep, crops=_path(crops), classifier=classifier, cam_model=cam_model,
        options=options, batch_size=batch_size, device=device, engine=engine,
        ray_address=ray_address, keep_images=keep_images, progress=progress))


def _path(value: str | Path | None) -> Path | None:
    return Path(value) if value is not None else None


def _check_arguments(min_score: float | None, cam_threshold: float, max_det: int,
                     batch_size: int, output: str | Path | None, gt: str | Path | None,
                     sweep: bool) -> None:
    """One-line errors for arguments out of range or that do not go together."""
    _check_range("min_score", min_score)
    _check_range("cam_threshold", cam_threshold)
    if max_det < 1 or batch_size < 1:
        raise ArtkitError("max_det and batch_size must be at least 1")
    if output is not None and Path(output).suffix.lower() not in (".json", ".csv"):
        raise ArtkitError("the output must end in .json or .csv (both are written)", output)
    if gt is not None and output is None:
        raise ArtkitError("scoring against annotations (gt) needs an output file: the "
                          "metrics are written beside it")
    if sweep and gt is None:
        raise ArtkitError("a CAM threshold sweep needs annotations (gt) to score against")


def _setup(model: str | Path | Model | None, method: str | None, class_name: str | None,
           options: dict[str, Any], device: str) -> tuple[DetectionSetup, Any]:
    """The method and model (:func:`choose_method`), and the model opened for detection."""
    from artkit.detection.pipeline import open_cam_model

    setup = choose_method(method, model.path if isinstance(model, Model) else _path(model),
                          options)
    for note in setup.notes:
        info(note)
    if setup.model_path is None:
        return setup, None
    cam_model = open_cam_model(setup.model_path, class_name, device,
                               needs_cams=setup.method.needs_cam)
    info(f"model {setup.model_path}: class '{cam_model.class_name}'")
    return setup, cam_model


def _detections(request: _Request) -> Iterator[Detection]:
    """Each photo's Detection, in input order: its crops, classes and overlay written."""
    needs_pixels = (request.keep_images or request.crops is not None
                    or request.classifier is not None or request.save_vis is not None)
    method = request.setup.method
    stream = detect_stream(request.paths, method, request.cam_thresholds, request.options,
                           request.cam_model, engine=request.engine,
                           batch_size=request.batch_size, device=request.device,
                           address=request.ray_address, keep_images=needs_pixels)
    namer = StemNamer()
    with make_progress() as bar:
        task = bar.add_task(f"detect ({method.name})", total=len(request.paths))
        for found, failed in stream:
            results = [reported_paintings(photo, request.cam_threshold, request.min_score,
                                  request.max_det) for photo in found]
            stems = [namer.stem(result.path, result.index) for result in results]
            if request.crops is not None or request.classifier is not None:
                _crop_and_classify(results, found, stems, request.crops, request.classifier)
            for result, photo, stem in zip(results, found, stems, strict=True):
                if request.save_vis is not None:
                    result.overlay = _save_overlay(
                        result, photo, request.truth, request.save_vis / f"{stem}.jpg",
                        photo.cam if method.needs_cam else None)
                if request.keep_images:
                    result.image, result.cam = photo.image, photo.cam
            results += [Detection(f.index, Path(f.path), "error", error=f.reason)
                        for f in failed]
            bar.advance(task, len(results))
            yield from sorted(results, key=lambda d: d.index)


def reported_paintings(photo: Any, cam_threshold: float, minimum: float, max_det: int
                       ) -> Detection:
    """The reported paintings (score >= minimum, best first, at most max_det) of a photo."""
    every = photo.detections[cam_threshold]
    order = np.argsort(-every.scores, kind="stable")
    order = order[every.scores[order] >= minimum][:max_det]
    quads = every.quads[order] if every.quads is not None else None
    return Detection(photo.index, Path(photo.path), "ok", every.boxes[order],
                     every.scores[order], size=photo.size, quads=quads, candidates=every,
                     candidate_index=order.astype(np.int64), by_threshold=photo.detections)


def _save_overlay(result: Detection, photo: Any, truth: CocoTruth | None, path: Path,
                  cam: np.ndarray | None) -> Path:
    """The photo with `cam` (the CAM methods' only: the others' overlays show the photo's
    true colours), the reported boxes and the annotated ones (if any)."""
    from artkit.detection.overlays import overlay, save_overlay

    annotated = truth.boxes.get(truth.id_by_name().get(result.path.name, -1)) \
        if truth is not None else None
    scaled = Detections(result.boxes * photo.scale, result.scores)
    return save_overlay(overlay(photo.image, scaled, cam,
                                None if annotated is None else annotated * photo.scale), path)


def result_rows(detections: Sequence[Detection], image_ids: Sequence[int], category_id: int
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The COCO results rows of the photos: every scored candidate (for the json; AP needs
    them), each marked ``reported``, and the reported paintings alone (for the csv and the
    table), with their ``label``, ``label_score``, ``labels``, ``crop`` and ``quad``."""
    from artkit.detection.coco import coco_results, pixels

    extras: list[dict[int, dict[str, Any]]] = []
    for detection in detections:
        marks: dict[int, dict[str, Any]] = {int(k): {"reported": False}
                                            for k in range(len(detection.candidates))}
        for rank, k in enumerate(detection.candidate_index.tolist()):
            fields: dict[str, Any] = {"reported": True}
            if detection.quads is not None:
                fields["quad"] = pixels(detection.quads[rank])
            if rank < len(detection.crops):
                fields["crop"] = str(detection.crops[rank])
            if rank < len(detection.classified) and detection.classified[rank].ok:
                prediction = detection.classified[rank]
                label = prediction.label
                score = float(prediction.scores[list(prediction.model_labels).index(label)]) \
                    if label is not None and prediction.scores is not None else None
                fields.update(label=label or "",
                              label_score="" if score is None else round(score, 6),
                              labels=list(prediction.labels))
            marks[int(k)] = fields
        extras.append(marks)
    rows = coco_results([(image_id, str(d.path), d.candidates)
                         for image_id, d in zip(image_ids, detections, strict=True)],
                        category_id, extras)
    return rows, [row for row in rows if row["reported"]]


class StemNamer:
    """File names for a photo's crops and overlay: its stem, with the photo's position
    added when two photos share a stem."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def stem(self, path: Path, index: int) -> str:
        """`path`'s stem, or with `_index` (its position in the inputs) once taken."""
        stem = path.stem
        if stem in self.used:
            stem = f"{stem}_{index}"
        self.used.add(stem)
        return stem


def _crop_and_classify(results: list[Detection], photos: list[Any], stems: list[str],
                       crop_dir: Path | None, classifier: Model | None) -> None:
    """Write each reported painting's crop (``<stem>-<rank>.jpg`` into `crop_dir`, else a
    temporary folder for the classifier) and classify the crops, batch by batch."""
    from artkit.detection.crops import crop_painting
    from artkit.detection.overlays import save_overlay

    with tempfile.TemporaryDirectory(prefix="artkit-crops-") as scratch:
        folder = crop_dir if crop_dir is not None else Path(scratch)
        files: list[tuple[Detection, Path]] = []
        for result, photo, stem in zip(results, photos, stems, strict=True):
            for rank, box in enumerate(result.boxes, start=1):
                quad = result.quads[rank - 1] if result.quads is not None else None
                crop = crop_painting(photo.image, box * photo.scale,
                                     None if quad is None else quad * photo.scale)
                path = save_overlay(crop, folder / f"{stem}-{rank:02d}.jpg")
                files.append((result, path))
                if crop_dir is not None:
                    result.crops.append(path)
        if classifier is None or not files:
            return
        # the photos' bar goes on; the crops' own bar would be a second live display
        for prediction in classifier.predict([str(p) for _, p in files],
                                             progress=lambda event: None):
            files[prediction.index][0].classified.append(prediction)


# -- scoring against annotations -----------------------------------------------------------
@dataclass
class DetectionReport:
    """Boxes scored against annotations: the metrics, and the threshold sweep if asked."""

    result: EvalResult
    truth: CocoTruth
    n_photos: int
    n_unmatched: int
    """Photos not in the annotations (matched by file name): not scored."""
    cam_threshold: float | None
    """The CAM threshold the detections were scored at (None: a boxes file's boxes)."""
    sweep: list[dict[str, float]] = field(default_factory=list)
    best_ap50: dict[str, float] | None = None
    max_box_acc: dict[str, float] | None = None
    """The sweep row with the best CorLoc (MaxBoxAcc, Choe et al. 2020)."""
    plots: list[Path] = field(default_factory=list)

    @property
    def metrics(self) -> dict[str, float]:
        return self.result.metrics

    def stored(self, *, boxes: Path | None, method: str | None = None,
               min_score: float | None = None, model: Path | None = None,
               photos: list[str] | None = None) -> BoxesMetrics:
        """The metrics file's contents (:class:`BoxesMetrics`)."""
        sweep = None
        if self.sweep:
            sweep = {"rows": self.sweep, "best_ap50": self.best_ap50,
                     "max_box_acc": self.max_box_acc, "plots": [str(self.plots[-1])]}
        return BoxesMetrics(
            gt=str(self.truth.path), category=self.truth.category,
            metrics={k: float(v) for k, v in self.result.metrics.items()},
            intervals={k: [float(v) for v in bounds]
                       for k, bounds in self.result.intervals.items()},
            plots=[str(p) for p in self.result.plots],
            boxes=str(boxes) if boxes is not None else None, photos=photos, method=method,
            model=str(model) if model is not None else None, min_score=min_score,
            cam_threshold=self.cam_threshold, sweep=sweep)


def _as_truth(truth: CocoTruth | str | Path, class_name: str | None) -> CocoTruth:
    return truth if isinstance(truth, CocoTruth) else read_coco_truth(truth, class_name)


def evaluate_detections(detections: Sequence[Detection], truth: CocoTruth | str | Path,
                        out_dir: str | Path, cam_threshold: float = CAM_THRESHOLD,
                        sweep: bool = False, *, class_name: str | None = None
                        ) -> DetectionReport:
    """Score every scored candidate of the annotated photos against `truth` (a COCO
    annotations file, or the :class:`~artkit.detection.coco.CocoTruth` read from one; its
    category `class_name`, default: the only one) at the CAM threshold `cam_threshold`,
    and over every CAM threshold the detections were made at when `sweep` (``detect(...,
    cam_thresholds=...)``). The PR curve (and the sweep's plot) go into `out_dir`."""
    from artkit.training.evaluation import evaluator_for

    truth = _as_truth(truth, class_name)
    out_dir = Path(out_dir)
    by_name = truth.id_by_name()
    matched = [(by_name[d.path.name], d) for d in detections
               if d.ok and d.path.name in by_name]
    n_ok = sum(d.ok for d in detections)
    if not matched:
        raise ArtkitError("none of the photos is in the annotations (matched by file name)",
                          truth.path)
    gt_boxes = [truth.boxes[image_id] for image_id, _ in matched]
    evaluator = evaluator_for("detection")
    result = evaluator.evaluate(gt_boxes, [d.by_threshold[cam_threshold] for _, d in matched],
                                ["painting"], out_dir)
    report = DetectionReport(result, truth, len(matched), n_ok - len(matched),
                             float(cam_threshold), plots=list(result.plots))
    if sweep:
        for t in sorted(matched[0][1].by_threshold):
            scored = evaluator.evaluate(gt_boxes, [d.by_threshold[t] for _, d in matched],
                                        ["painting"], out_dir, plot=False)
            report.sweep.append({"threshold": float(t),
                                 **{k: float(scored.metrics[k]) for k in SWEEP_METRICS}})
        report.best_ap50 = max(report.sweep, key=lambda r: r["ap50"])
        report.max_box_acc = max(report.sweep, key=lambda r: r["corloc"])
        report.plots.append(_sweep_plot(report.sweep, out_dir / "threshold_sweep.png"))
    return report


def _sweep_plot(rows: list[dict[str, float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from artkit.reports.plots import save_figure

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    thresholds = [r["threshold"] for r in rows]
    for key, label in (("ap50", "AP@0.5"), ("corloc", "CorLoc (BoxAcc)"),
                       ("recall50", "recall@0.5")):
        ax.plot(thresholds, [r[key] for r in rows], marker="o", ms=3, label=label)
    ax.set(xlabel="CAM threshold (share of the map's peak)", ylabel="score", ylim=(0, 1),
           title="threshold sweep")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


@dataclass
class BoxesEvaluation:
    """A boxes file scored against annotations (:func:`evaluate_boxes`)."""

    result: EvalResult
    truth: CocoTruth
    """The annotations read (their category, their images)."""
    path: Path
    """The metrics file written (:class:`BoxesMetrics`)."""

    @property
    def metrics(self) -> dict[str, float]:
        return self.result.metrics


def evaluate_boxes(boxes: str | Path, gt: str | Path, *, class_name: str | None = None,
                   out: str | Path | None = None) -> BoxesEvaluation:
    """Score a COCO results file (e.g. the json :func:`detect` writes) against COCO
    annotations; every annotated image counts (one with no predicted box misses all its
    paintings). Writes ``metrics.json`` (:class:`BoxesMetrics`) and the PR curve into `out`
    (default: ``<boxes>-eval`` beside the boxes file)."""
    from artkit.detection.coco import read_coco_results
    from artkit.training.evaluation import evaluator_for

    boxes = Path(boxes)
    truth = read_coco_truth(gt, class_name)
    found = read_coco_results(boxes, truth)
    ids = sorted(truth.boxes)
    out_dir = Path(out) if out is not None else boxes.with_name(boxes.stem + "-eval")
    result = evaluator_for("detection").evaluate(
        [truth.boxes[i] for i in ids], [found[i] for i in ids], ["painting"], out_dir)
    report = DetectionReport(result, truth, len(ids), 0, None)
    path = report.stored(boxes=boxes).write(out_dir / "metrics.json")
    return BoxesEvaluation(result, truth, path)
