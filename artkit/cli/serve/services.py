"""The models behind the endpoints, one service each: how an upload is prepared (in the
decode pool) and how a batch of prepared uploads is answered (on the model's own
inference thread, through :class:`~artkit.cli.serve.batching.MicroBatcher`).

Each service reuses the layer the matching command runs on: `predict` decodes and resizes
as :func:`artkit.data.decode.load_resized` and scores with :meth:`Model.predict_arrays`,
`detect` runs :func:`artkit.detection.pipeline.detect_photos` on photos decoded in memory,
`similar` embeds with the index's model and searches the index as `artkit similar` does.
Results are the API's typed results as JSON (``to_dict``).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from artkit.api.model import Model, load
from artkit.cli.serve.batching import MicroBatcher
from artkit.cli.serve.config import ServeConfig
from artkit.cli.serve.limits import ClientError, Upload
from artkit.data.decode import read_image_bytes, resize_to
from artkit.errors import ArtkitError

#: Rectified painting crops returned inline by /v1/detect?crops=true, at most, and their
#: longest side in pixels.
MAX_CROPS = 12
CROP_SIDE = 384


@dataclass
class Service:
    """One model behind one endpoint."""

    name: str
    card: dict[str, Any]
    batcher: MicroBatcher = field(init=False)

    def prepare(self, upload: Upload, options: dict[str, Any]) -> Any:
        """Decode one upload (in the decode pool); raises for a bad image."""
        raise NotImplementedError

    def run(self, items: list[Any]) -> Sequence[Any]:
        """Answer one batch of prepared items (on the inference thread)."""
        raise NotImplementedError

    def attach(self, config: ServeConfig, on_batch: Any = None) -> None:
        self.batcher = MicroBatcher(self.name, self.run, config.max_batch,
                                    config.max_wait_ms / 1000, config.max_queue, on_batch)


def _resized(upload: Upload, size: tuple[int, int]) -> np.ndarray:
    image, _ = read_image_bytes(upload.data, upload.name, size)
    return resize_to(image, size)


def _card(model: Model) -> dict[str, Any]:
    return {"file": model.path.name, **model.card.to_json()}


class PredictService(Service):
    def __init__(self, path: Path, device: str, top_k: int):
        from artkit.runtime.preprocess import input_size

        self.model = load(path, device=device)  # type: ignore[arg-type]
        if self.model.card.is_embedding or self.model.card.input_kind != "image":
            raise ArtkitError("--model must be an image classification model (predict)", path)
        self.size, self.top_k = input_size(self.model.card), top_k
        super().__init__("predict", _card(self.model))

    def prepare(self, upload: Upload, options: dict[str, Any]) -> tuple[str, np.ndarray]:
        return upload.name, _resized(upload, self.size)

    def run(self, items: list[tuple[str, np.ndarray]]) -> list[dict[str, Any]]:
        from artkit.runtime.pipeline import stack_float32

        names = [name for name, _ in items]
        found = self.model.predict_arrays(stack_float32([image for _, image in items]), names,
                                          top_k=self.top_k)
        return [{**p.to_dict(), "top": [[label, round(score, 6)] for label, score in p.top]}
                for p in found]


class DetectService(Service):
    def __init__(self, detector: Path | None, method: str | None, device: str):
        from artkit.api.detect import choose_method, min_score_for
        from artkit.detection.pipeline import open_cam_model

        setup = choose_method(method, detector, {})
        self.method = setup.method
        self.model = None if setup.model_path is None else open_cam_model(
            setup.model_path, None, device, needs_cams=setup.method.needs_cam)
        self.min_score = min_score_for(setup.method, None)
        card: dict[str, Any] = {"method": setup.method.name, "min_score": self.min_score}
        if self.model is not None:
            card.update({"file": self.model.path.name, **self.model.card.to_json()})
        super().__init__("detect", card)

    def prepare(self, upload: Upload, options: dict[str, Any]) -> Any:
        from artkit.detection.pipeline import MAX_SIDE

        return upload.name, read_image_bytes(upload.data, upload.name, (MAX_SIDE, MAX_SIDE)), \
            bool(options.get("crops"))

    def run(self, items: list[Any]) -> list[Any]:
        from artkit.api.detect import MAX_DET

        results = []
        for (name, _, crops), found in zip(items, self.detections(
                [decoded for _, decoded, _ in items], self.min_score, MAX_DET), strict=True):
            if isinstance(found, ClientError):
                results.append(found)
                continue
            answer = {**found.to_dict(), "path": name, "size": list(found.size),
                      "method": self.method.name}
            if crops:
                answer["crops"] = _crops(found)
            results.append(answer)
        return results

    def detections(self, decoded: list[Any], min_score: float, max_det: int) -> list[Any]:
        """The Detection (its working copy kept) of each decoded upload ((image, size) as
        :func:`read_image_bytes` gives it), in order, or the ClientError of one that
        failed."""
        from artkit.api.detect import CAM_THRESHOLD, reported_paintings
        from artkit.detection.pipeline import detect_photos

        def read(path: Path, _min_size: tuple[int, int]) -> Any:
            return decoded[int(path.name)]

        results: list[Any] = [ClientError(422, "not detected")] * len(decoded)
        keys = [Path(str(i)) for i in range(len(decoded))]
        for photos, failures in detect_photos(keys, self.method, (CAM_THRESHOLD,), {},
                                              self.model, batch_size=len(decoded), workers=1,
                                              read=read):
            for photo in photos:
                found = reported_paintings(photo, CAM_THRESHOLD, min_score, max_det)
                found.image, found.size = photo.image, photo.size
                results[photo.index] = found
            for failure in failures:
                results[failure.index] = ClientError(422, failure.reason)
        return results


def _crops(found: Any) -> list[str]:
    """The reported paintings as JPEG data URIs, rectified when the method gives corners."""
    import cv2

    from artkit.detection.crops import crop_painting

    uris = []
    for rank in range(min(len(found.boxes), MAX_CROPS)):
        quad = None if found.quads is None else found.quads[rank] * found.scale
        crop = crop_painting(found.image, found.boxes[rank] * found.scale, quad)
        scale = min(1.0, CROP_SIDE / max(crop.shape[:2]))
        if scale < 1.0:
            crop = resize_to(crop, (max(1, round(crop.shape[0] * scale)),
                                    max(1, round(crop.shape[1] * scale))))
        ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, 85])
        if ok:
            uris.append("data:image/jpeg;base64," + base64.b64encode(encoded).decode())
    return uris


class SimilarService(Service):
    """/v1/similar: the nearest items of the --index collection, searched as `artkit
    similar` searches (exactly, or through the index's HNSW graph when it has one)."""

    def __init__(self, index: Path, device: str, top_k: int):
        from artkit.bundled import embedding_model
        from artkit.identification.collection import Collection
        from artkit.runtime.preprocess import input_size

        self.collection = Collection(index)
        stored = self.collection.embedding_model
        path = stored if stored and Path(stored).is_file() else embedding_model()
        if path is None:
            raise ArtkitError("the index's embedding model is not found", index)
        self.model = load(path, device=device)  # type: ignore[arg-type]
        if not self.model.card.is_embedding:
            raise ArtkitError("the index's model is not an embedding model", path)
        dim = int(self.collection.model.get("embedding_dim") or 0)
        if dim != self.model.card.embedding_dim:
            raise ArtkitError(f"the index holds {dim}-d vectors, its model gives "
                              f"{self.model.card.embedding_dim}-d", index)
        self.files = self.collection.paths
        """Each indexed photo's file: read for /v1/references/{i} thumbnails only."""
        self.size, self.top_k = input_size(self.model.card), top_k
        super().__init__("similar", {**_card(self.model), "index": index.name,
                                     "indexed": len(self.collection)})

    def prepare(self, upload: Upload, options: dict[str, Any]) -> tuple[str, np.ndarray]:
        return upload.name, _resized(upload, self.size)

    def run(self, items: list[tuple[str, np.ndarray]]) -> list[dict[str, Any]]:
        from artkit.api.embed import Neighbours

        vectors = self.model.embed_images([image for _, image in items])
        k = min(self.top_k, len(self.collection))
        found, sims = self.collection.shortlist(vectors, k)
        paths = self.collection.stored_paths
        answers = []
        for (name, _), rows, scores in zip(items, found, sims, strict=True):
            neighbours = Neighbours(Path(name), [(Path(paths[j]), float(s))
                                                 for j, s in zip(rows, scores, strict=True)])
            answer = neighbours.to_dict()
            for item, j in zip(answer["neighbours"], rows, strict=True):
                item["reference"] = f"/v1/references/{int(j)}"
            answers.append(answer)
        return answers

    def reference(self, position: int, side: int = 256) -> bytes:
        return thumbnail(self.files, position, side)


def thumbnail(files: Sequence[Path], position: int, side: int = 256) -> bytes:
    """A JPEG thumbnail of indexed photo `position` (a file the index names, never one a
    request names), made as the reports make theirs."""
    from artkit.reports.thumbs import thumbnail_bytes

    if not 0 <= position < len(files):
        raise ClientError(404, f"no indexed photo {position}")
    return thumbnail_bytes(files[position], side)[0]


class IdentifyService(Service):
    """/v1/identify: the paintings of an upload found by the detect service's detector,
    then identified against the --index collection (:func:`artkit.api.identify.
    identify_image`); ``whole=true`` treats the upload as one artwork."""

    def __init__(self, index: Path, detect: DetectService, device: str):
        from artkit.api.identify import open_identifier

        self.identifier = open_identifier(index, device=device)
        self.detect = detect
        collection = self.identifier.collection
        self.files = collection.paths
        self.rows = {str(path): row for row, path in enumerate(collection.paths)}
        rule = self.identifier.rule
        super().__init__("identify", {
            "file": index.name, "index": index.name, "indexed": len(collection),
            "top_k": self.identifier.top_k,
            "rule": {"min_inliers": rule.min_inliers, "min_similarity": rule.min_similarity},
            "embedding_model": Path(collection.embedding_model or "").name})

    def prepare(self, upload: Upload, options: dict[str, Any]) -> Any:
        from artkit.detection.pipeline import MAX_SIDE, working_copy

        image, size = read_image_bytes(upload.data, upload.name, (MAX_SIDE, MAX_SIDE))
        return upload.name, (working_copy(image, size), size), bool(options.get("whole"))

    def run(self, items: list[Any]) -> list[Any]:
        from artkit.api.identify import MAX_REGIONS, MIN_SCORE, identify_image, regions_of
        from artkit.identification.identifier import Region

        results: list[Any] = [ClientError(422, "not identified")] * len(items)
        found: dict[int, Any] = {}
        detected = [i for i, (_, _, whole) in enumerate(items) if not whole]
        if detected:
            for position, detection in zip(detected, self.detect.detections(
                    [items[i][1] for i in detected], MIN_SCORE, MAX_REGIONS), strict=True):
                found[position] = detection
        for position, (name, (image, size), whole) in enumerate(items):
            if whole:
                box = np.array([0, 0, image.shape[1], image.shape[0]], np.float32)
                regions, scale = [Region(box)], image.shape[0] / size[0]
            elif isinstance(found.get(position), ClientError):
                results[position] = found[position]
                continue
            else:
                regions, scale = regions_of(found[position]), found[position].scale
            answer = identify_image(self.identifier, image, regions, scale=scale, size=size,
                                    path=name).to_dict()
            answer["matches"] = [
                {"path": r["item_path"], "title": r["title"], "score": r["confidence"],
                 "box": r["box"], "method": r["method"],
                 "reference": f"/v1/references/{self.rows[r['item_path']]}"}
                for r in answer["regions"] if r["item"]]
            results[position] = answer
        return results

    def reference(self, position: int, side: int = 256) -> bytes:
        return thumbnail(self.files, position, side)


def load_services(config: ServeConfig) -> dict[str, Service]:
    """Every service `config` asks for, loaded (one-line errors for a bad model or index).
    Detection always runs (the bundled detector is its default); predict needs --model,
    similar --index, and identify an --index built with --local-features."""
    services: dict[str, Service] = {}
    if config.model is not None:
        services["predict"] = PredictService(config.model, config.device, config.top_k)
    services["detect"] = DetectService(config.detector, config.method, config.device)
    if config.index is not None:
        services["similar"] = SimilarService(config.index, config.device, config.top_k)
        from artkit.embeddings.local import local_paths

        if all(p.exists() for p in local_paths(config.index)):
            services["identify"] = IdentifyService(
                config.index, services["detect"], config.device)  # type: ignore[arg-type]
    return services
