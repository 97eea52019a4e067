"""`artkit.detect(photos)`: find paintings in photos of rooms, and score boxes against
annotations.

The detection method is a plugin (``method=``); without one, the measured best method
runs: ``frames+cnn`` when a CAM model is given or found, else ``frames``, which needs none.
Results stream in input order as :class:`Detection` objects; :func:`evaluate_detections`
scores them against COCO annotations (and sweeps the CAM threshold when asked).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from artkit import plugins
from artkit.api.engine import Engine, detect_stream
from artkit.api.model import Inputs, Model, as_expanded
from artkit.console import ProgressCallback, info, make_progress, reporting
from artkit.contracts import Detections, EvalResult
from artkit.errors import ArtkitError, PluginError

#: The measured best method (docs/detection.md): what `detect` runs without `method` when
#: it has a model; without one it runs the best method that needs none.
DEFAULT_METHOD = "frames+cnn"
DEFAULT_METHOD_WITHOUT_MODEL = "frames"
SWEEP_METRICS = ("ap50", "ap", "recall50", "corloc", "mean_best_iou")


@dataclass
class Detection:
    """The paintings found in one photo (boxes in the photo's own pixels), or its error."""

    index: int
    """Position in the inputs."""
    path: Path
    status: Literal["ok", "error"]
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    """float32 (n, 4): x1, y1, x2, y2."""
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    error: str | None = None
    size: tuple[int, int] | None = None
    """The photo's (height, width)."""
    by_threshold: dict[float, Detections] = field(default_factory=dict, repr=False)
    """Every threshold asked for (``thresholds=``), the main one included."""
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
        if not self.ok:
            return {"path": str(self.path), "status": self.status, "error": self.error}
        return {"path": str(self.path), "status": "ok",
                "boxes": self.boxes.round(1).tolist(),
                "scores": [round(float(s), 4) for s in self.scores]}


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

    Without a method: the measured best (frames+cnn) when a model is given or found, else
    frames, which needs none."""
    from artkit.detection import default_cam_model

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
    method = plugins.get(plugins.Kind.DETECTION_METHOD, method_name)
    foreign = sorted(set(options) - {spec.name for spec in method.options})
    if foreign:
        raise PluginError(f"method '{method.name}' has no option(s) "
                          + ", ".join("--" + k.replace("_", "-") for k in foreign))
    if _needs_model(method) and model is None:
        model, where = default_cam_model()
        notes.append(f"using {where}")
    return DetectionSetup(method, model, notes)


def detect(photos: Inputs, *, model: str | Path | Model | None = None,
           method: str | None = None, threshold: float = 0.2,
           thresholds: Sequence[float] = (), class_name: str | None = None,
           options: dict[str, Any] | None = None, batch_size: int = 16,
           device: Literal["auto", "cpu", "cuda"] = "auto", engine: Engine = "local",
           ray_address: str | None = None, keep_images: bool = False,
           progress: bool | ProgressCallback | None = None) -> Iterator[Detection]:
    """Find paintings in each photo; yields one :class:`Detection` per input, in order.

    `model`: an exported model with a ``cams`` output (a path or :class:`Model`); None
    uses the most recent vgg19-cam export when there is one. `method`: a detection-method
    plugin name (see ``artkit plugins``). `threshold`: the CAM threshold as a share of the
    map's peak; `thresholds` adds more (``Detection.by_threshold``, for sweeps).
    `options`: the method's own options. A photo that cannot be read gives a Detection
    with status ``error``; the rest go on."""
    from artkit.detection import open_cam_model

    options = dict(options or {})
    with reporting(progress):
        model_path = model.path if isinstance(model, Model) else \
            (Path(model) if model is not None else None)
        setup = choose_method(method, model_path, options)
        for note in setup.notes:
            info(note)
        cam_model = None
        if setup.model_path is not None:
            cam_model = open_cam_model(setup.model_path, class_name, device)
            info(f"model {setup.model_path}: CAM of class '{cam_model.class_name}'")
        paths = as_expanded(photos).paths
        asked = tuple(sorted({float(threshold), *map(float, thresholds)}))
        stream = detect_stream(paths, setup.method, asked, options, cam_model, engine=engine,
                               batch_size=batch_size, device=device, address=ray_address,
                               keep_images=keep_images)
        with make_progress() as bar:
            task = bar.add_task(f"detect ({setup.method.name})", total=len(paths))
            for found, failed in stream:
                results = [_detection(photo, threshold, keep_images) for photo in found]
                results += [Detection(f.index, Path(f.path), "error", error=f.reason)
                            for f in failed]
                bar.advance(task, len(results))
                yield from sorted(results, key=lambda d: d.index)


def _detection(photo: Any, threshold: float, keep_images: bool) -> Detection:
    main = photo.detections[threshold]
    return Detection(photo.index, Path(photo.path), "ok", main.boxes, main.scores,
                     size=photo.size, by_threshold=photo.detections,
                     image=photo.image if keep_images else None,
                     cam=photo.cam if keep_images else None)


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
    """Score the detections of the annotated photos (`truth`: a
    :class:`~artkit.detection_io.CocoTruth`), at `threshold`, and over every swept
    threshold when `sweep` (the detections must have been made with ``thresholds=``)."""
    from artkit.evaluation import evaluator_for

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

    from artkit.plots import save_figure

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
    from artkit import io as aio
    from artkit.detection_io import read_coco_results, read_coco_truth
    from artkit.evaluation import evaluator_for

    truth = read_coco_truth(gt, class_name)
    found = read_coco_results(predictions, truth)
    ids = sorted(truth.boxes)
    out_dir = out or predictions.with_name(predictions.stem + "-eval")
    evaluator = evaluator_for("detection")
    result = evaluator.evaluate([truth.boxes[i] for i in ids], [found[i] for i in ids],
                                ["painting"], out_dir)
    path = aio.write_json(out_dir / "metrics.json", {
        "predictions": str(predictions), "gt": str(gt), "category": truth.category,
        "metrics": result.metrics, "plots": [str(p) for p in result.plots]})
    return result, truth, path

