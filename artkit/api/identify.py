"""`artkit.identify(photos, index)`: which artwork of a collection each photo shows.

For each photo: find the paintings (the bundled detector, or `detector=`; with `whole`,
the photo is one artwork: close-ups and objects), cut each out rectified, embed it with the
model that built the index, shortlist the `top_k` nearest items, verify each by a RANSAC
homography on local features, and decide (:class:`~artkit.identification.decide.
IdentifyRule`): an item with a confidence, or ``unknown``. The index must have been built
with ``--local-features`` (and, to print titles, ``--meta``).

:func:`identify` returns an :class:`IdentifyResult`: iterated, one
:class:`PhotoIdentification` per photo, in input order; once every photo is through, the
files asked for are written (``output``: json and csv; ``save_vis``: overlays with titles;
``report``: an HTML page with each photo's boxes beside the matched reference images).
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from artkit.api.detect import Detection, StemNamer
from artkit.api.model import BATCH_SIZE, Inputs, Model, as_expanded, load
from artkit.atomic import atomic_path, write_json
from artkit.console import ProgressCallback, info, make_progress, reporting
from artkit.errors import ArtkitError
from artkit.identification.collection import Collection
from artkit.identification.decide import DEFAULT_FALSE_RATE, IdentifyRule
from artkit.identification.identifier import TOP_K, Identifier, Region, RegionResult

#: At most this many detected paintings per photo are identified (best scores first).
MAX_REGIONS = 12
#: Detected paintings scored at least this are identified: every candidate, since
#: verification is the filter (the detector scores collection items that are not
#: paintings, coins or prints, low: at its own default of 0.01 it offered 75% of the tune
#: half's hung items, at 0 with 12 regions 93%).
MIN_SCORE = 0.0
UNKNOWN = "unknown"
CSV_COLUMNS = ["photo", "x1", "y1", "x2", "y2", "item", "title", "confidence", "method",
               "inliers", "similarity", "detector_score"]


@dataclass
class Identified:
    """One region of a photo and what it shows (``item`` None: ``unknown``)."""

    box: np.ndarray
    """float32 (4,): x1, y1, x2, y2 in the photo's pixels: the box of the artwork's
    verified outline, else the detector's box."""
    quad: np.ndarray | None
    """float32 (4, 2) corners TL, TR, BR, BL: the artwork's verified outline (the item's
    corners mapped by its homography), else the detector's outline when it found one."""
    detector_score: float | None
    item: Path | None
    """The matched collection image (None: not in the collection)."""
    item_id: str | None
    """The item as the index stores it."""
    title: str | None
    meta: dict[str, str]
    confidence: float
    method: Literal["verified", "global"] | None
    inliers: int
    similarity: float
    candidates: list[dict[str, Any]] = field(default_factory=list, repr=False)
    """Every shortlisted item: id, cosine similarity and inliers, best similarity first."""

    @property
    def known(self) -> bool:
        return self.item is not None

    @property
    def label(self) -> str:
        """What to print: the title, else the item's file name, else ``unknown``."""
        if self.item is None:
            return UNKNOWN
        return self.title or self.item.name

    def to_dict(self) -> dict[str, Any]:
        from artkit.detection.coco import pixels

        return {"box": pixels(self.box),
                "quad": pixels(self.quad) if self.quad is not None else None,
                "detector_score": None if self.detector_score is None
                else round(self.detector_score, 4),
                "item": self.item_id, "item_path": str(self.item) if self.item else None,
                "title": self.title, "meta": self.meta,
                "confidence": round(self.confidence, 4), "method": self.method,
                "inliers": self.inliers, "similarity": round(self.similarity, 4),
                "candidates": self.candidates}


@dataclass
class PhotoIdentification:
    """The identified regions of one photo (known items first), or its error."""

    index: int
    path: Path
    status: Literal["ok", "error"]
    regions: list[Identified] = field(default_factory=list)
    size: tuple[int, int] | None = None
    """The photo's (height, width)."""
    error: str | None = None
    overlay: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def known(self) -> list[Identified]:
        """The regions that show a collection item."""
        return [r for r in self.regions if r.known]

    def to_dict(self) -> dict[str, Any]:
        if not self.ok:
            return {"path": str(self.path), "status": self.status, "error": self.error}
        return {"path": str(self.path), "status": "ok", "size": list(self.size or ()),
                "regions": [r.to_dict() for r in self.regions]}


@dataclass
class IdentifyPaths:
    """The files an identification wrote (None or empty: not asked for)."""

    json: Path | None = None
    csv: Path | None = None
    overlays: list[Path] = field(default_factory=list)
    report: Path | None = None


@dataclass
class _Request:
    paths: list[Path]
    collection: Collection
    identifier: Identifier
    whole: bool
    detector: str | Path | Model | None
    min_score: float
    max_regions: int
    output: Path | None
    save_vis: Path | None
    report: Path | None
    batch_size: int
    workers: int
    device: str
    progress: bool | ProgressCallback | None


class IdentifyResult(Iterator[PhotoIdentification]):
    """What :func:`identify` returns: an iterator of one :class:`PhotoIdentification` per
    photo, in input order. When the last photo is through, the files asked for are written;
    reading :attr:`paths` before that runs the remaining photos."""

    def __init__(self, request: _Request):
        self._request = request
        self.index = request.collection.path
        self.rule = request.identifier.rule
        self.photos = 0
        """Photos read."""
        self.identified = 0
        """Regions given a collection item, in all photos."""
        self.regions = 0
        """Regions looked at, in all photos."""
        self.skipped: list[PhotoIdentification] = []
        self._paths = IdentifyPaths()
        self._stream = self._run()

    def __next__(self) -> PhotoIdentification:
        return next(self._stream)

    def __iter__(self) -> IdentifyResult:
        return self

    def finish(self) -> IdentifyResult:
        """Run the photos not yet iterated (and write the files); returns itself."""
        for _ in self:
            pass
        return self

    @property
    def paths(self) -> IdentifyPaths:
        return self.finish()._paths

    def summary(self) -> dict[str, Any]:
        """Counts and the rule, as the json file's header records them."""
        return {"index": str(self.index), "photos": self.photos, "skipped": len(self.skipped),
                "regions": self.regions, "identified": self.identified,
                "rule": {"min_inliers": self.rule.min_inliers,
                         "min_similarity": self.rule.min_similarity},
                "top_k": self._request.identifier.top_k, "whole": self._request.whole}

    def _run(self) -> Iterator[PhotoIdentification]:
        request = self._request
        kept: list[PhotoIdentification] = []
        with reporting(request.progress):
            for found in _identified(request):
                if found.ok:
                    self.photos += 1
                    self.regions += len(found.regions)
                    self.identified += len(found.known)
                    if found.overlay is not None:
                        self._paths.overlays.append(found.overlay)
                else:
                    self.skipped.append(found)
                kept.append(found)
                yield found
            if self.photos:
                self._write(kept)

    def _write(self, found: list[PhotoIdentification]) -> None:
        request = self._request
        document = {**self.summary(), "results": [f.to_dict() for f in found]}
        if request.output is not None:
            self._paths.json = write_json(request.output.with_suffix(".json"), document)
            self._paths.csv = write_csv(found, request.output.with_suffix(".csv"))
        if request.report is not None:
            from artkit.reports.identify_report import identify_report

            self._paths.report = identify_report(document, request.report)


def write_csv(found: Sequence[PhotoIdentification], path: Path) -> Path:
    """One row per region of each photo read (``unknown`` ones too), atomically."""
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for photo in found:
            for region in photo.regions:
                writer.writerow([photo.path, *(f"{v:.1f}" for v in region.box),
                                 region.item_id or UNKNOWN, region.title or "",
                                 f"{region.confidence:.4f}", region.method or "",
                                 region.inliers, f"{region.similarity:.4f}",
                                 "" if region.detector_score is None
                                 else f"{region.detector_score:.4f}"])
    return path


def identify(photos: Inputs, index: str | Path, *, model: str | Path | Model | None = None,
             detector: str | Path | Model | None = None, whole: bool = False,
             top_k: int = TOP_K, false_rate: float = DEFAULT_FALSE_RATE,
             rule: IdentifyRule | None = None, min_score: float = MIN_SCORE,
             max_regions: int = MAX_REGIONS, exact: bool = False,
             output: str | Path | None = None, save_vis: str | Path | None = None,
             report: str | Path | None = None, batch_size: int = BATCH_SIZE,
             workers: int | None = None, device: Literal["auto", "cpu", "cuda"] = "auto",
             progress: bool | ProgressCallback | None = None) -> IdentifyResult:
    """Identify the artworks in `photos` against the collection `index` (built by
    :func:`~artkit.api.embed.build_index` with ``local_features=True``).

    `model`: the embedding model (default: the one that built the index). `detector`: the
    painting detector (default: the bundled one); `whole` skips it and treats each photo
    as one artwork. `top_k` items are verified per painting. The rule is
    ``IdentifyRule.for_false_rate(false_rate)`` unless `rule` is given. `min_score` and
    `max_regions`: which detected paintings are looked at. `exact`: search every vector
    even when the index has an HNSW graph.

    Files: `output` (``NAME.json`` or ``NAME.csv``: both are written), `save_vis` (a
    folder of overlays: each painting's box and title), `report` (an HTML page). A photo
    that cannot be read is reported with status ``error`` and the rest go on."""
    from artkit.runtime.session import cpu_count

    if top_k < 1 or max_regions < 1 or batch_size < 1:
        raise ArtkitError("top_k, max_regions and batch_size must be at least 1")
    if output is not None and Path(output).suffix.lower() not in (".json", ".csv"):
        raise ArtkitError("the output must end in .json or .csv (both are written)", output)
    with reporting(progress):
        paths = as_expanded(photos).paths
        identifier = open_identifier(index, model=model, top_k=top_k, false_rate=false_rate,
                                     rule=rule, exact=exact, device=device)
        chosen, collection = identifier.rule, identifier.collection
        info(f"index {collection.path}: {len(collection):,} items; accepting "
             f"{chosen.min_inliers}+ inliers, or cosine {chosen.min_similarity:.2f}+ "
             "unverified")
    return IdentifyResult(_Request(
        paths=paths, collection=collection, identifier=identifier,
        whole=whole, detector=detector, min_score=min_score, max_regions=max_regions,
        output=_path(output), save_vis=_path(save_vis), report=_path(report),
        batch_size=batch_size, workers=workers or cpu_count(), device=device,
        progress=progress))


def _path(value: str | Path | None) -> Path | None:
    return Path(value) if value is not None else None


def _embedding_model(model: str | Path | Model | None, collection: Collection,
                     device: str) -> Model:
    """`model`, else the model that built the index; it must give the index's vectors."""
    chosen = model if model is not None else collection.embedding_model
    if chosen is None:
        raise ArtkitError("the index does not name its model", collection.path,
                          hint="pass --model EMBEDDING.onnx")
    loaded = chosen if isinstance(chosen, Model) else load(chosen, device=device)  # type: ignore[arg-type]
    if not loaded.card.is_embedding:
        raise ArtkitError(f"not an embedding model (task {loaded.card.task})", loaded.path)
    return loaded


# -- the photo stream ---------------------------------------------------------------------
@dataclass
class _Photo:
    """A photo ready to identify: its working copy, the scale to it, its regions."""

    index: int
    path: Path
    size: tuple[int, int]
    image: np.ndarray
    scale: float
    regions: list[Region]


def _detected(request: _Request) -> Iterator[_Photo | PhotoIdentification]:
    """Each photo with its detected paintings (working-copy pixels), or its error."""
    from artkit.api.detect import detect

    for found in detect(request.paths, model=request.detector, min_score=request.min_score,
                        max_det=request.max_regions, batch_size=request.batch_size,
                        device=request.device, keep_images=True, progress=False):
        if not found.ok:
            yield PhotoIdentification(found.index, found.path, "error", error=found.error)
            continue
        assert found.image is not None and found.size is not None
        yield _Photo(found.index, found.path, found.size, found.image, found.scale,
                     regions_of(found))


def _whole(request: _Request) -> Iterator[_Photo | PhotoIdentification]:
    """Each photo as one region (its working copy), or its error."""
    from artkit.data.decode import read_image
    from artkit.detection.pipeline import MAX_SIDE, working_copy
    from artkit.runtime.pipeline import iter_batches

    def load(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
        image, size = read_image(path, min_size=(MAX_SIDE, MAX_SIDE))
        return working_copy(image, size), size

    for batch in iter_batches(request.paths, load, batch_size=request.batch_size,
                              workers=request.workers, collate=list):
        for index, path, size, image in zip(batch.indices, batch.paths, batch.sizes,
                                            batch.items or [], strict=True):
            box = np.array([0, 0, image.shape[1], image.shape[0]], np.float32)
            yield _Photo(index, path, size, image, image.shape[0] / size[0], [Region(box)])
        for failure in batch.failures:
            yield PhotoIdentification(failure.index, failure.path, "error",
                                      error=failure.reason)


def _identified(request: _Request) -> Iterator[PhotoIdentification]:
    """Each photo identified, in input order: photos are identified on a pool of
    `workers` threads (OpenCV's SIFT, matching and RANSAC, and onnxruntime, release the
    GIL) while the next ones are decoded and detected."""
    import cv2

    cv2.setNumThreads(1)  # the pool of photos is the parallelism; OpenCV's would oversubscribe
    source = _whole(request) if request.whole else _detected(request)
    namer = StemNamer()
    pending: deque[Future[PhotoIdentification] | PhotoIdentification] = deque()
    with ThreadPoolExecutor(request.workers, thread_name_prefix="artkit-identify") as pool, \
            make_progress() as bar:
        task = bar.add_task("identify", total=len(request.paths))
        for item in source:
            if isinstance(item, _Photo):
                stem = namer.stem(item.path, item.index)
                pending.append(pool.submit(_identify_photo, request, item, stem))
            else:
                pending.append(item)
            while pending and (len(pending) > 2 * request.workers
                               or not isinstance(pending[0], Future) or pending[0].done()):
                yield _result(pending.popleft())
                bar.advance(task)
        while pending:
            yield _result(pending.popleft())
            bar.advance(task)


def _result(item: Future[PhotoIdentification] | PhotoIdentification) -> PhotoIdentification:
    return item.result() if isinstance(item, Future) else item


def open_identifier(index: str | Path, *, model: str | Path | Model | None = None,
                    top_k: int = TOP_K, false_rate: float = DEFAULT_FALSE_RATE,
                    rule: IdentifyRule | None = None, exact: bool = False,
                    device: str = "auto") -> Identifier:
    """The collection `index` opened for identification in memory (what :func:`identify`
    runs on each photo, and ``artkit serve`` on each upload): its items, the embedding
    model that built it (or `model`) and the rule."""
    collection = Collection(index, exact=exact)
    if not collection.has_local_features:
        raise ArtkitError("this index has no local features to verify with", Path(index),
                          hint="rebuild it with `artkit index build --local-features`")
    embedder = _embedding_model(model, collection, device)
    return Identifier(collection, embedder.embed_images,
                      rule or IdentifyRule.for_false_rate(false_rate), top_k)


def regions_of(detection: Detection) -> list[Region]:
    """The reported paintings of a detection with kept pixels, in its working copy's
    pixels (where :meth:`Identifier.identify` looks)."""
    scale = detection.scale
    quads = detection.quads if detection.quads is not None else [None] * len(detection.boxes)
    return [Region(box * scale, None if quad is None else quad * scale, float(score))
            for box, quad, score in zip(detection.boxes, quads, detection.scores,
                                        strict=True)]


def identify_image(identifier: Identifier, image: np.ndarray, regions: Sequence[Region],
                   *, scale: float = 1.0, size: tuple[int, int] | None = None,
                   path: str | Path = "<image>", index: int = 0) -> PhotoIdentification:
    """Identify `regions` of RGB `image` (a working copy `scale` times the photo of
    (height, width) `size`); boxes come back in the photo's pixels, known items first."""
    results = identifier.identify(image, regions)
    regions_found = [_identified_region(identifier.collection, r, scale) for r in results]
    regions_found.sort(key=lambda r: (not r.known, -r.confidence))
    return PhotoIdentification(index, Path(path), "ok", regions_found,
                               size or (image.shape[0], image.shape[1]))


def _identify_photo(request: _Request, photo: _Photo, stem: str) -> PhotoIdentification:
    found = identify_image(request.identifier, photo.image, photo.regions, scale=photo.scale,
                           size=photo.size, path=photo.path, index=photo.index)
    regions = found.regions
    if request.save_vis is not None:
        from artkit.detection.overlays import save_overlay
        from artkit.identification.overlays import identify_overlay

        found.overlay = save_overlay(identify_overlay(photo.image, regions, photo.scale),
                                     request.save_vis / f"{stem}.jpg")
    return found


def _identified_region(collection: Collection, result: RegionResult, scale: float
                       ) -> Identified:
    """A region's result in the photo's pixels, with its item named."""
    decision, region = result.decision, result.region
    chosen = decision.candidate
    candidates = sorted(result.candidates, key=lambda c: -c.similarity)
    listed = [{"item": collection.stored_paths[c.row], "similarity": round(c.similarity, 4),
               "inliers": c.inliers} for c in candidates]
    best = max(result.candidates, key=lambda c: (c.inliers, c.similarity), default=None)
    shown = chosen or best
    quad = result.outline if result.outline is not None else region.quad
    box = region.box
    if result.outline is not None:
        low, high = result.outline.min(axis=0), result.outline.max(axis=0)
        box = np.clip(np.concatenate([low, high]), 0, None)
    return Identified(
        box=(box / scale).astype(np.float32),
        quad=None if quad is None else (quad / scale).astype(np.float32),
        detector_score=region.score,
        item=collection.paths[chosen.row] if chosen else None,
        item_id=collection.stored_paths[chosen.row] if chosen else None,
        title=collection.title(chosen.row) if chosen else None,
        meta=collection.item_meta(chosen.row) if chosen else {},
        confidence=decision.confidence, method=decision.method,
        inliers=shown.inliers if shown else 0,
        similarity=shown.similarity if shown else 0.0, candidates=listed)
