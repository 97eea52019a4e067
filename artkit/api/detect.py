"""`artkit.detect(photos)`: find paintings in photos of rooms, and score boxes against
annotations.

The detection method is a plugin (``method=``); without one, the measured best method
runs: ``frames+cnn`` when a CAM model is given or found, else ``frames``, which needs none.
Results stream in input order as :class:`Detection` objects: the reported paintings
(score at least `threshold`, at most `max_det`), every scored candidate beside them (what
AP is computed on), and, when asked, each painting's crop (rectified when the method gives
its four corners) and its labels from a classification model. :func:`evaluate_detections`
scores them against COCO annotations (and sweeps the CAM threshold when asked).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from artkit import registry
from artkit.api.engine import Engine, detect_stream
from artkit.api.model import Inputs, Model, as_expanded
from artkit.console import ProgressCallback, info, make_progress, reporting
from artkit.contracts import Detections, EvalResult, capability
from artkit.errors import ArtkitError, PluginError
from artkit.runtime.prediction import Prediction

#: The measured best method (docs/detection.md): what `detect` runs without `method` when
#: it has a model; without one it runs the best method that needs none.
DEFAULT_METHOD = "frames+cnn"
DEFAULT_METHOD_WITHOUT_MODEL = "frames"
SWEEP_METRICS = ("ap50", "ap", "recall50", "corloc", "mean_best_iou")
#: The CAM paper's rule: pixels above 20% of the map's peak (``cam_threshold``).
CAM_THRESHOLD = 0.2
#: At most this many paintings are reported per photo (COCO's limit for AP, too).
MAX_DET = 100


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
    """Every scored candidate, below the threshold too (what AP is computed on)."""
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


@dataclass
class DetectionSetup:
    """What :func:`choose_method` settled on."""

    method: Any
    model_path: Path | None
    notes: list[str] = field(default_factory=list)


def _needs_model(method: Any) -> bool:
    from artkit.contracts import capability

    return bool(method.needs_cam or capability(method, "needs_classifier"))


def choose_method(method_name: str | None, model: Path | None,
                  options: dict[str, Any]) -> DetectionSetup:
    """The method plugin and the model to use; checks the method's options.

    Without a model: the bundled painting detector (else the latest vgg19-cam export).
    Without a method: the measured best (frames+cnn) when a model is given or found, else
    frames, which needs none."""
    from artkit.detection.pipeline import default_cam_model

    notes: list[str] = []
    if method_name is None:
        if model is None:
            try:
                model, where = default_cam_model()
                notes.append(f"using {where}")
            except ArtkitError:
                model = None
        method_name = DEFAULT_METHOD if model is not None else DEFAULT_METHOD_WITHOUT_MODEL
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


def reported_threshold(method: Any, threshold: float | None) -> float:
    """The minimum score of a reported painting: `threshold`, else the method's default."""
    if threshold is not None:
        return float(threshold)
    return float(capability(method, "default_threshold"))


def detect(photos: Inputs, *, model: str | Path | Model | None = None,
           method: str | None = None, threshold: float | None = None,
           cam_threshold: float = CAM_THRESHOLD, cam_thresholds: Sequence[float] = (),
           max_det: int = MAX_DET, crops: str | Path | None = None,
           classify: str | Path | Model | None = None, class_name: str | None = None,
           options: dict[str, Any] | None = None, batch_size: int = 16,
           device: Literal["auto", "cpu", "cuda"] = "auto", engine: Engine = "local",
           ray_address: str | None = None, keep_images: bool = False,
           progress: bool | ProgressCallback | None = None) -> Iterator[Detection]:
    """Find paintings in each photo; yields one :class:`Detection` per input, in order.

    `model`: an exported model with a ``cams`` output (a path or :class:`Model`); None
    uses the bundled painting detector (``artkit/bundled``). `method`: a detection-method
    plugin name (see ``artkit plugins``). `threshold`: the minimum score of a reported
    painting (None: the method's own default; every candidate is kept in
    ``Detection.candidates``); `max_det`: at most this many reported per photo.
    `cam_threshold`: the CAM paper's rule for the methods that threshold the CAM (``cam``,
    ``cam+frames``), a share of the map's peak; `cam_thresholds` adds more
    (``Detection.by_threshold``, for sweeps). `crops`: a folder to write each reported
    painting into as a JPEG (rectified to a frontal rectangle when the method gives its four
    corners). `classify`: an exported classification model run on each reported painting
    (``Detection.classified``). `options`: the method's own options. A photo that cannot be
    read gives a Detection with status ``error``; the rest go on."""
    from artkit.detection.pipeline import open_cam_model

    options = dict(options or {})
    if max_det < 1:
        raise ArtkitError("max_det must be at least 1")
    with reporting(progress):
        model_path = model.path if isinstance(model, Model) else \
            (Path(model) if model is not None else None)
        setup = choose_method(method, model_path, options)
        for note in setup.notes:
            info(note)
        cam_model = None
        if setup.model_path is not None:
            cam_model = open_cam_model(setup.model_path, class_name, device,
                                       needs_cams=setup.method.needs_cam)
            info(f"model {setup.model_path}: class '{cam_model.class_name}'")
        classifier = _classifier(classify, device)
        crop_dir = Path(crops) if crops is not None else None
        minimum = reported_threshold(setup.method, threshold)
        paths = as_expanded(photos).paths
        asked = tuple(sorted({float(cam_threshold), *map(float, cam_thresholds)}))
        needs_pixels = keep_images or crop_dir is not None or classifier is not None
        stream = detect_stream(paths, setup.method, asked, options, cam_model, engine=engine,
                               batch_size=batch_size, device=device, address=ray_address,
                               keep_images=needs_pixels)
        namer = CropNamer()
        with make_progress() as bar:
            task = bar.add_task(f"detect ({setup.method.name})", total=len(paths))
            for found, failed in stream:
                results = [_detection(photo, float(cam_threshold), minimum, max_det)
                           for photo in found]
                if crop_dir is not None or classifier is not None:
                    _crop_and_classify(results, found, crop_dir, classifier, namer)
                if keep_images:
                    for result, photo in zip(results, found, strict=True):
                        result.image, result.cam = photo.image, photo.cam
                results += [Detection(f.index, Path(f.path), "error", error=f.reason)
                            for f in failed]
                bar.advance(task, len(results))
                yield from sorted(results, key=lambda d: d.index)


def _classifier(classify: str | Path | Model | None, device: str) -> Model | None:
    if classify is None or isinstance(classify, Model):
        return classify
    from artkit.api.model import load

    return load(classify, device=device)  # type: ignore[arg-type]


def _detection(photo: Any, cam_threshold: float, minimum: float, max_det: int) -> Detection:
    """The reported paintings (score >= minimum, best first, at most max_det) of a photo."""
    every = photo.detections[cam_threshold]
    order = np.argsort(-every.scores, kind="stable")
    order = order[every.scores[order] >= minimum][:max_det]
    quads = every.quads[order] if every.quads is not None else None
    return Detection(photo.index, Path(photo.path), "ok", every.boxes[order],
                     every.scores[order], size=photo.size, quads=quads, candidates=every,
                     candidate_index=order.astype(np.int64), by_threshold=photo.detections)


def result_rows(detections: Sequence[Detection], image_ids: Sequence[int], category_id: int
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The COCO results rows of the photos: every scored candidate (for the json; AP needs
    them), each marked ``reported``, and the reported paintings alone (for the csv and the
    table), with their ``label``, ``label_score``, ``labels``, ``crop`` and ``quad``."""
    from artkit.detection.coco import coco_results, pixels

    extras: list[dict[int, dict[str, Any]]] = []
    for detection in detections:
        marks: dict[int, dict[str, Any]] = {int(k): {"reported": False}
                                            for k in range(len(detection.candidates.scores))}
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


class CropNamer:
    """File names for crops: ``<photo stem>-<rank>.jpg``, the photo's position added when
    two photos share a stem."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def stem(self, detection: Detection) -> str:
        stem = detection.path.stem
        if stem in self.used:
            stem = f"{stem}_{detection.index}"
        self.used.add(stem)
        return stem


def _crop_and_classify(results: list[Detection], photos: list[Any], crop_dir: Path | None,
                       classifier: Model | None, namer: CropNamer) -> None:
    """Write each reported painting's crop (into `crop_dir`, else a temporary folder for
    the classifier) and classify the crops, batch by batch."""
    import tempfile

    from artkit.detection.crops import crop_painting
    from artkit.detection.overlays import save_overlay

    with tempfile.TemporaryDirectory(prefix="artkit-crops-") as scratch:
        folder = crop_dir if crop_dir is not None else Path(scratch)
        files: list[tuple[Detection, Path]] = []
        for result, photo in zip(results, photos, strict=True):
            stem = namer.stem(result)
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
    n_photos: int
    n_unmatched: int
    """Photos not in the annotations (matched by file name): not scored."""
    sweep: list[dict[str, float]] = field(default_factory=list)
    best_ap50: dict[str, float] | None = None
    max_box_acc: dict[str, float] | None = None
    """The sweep row with the best CorLoc (MaxBoxAcc, Choe et al. 2020)."""
    plots: list[Path] = field(default_factory=list)


def evaluate_detections(detections: Sequence[Detection], truth: Any, out_dir: Path,
                        threshold: float, sweep: bool = False) -> DetectionReport:
    """Score every scored candidate of the annotated photos (`truth`: a
    :class:`~artkit.detection.coco.CocoTruth`) at the CAM threshold `threshold`, and over
    every swept CAM threshold when `sweep` (the detections must have been made with
    ``cam_thresholds=``)."""
    from artkit.training.evaluation import evaluator_for

    by_name = truth.id_by_name()
    matched = [(by_name[d.path.name], d) for d in detections
               if d.ok and d.path.name in by_name]
    n_ok = sum(d.ok for d in detections)
    if not matched:
        raise ArtkitError("none of the photos is in the annotations (matched by file name)",
                          truth.path)
    gt_boxes = [truth.boxes[image_id] for image_id, _ in matched]
    evaluator = evaluator_for("detection")
    result = evaluator.evaluate(gt_boxes, [d.by_threshold[threshold] for _, d in matched],
                                ["painting"], out_dir)
    report = DetectionReport(result, len(matched), n_ok - len(matched),
                             plots=list(result.plots))
    if sweep:
        for t in sorted(matched[0][1].by_threshold):
            scored = evaluator.evaluate(gt_boxes, [d.by_threshold[t] for _, d in matched],
                                        ["painting"], out_dir, plot=False)
            report.sweep.append({"threshold": t,
                                 **{k: scored.metrics[k] for k in SWEEP_METRICS}})
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


def evaluate_boxes_file(predictions: Path, gt: Path, class_name: str | None = None,
                        out: Path | None = None) -> tuple[EvalResult, Any, Path]:
    """Score a COCO results file against COCO annotations; every annotated image counts
    (one with no predicted box misses all its paintings). Saves ``metrics.json`` and the
    PR curve into `out` (default: ``<predictions>-eval`` beside it); returns the result,
    the annotations read and the metrics file."""
    from artkit import atomic
    from artkit.detection.coco import read_coco_results, read_coco_truth
    from artkit.training.evaluation import evaluator_for

    truth = read_coco_truth(gt, class_name)
    found = read_coco_results(predictions, truth)
    ids = sorted(truth.boxes)
    out_dir = out or predictions.with_name(predictions.stem + "-eval")
    evaluator = evaluator_for("detection")
    result = evaluator.evaluate([truth.boxes[i] for i in ids], [found[i] for i in ids],
                                ["painting"], out_dir)
    path = atomic.write_json(out_dir / "metrics.json", {
        "predictions": str(predictions), "gt": str(gt), "category": truth.category,
        "metrics": result.metrics, "intervals": result.intervals,
        "plots": [str(p) for p in result.plots]})
    return result, truth, path

