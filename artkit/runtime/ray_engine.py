"""`--engine ray`: the same batch inference spread over a Ray cluster with Ray Data.

The list of paths becomes a Ray dataset; ``map_batches`` sends each block to a pool of
actors, each holding one onnxruntime session (created once, from the model's bytes, so a
remote machine needs no copy of the file) and decoding its images itself, through the
very functions the local engine uses (:func:`artkit.runtime.scoring.score_batches`,
:func:`artkit.detection.pipeline.detect_photos`). Only paths go out and only scores, boxes and
error messages come back. ``preserve_order`` keeps the results in input order, and every
row carries its input position, so the consumer sees what the local engine gives it:
same rows, same order, same failure messages.

The images must be readable at the same paths on every node (a shared file system or
object-store mount); artkit must be installed on every node.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from artkit.errors import ArtkitError
from artkit.runtime.pipeline import Batch, Failure
from artkit.runtime.scoring import Scored

#: Decoding threads (and onnxruntime threads) inside each actor; the pool gets one actor per
#: this many CPUs of the cluster.
ACTOR_THREADS = 2
#: Paths per Ray block: small enough to spread over the actors, large enough to batch.
BLOCK_BATCHES = 4
INSTALL_HINT = "pip install 'artkit[ray]'"
CONNECT_TIMEOUT_S = 5


def import_ray() -> Any:
    """Ray and Ray Data, or one clear line saying how to install them."""
    try:
        import ray
        import ray.data  # noqa: F401 - the optional extra installs both
    except ImportError:
        raise ArtkitError("--engine ray needs Ray, which is not installed",
                          hint=INSTALL_HINT) from None
    return ray


@contextlib.contextmanager
def ray_cluster(address: str | None, num_cpus: int | None = None) -> Iterator[Any]:
    """Connected Ray: the cluster at `address` ("auto" = the one this machine belongs to),
    else a local instance started here (with `num_cpus`) and shut down afterwards."""
    ray = import_ray()
    started = False
    # Ray Data keeps actor constructor arguments in the object store, about which Ray's C++
    # core prints an error line per actor; failures still arrive as Python exceptions.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "logging_level": logging.ERROR}
        if address:
            _check_reachable(address)
        try:
            with _quiet_stderr():
                if address:
                    ray.init(address=address, **kwargs)
                else:
                    ray.init(num_cpus=num_cpus, **kwargs)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise ArtkitError(f"cannot start or reach {where}: {exc}") from None
        started = True
    try:
        yield ray
    except ray.exceptions.RayError as exc:
        text = str(exc).strip().splitlines()
        raise ArtkitError(f"the Ray job failed: {text[-1] if text else type(exc).__name__}",
                          hint="ARTKIT_DEBUG=1 shows Ray's traceback") from exc
    finally:
        if started:
            ray.shutdown()


def check_cluster(address: str | None) -> None:
    """The checks :func:`ray_cluster` makes before it starts anything (Ray installed, the
    address well formed and listening), for a caller that must fail before it opens a file."""
    ray = import_ray()
    if address and not ray.is_initialized():
        _check_reachable(address)


def _check_reachable(address: str) -> None:
    """Fail in seconds on an address nothing listens at (Ray itself retries for minutes)."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ArtkitError(f"--ray-address '{address}': expected auto, HOST:PORT or "
                          "ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ArtkitError(f"cannot reach the Ray cluster at {address}: "
                          f"{exc.strerror or exc}") from None


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence C-level stderr while Ray starts (its core logs the log level it read);
    errors still arrive as Python exceptions."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _configure(ray: Any) -> None:
    """Results in input order; no progress bars or execution reports of Ray's own (artkit
    shows its own progress)."""
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    context.print_on_execution_start = False


def _pool(ray: Any, device: str) -> tuple[Any, dict[str, Any]]:
    """The actor pool and each actor's resources: one actor per GPU of the cluster for
    ``cuda`` (and ``auto`` where the cluster has GPUs), else one per ACTOR_THREADS CPUs."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if device == "cuda" and gpus < 1:
        raise ArtkitError("--device cuda: the Ray cluster has no GPU")
    if device in ("cuda", "auto") and gpus > 0:
        return ray.data.ActorPoolStrategy(size=gpus), {"num_gpus": 1}
    cpus = max(1, int(resources.get("CPU", 1)))
    threads = min(ACTOR_THREADS, cpus)
    return ray.data.ActorPoolStrategy(size=max(1, cpus // threads)), {"num_cpus": threads}


def _shared_bytes(ray: Any, path: Path) -> list[Any]:
    """The model file in Ray's object store, as a reference wrapped in a list: the actors
    fetch it once each, and their constructor arguments stay small (Ray warns about large
    ones, which it could not rebuild a restarted actor from)."""
    return [ray.put(Path(path).read_bytes())]


def _path_dataset(ray: Any, paths: Sequence[Path], batch_size: int, actors: int) -> Any:
    rows = [{"index": i, "path": str(p)} for i, p in enumerate(paths)]
    blocks = max(-(-len(rows) // (batch_size * BLOCK_BATCHES)), min(actors, len(rows)))
    return ray.data.from_items(rows, override_num_blocks=blocks)


def _errors_and_sizes(n: int, loaded: list[int], failures: list[Failure],
                      sizes: list[tuple[int, int]], offsets: np.ndarray) -> dict[str, Any]:
    """The columns every result block has: input position, error ('' when the image
    loaded) and original (height, width); `loaded` and failures index the block's rows."""
    error = np.array([""] * n, dtype=object)
    for failure in failures:
        error[failure.index] = failure.reason
    size = np.zeros((n, 2), np.int64)
    for row, hw in zip(loaded, sizes, strict=True):
        size[row] = hw
    return {"index": offsets, "error": error.astype(str), "size": size}


class ScoreActor:
    """One onnxruntime session; scores a block of paths with the local engine's code."""

    def __init__(self, model: list[Any], device: str, outputs: list[str], threads: int):
        import ray

        from artkit.formats.model_card import ModelCard
        from artkit.runtime.session import create_session

        self.session = create_session(ray.get(model[0]), device=device,  # type: ignore[arg-type]
                                      intra_threads=threads)
        self.card = ModelCard.from_session(self.session, "model")
        self.outputs, self.threads = outputs, threads
        declared = {o.name: o.shape[1:] for o in self.session.get_outputs()}
        # Per-image shape of each output, for blocks where no image decodes (every block
        # must have the same columns: Ray may join blocks).
        self.shapes = {name: tuple(declared[name]) if all(isinstance(d, int) for d in
                                                          declared.get(name, [None]))
                       else (len(self.card.labels),) for name in outputs}

    def __call__(self, block: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from artkit.runtime.scoring import score_batches

        paths = [Path(p) for p in block["path"]]
        n = len(paths)
        (scored,) = score_batches(self.session, self.card, paths, batch_size=max(n, 1),
                                  workers=self.threads, outputs=self.outputs)
        out = _errors_and_sizes(n, scored.batch.indices, scored.failures,
                                scored.batch.sizes, np.asarray(block["index"]))
        for name in self.outputs:
            full = np.zeros((n, *self.shapes[name]), np.float32)
            if len(scored.batch):
                full[scored.batch.indices] = scored.outputs[name]
            out[f"out_{name}"] = full
        return out


def _scored(columns: dict[str, np.ndarray], paths: Sequence[Path],
            outputs: list[str]) -> Scored:
    """The local engine's `Scored` for one block that came back from the actors."""
    indices = [int(i) for i in columns["index"]]
    ok = [row for row, error in enumerate(columns["error"]) if not error]
    failures = [Failure(indices[row], Path(paths[indices[row]]), str(columns["error"][row]))
                for row in range(len(indices)) if columns["error"][row]]
    batch = Batch(span=range(indices[0], indices[-1] + 1), indices=[indices[r] for r in ok],
                  paths=[Path(paths[indices[r]]) for r in ok], items=None,
                  sizes=[(int(h), int(w)) for h, w in columns["size"][ok]], failures=failures)
    values = {name: columns[f"out_{name}"][ok] for name in outputs}
    return Scored(batch, values, list(failures))


def ray_score_batches(model: Path, paths: Sequence[Path], *, batch_size: int = 32,
                      device: str = "cpu", address: str | None = None,
                      outputs: Sequence[str] = ("scores",),
                      num_cpus: int | None = None) -> Iterator[Scored]:
    """What :func:`artkit.runtime.scoring.score_batches` yields, computed by Ray actors."""
    names = list(outputs)
    if not paths:
        return
    with ray_cluster(address, num_cpus) as ray:
        _configure(ray)
        pool, resources = _pool(ray, device)
        threads = int(resources.get("num_cpus", ACTOR_THREADS))
        data = _path_dataset(ray, paths, batch_size, pool.max_size or 1)
        data = data.map_batches(ScoreActor, batch_size=batch_size, batch_format="numpy",
                                compute=pool, fn_constructor_kwargs={
                                    "model": _shared_bytes(ray, model), "device": device,
                                    "outputs": names, "threads": threads}, **resources)
        for columns in data.iter_batches(batch_size=batch_size, batch_format="numpy"):
            yield _scored(columns, paths, names)


class DetectActor:
    """One model session (if the method needs one) and the detection method plugin."""

    def __init__(self, model: list[Any] | None, class_name: str | None, device: str,
                 method: str, thresholds: list[float], options: dict[str, Any],
                 keep_images: bool, threads: int):
        import ray

        from artkit import registry

        self.method = registry.get(registry.Kind.DETECTION_METHOD, method)
        self.cam_model = None
        if model is not None:
            self.cam_model = _cam_model_from_bytes(ray.get(model[0]), class_name, device,
                                                   self.method.needs_cam)
        self.thresholds, self.options = thresholds, options
        self.keep_images, self.threads = keep_images, threads

    def __call__(self, block: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from artkit.detection.pipeline import detect_photos

        paths = [Path(p) for p in block["path"]]
        n = len(paths)
        photos, failures = [], []
        for found, failed in detect_photos(paths, self.method, self.thresholds, self.options,
                                           self.cam_model, batch_size=max(n, 1),
                                           workers=self.threads):
            photos += found
            failures += failed
        out = _errors_and_sizes(n, [p.index for p in photos], failures,
                                [p.size for p in photos], np.asarray(block["index"]))
        boxes = np.array([""] * n, dtype=object)
        work = np.zeros((n, 2), np.int64)
        # Failed rows (and maps of methods without a CAM) hold empty arrays: Ray stores
        # these columns as variable-shaped tensors, which take no None.
        images = np.array([np.zeros((0, 0, 3), np.uint8)] * n + [None], dtype=object)[:n]
        cams = np.array([np.zeros((0, 0), np.float32)] * n + [None], dtype=object)[:n]
        for photo in photos:
            boxes[photo.index] = json.dumps(
                [[t, photo.detections[t].boxes.tolist(), photo.detections[t].scores.tolist(),
                  None if photo.detections[t].quads is None
                  else photo.detections[t].quads.tolist()] for t in self.thresholds])
            work[photo.index] = photo.image.shape[:2]
            if self.keep_images:
                images[photo.index] = photo.image
                if photo.cam is not None:
                    cams[photo.index] = photo.cam.astype(np.float32)
        out.update(boxes=boxes.astype(str), work=work)
        if self.keep_images:
            out.update(image=images, cam=cams)
        return out


def _cam_model_from_bytes(model: bytes, class_name: str | None, device: str,
                          needs_cams: bool):
    """`open_cam_model` for a model sent as bytes (a remote node has no copy of the file)."""
    import tempfile

    from artkit.detection.pipeline import open_cam_model

    with tempfile.TemporaryDirectory(prefix="artkit-ray-") as folder:
        path = Path(folder) / "model.onnx"
        path.write_bytes(model)
        return open_cam_model(path, class_name, device, needs_cams)


def _photos(columns: dict[str, np.ndarray], paths: Sequence[Path]) -> tuple[list, list]:
    from artkit.contracts import Detections
    from artkit.detection.pipeline import Photo

    photos, failures = [], []
    for row, index in enumerate(int(i) for i in columns["index"]):
        error = str(columns["error"][row])
        if error:
            failures.append(Failure(index, Path(paths[index]), error))
            continue
        height, width = (int(v) for v in columns["work"][row])
        if "image" in columns:
            image, cam = columns["image"][row], columns["cam"][row]
            cam = cam if cam.size else None
        else:  # no overlays asked for: a pixel-less stand-in with the working copy's shape
            image, cam = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (height, width, 3)), None
        detections = {float(t): Detections(np.asarray(b, np.float32).reshape(-1, 4),
                                           np.asarray(s, np.float32).reshape(-1),
                                           None if q is None
                                           else np.asarray(q, np.float32).reshape(-1, 4, 2))
                      for t, b, s, q in json.loads(str(columns["boxes"][row]))}
        size = (int(columns["size"][row][0]), int(columns["size"][row][1]))
        photos.append(Photo(index, Path(paths[index]), size, image, cam, detections))
    return photos, failures


def ray_detect_photos(paths: Sequence[Path], method: Any, thresholds: Sequence[float],
                      options: dict[str, Any], model: Any | None, *, batch_size: int = 16,
                      device: str = "cpu", address: str | None = None,
                      keep_images: bool = False, num_cpus: int | None = None
                      ) -> Iterator[tuple[list, list[Failure]]]:
    """What :func:`artkit.detection.pipeline.detect_photos` yields, computed by Ray actors.

    `model` is the driver's opened CAM model (its file and class are sent to the actors);
    `keep_images` brings the working copies and CAMs back (for overlays)."""
    if not paths:
        return
    with ray_cluster(address, num_cpus) as ray:
        _configure(ray)
        pool, resources = _pool(ray, device if model is not None else "cpu")
        threads = int(resources.get("num_cpus", ACTOR_THREADS))
        data = _path_dataset(ray, paths, batch_size, pool.max_size or 1)
        data = data.map_batches(DetectActor, batch_size=batch_size, batch_format="numpy",
                                compute=pool, fn_constructor_kwargs={
                                    "model": _shared_bytes(ray, model.path) if model else None,
                                    "class_name": model.class_name if model else None,
                                    "device": device, "method": method.name,
                                    "thresholds": [float(t) for t in thresholds],
                                    "options": options, "keep_images": keep_images,
                                    "threads": threads}, **resources)
        for columns in data.iter_batches(batch_size=batch_size, batch_format="numpy"):
            yield _photos(columns, paths)
