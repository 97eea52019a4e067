"""Run a detection method over many photos: decode, CAMs from an exported model, boxes.

Photos stream through :func:`artkit.runtime.pipeline.iter_batches` (decoding overlapped
with inference, memory flat over any number of files). Each photo is decoded once: a
working copy, shrunk to at most `max_side` pixels, feeds the detection method and the
overlays, and a copy at the network's input size feeds onnxruntime. The CAM of the chosen
class is upsampled onto the working copy, and boxes are mapped back to the original
photo's pixels at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from artkit import registry
from artkit.contracts import Detections, capability
from artkit.data.decode import read_image, resize_to
from artkit.detection.cam import upsample
from artkit.errors import ArtkitError
from artkit.formats.model_card import ModelCard
from artkit.runtime.pipeline import Failure, iter_batches

#: Photos larger than this (longest side) are worked on shrunk; boxes are mapped back.
MAX_SIDE = 1280
CAM_OUTPUT = "cams"
#: The class whose activation map or probability finds paintings, unless told otherwise.
DEFAULT_CLASS = "painting"


@dataclass
class CamModel:
    """An exported image model, the class it looks for, and whether it has a ``cams``
    output (the CAM methods need one; ``frames+cnn`` only classifies crops)."""

    path: Path
    session: Any
    card: ModelCard
    class_index: int

    @property
    def has_cams(self) -> bool:
        return CAM_OUTPUT in self.card.outputs

    @property
    def class_name(self) -> str:
        return self.card.labels[self.class_index]

    @property
    def input_size(self) -> tuple[int, int]:
        from artkit.runtime.preprocess import input_size

        return input_size(self.card)

    def cams(self, batch: np.ndarray) -> np.ndarray:
        """(n, h, w) maps of the chosen class for a float32 (n, H, W, 3) batch."""
        name = self.session.get_inputs()[0].name
        (cams,) = self.session.run([CAM_OUTPUT], {name: batch})
        return cams[..., self.class_index]

    def classify(self, crops: Sequence[np.ndarray], batch_size: int = 32) -> np.ndarray:
        """Probability of the chosen class for each RGB crop (resized to the input size)."""
        if not len(crops):
            return np.zeros(0, np.float32)
        name = self.session.get_inputs()[0].name
        probabilities = []
        for start in range(0, len(crops), batch_size):
            batch = np.stack([resize_to(c, self.input_size)
                              for c in crops[start:start + batch_size]]).astype(np.float32)
            (scores,) = self.session.run(["scores"], {name: batch})
            probabilities.append(scores[:, self.class_index])
        return np.concatenate(probabilities)


def open_cam_model(path: Path, class_name: str | None, device: str = "auto",
                   needs_cams: bool = True) -> CamModel:
    """Load an exported image model for detection; with `needs_cams` it must have a
    ``cams`` output."""
    from artkit.runtime.session import create_session

    session = create_session(path, device=device)  # type: ignore[arg-type]
    card = ModelCard.from_session(session, path)
    outputs = {o.name for o in session.get_outputs()}
    if card.input_kind != "image" or "scores" not in outputs:
        raise ArtkitError("not an image classification model", path,
                          hint="export an image model (linear-probe, mobilenet, vgg19-cam, ...)")
    if needs_cams and CAM_OUTPUT not in outputs:
        raise ArtkitError("this model has no class activation maps (no 'cams' output)", path,
                          hint="export a CAM-capable model (vgg19-cam, mobilenet, ...) or use "
                          "--method frames+cnn or frames")
    labels = card.labels
    class_name = class_name or DEFAULT_CLASS
    if class_name not in labels:
        raise ArtkitError(f"the model has no class '{class_name}' (its classes: "
                          f"{', '.join(labels)})", path,
                          hint="choose the class to look for with --class")
    return CamModel(path=path, session=session, card=card, class_index=labels.index(class_name))


def fallback_cam_models() -> list[str]:
    """The model plugins `detect` falls back on without a model, best first: those that
    declare ``default_cam_rank`` (:data:`artkit.contracts.OPTIONAL`)."""
    ranked = []
    for name, plugin in registry.of_kind(registry.Kind.MODEL).items():
        rank = capability(plugin.obj, "default_cam_rank")
        if rank is not None:
            ranked.append((rank, name))
    return [name for _, name in sorted(ranked)]


def latest_cam_export(model: str, folder: Path = Path("exported")) -> Path | None:
    """The most recently exported file of `model` with a ``cams`` output in `folder`."""
    found: list[tuple[str, float, Path]] = []
    for path in sorted(folder.glob("*.onnx")) if folder.is_dir() else []:
        try:
            card = ModelCard.read(path)
        except ArtkitError:
            continue
        if card.model == model and CAM_OUTPUT in card.outputs:
            found.append((card.exported_at or "", path.stat().st_mtime, path))
    return max(found)[2] if found else None


def default_cam_model() -> tuple[Path, str]:
    """The model `detect` uses without one, and a sentence saying where it is from: the
    bundled painting detector (artkit/bundled), else the latest export of a fallback CAM
    model (:func:`fallback_cam_models`, best first), else a fresh export of the most recent
    finished run of one."""
    from artkit.bundled import painting_detector
    from artkit.training.runs import resolve_run

    bundled = painting_detector()
    if bundled is not None:
        return bundled, f"the bundled painting detector ({bundled.name}, docs/detection.md)"
    models = fallback_cam_models()
    for model in models:
        path = latest_cam_export(model)
        if path is not None:
            return path, f"the most recent {model} export, {path}"
    for model in models:
        try:
            run = resolve_run(None, model=model)
        except ArtkitError:
            continue
        from artkit.onnx_export.run_export import export_run  # onnx and the exporters: only here

        result = export_run(run)
        return result.path, (f"a fresh export of the most recent {model} run {run.dir}, "
                             f"{result.path}")
    named = " or ".join(models) or "CAM"
    first = models[0] if models else "MODEL"
    raise ArtkitError(f"no model given and no {named} model found in exported/ or runs/",
                      hint=f"train one (`artkit train {first}`), export it (`artkit export "
                      "onnx`), pass --model FILE.onnx, or use --method frames")


@dataclass
class Photo:
    """One photo after detection; boxes are in the original photo's pixels."""

    index: int
    path: Path
    size: tuple[int, int]
    """Original (height, width)."""
    image: np.ndarray
    """Working copy (longest side at most MAX_SIDE), RGB."""
    cam: np.ndarray | None
    """CAM of the chosen class on the working copy's pixels."""
    detections: dict[float, Detections]
    """Boxes per CAM threshold."""

    @property
    def scale(self) -> float:
        return self.image.shape[0] / self.size[0]


Reader = Callable[[Path, tuple[int, int]], tuple[np.ndarray, tuple[int, int]]]
"""Decodes one photo: (path, min_size) -> (RGB array, full-resolution (height, width))."""


def working_copy(image: np.ndarray, size: tuple[int, int], max_side: int = MAX_SIDE
                 ) -> np.ndarray:
    """The copy of a photo of full-resolution (height, width) `size` that detection and
    identification work on: its longer side at most `max_side`. `image` is the photo as
    decoded, possibly already at a reduced scale."""
    height, width = size
    scale = min(1.0, max_side / max(height, width))
    return resize_to(image, (max(1, round(height * scale)), max(1, round(width * scale))))


def _loader(network_size: tuple[int, int] | None, max_side: int, read: Reader = read_image):
    def load(path: Path) -> tuple[tuple[np.ndarray, np.ndarray | None], tuple[int, int]]:
        # a photo far above max_side may be decoded at 1/2..1/8 scale (never below it)
        image, (height, width) = read(path, (max_side, max_side))
        work = working_copy(image, (height, width), max_side)
        network = resize_to(work, network_size) if network_size else None
        return (work, network), (height, width)

    return load


def _collate(items: list[tuple[np.ndarray, np.ndarray | None]]
             ) -> tuple[list[np.ndarray], np.ndarray | None]:
    works = [work for work, _ in items]
    if items[0][1] is None:
        return works, None
    return works, np.stack([network for _, network in items]).astype(np.float32)


def detect_photos(paths: Sequence[Path], method: Any, thresholds: Sequence[float],
                  options: dict[str, Any], model: CamModel | None = None,
                  batch_size: int = 16, workers: int = 2, max_side: int = MAX_SIDE,
                  read: Reader = read_image) -> Iterator[tuple[list[Photo], list[Failure]]]:
    """Per batch, the photos with their boxes at each threshold, and the files that failed.
    `read` decodes a photo (default: from its file; `artkit serve` gives uploads in memory)."""
    needs_model = method.needs_cam or capability(method, "needs_classifier")
    if needs_model and model is None:
        raise ArtkitError(f"method '{method.name}' needs a CAM model (--model)")
    use_model = model  # a model given to a method without CAMs still paints the overlays
    if capability(method, "needs_classifier"):
        options = {**options, "classify": model.classify}  # type: ignore[union-attr]
    loader = _loader(use_model.input_size if use_model else None, max_side, read)
    for batch in iter_batches(paths, loader, batch_size=batch_size, workers=workers,
                              collate=_collate):
        photos: list[Photo] = []
        if len(batch):
            works, network = batch.items
            cams = (use_model.cams(network) if use_model is not None and use_model.has_cams
                    else [None] * len(works))
            for index, path, size, work, small in zip(batch.indices, batch.paths, batch.sizes,
                                                      works, cams, strict=True):
                cam = upsample(small, *work.shape[:2]) if small is not None else None
                photo = Photo(index, path, size, work, cam, {})
                for threshold in thresholds:
                    found = method.detect(work, cam if method.needs_cam else None, threshold,
                                          **options)
                    quads = found.quads
                    photo.detections[threshold] = Detections(
                        (np.asarray(found.boxes, np.float32) / photo.scale).reshape(-1, 4),
                        np.asarray(found.scores, np.float32).reshape(-1),
                        None if quads is None
                        else (np.asarray(quads, np.float32) / photo.scale).reshape(-1, 4, 2))
                photos.append(photo)
        yield photos, batch.failures
