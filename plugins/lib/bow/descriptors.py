"""Local descriptors of many images: extracted once over all cores, cached per image.

The cache lives under ``$ARTKIT_CACHE/descriptors`` (or the platform's user cache folder)
in one folder per extractor and settings, one ``.npz`` per image keyed by the image's
absolute path, size and modification time: a second training with another vocabulary size
or SVM grid reads descriptors back instead of extracting them again, and an edited image is
extracted afresh. Positions are stored normalised to the image size (x / width, y / height),
which is all the spatial pyramid needs.

Extraction runs in a thread pool: OpenCV releases the GIL inside decoding and SIFT, so
threads scale like processes without process start-up or pickling (see
benchmarks/bench_bow.py), and OpenCV's own threading is turned off meanwhile so the two
kinds of parallelism do not fight over the cores.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from artkit import atomic
from artkit.console import make_progress, warn
from artkit.errors import ArtkitError

#: Bump when the stored format or the meaning of cached descriptors changes.
CACHE_VERSION = 1


def cache_root() -> Path:
    """``$ARTKIT_CACHE`` or the platform's user cache folder for artkit."""
    configured = os.environ.get("ARTKIT_CACHE")
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("artkit"))


def resolve_options(extractor: Any, text: str | None) -> dict[str, Any]:
    """The extractor's full option dict: its defaults overridden by ``"key=value,..."``.

    A value may itself hold commas (``scales=8,16,24``): a piece without ``=`` continues the
    previous value. Unknown keys and values of the wrong type are user errors."""
    specs = {spec.name: spec for spec in extractor.options}
    values: dict[str, Any] = {name: spec.default for name, spec in specs.items()}
    raw: dict[str, str] = {}
    last: str | None = None
    for piece in (text or "").split(","):
        piece = piece.strip()
        if not piece:
            continue
        if "=" in piece:
            key, value = (part.strip() for part in piece.split("=", 1))
            key = key.replace("-", "_")
            if key not in specs:
                known = ", ".join(sorted(specs)) or "none"
                raise ArtkitError(f"feature extractor '{extractor.name}' has no option '{key}'",
                                  hint=f"its options: {known}")
            raw[key], last = value, key
        elif last is not None:
            raw[last] += "," + piece
        else:
            raise ArtkitError(f"--feature-options: expected key=value, got '{piece}'")
    for key, value in raw.items():
        kind = specs[key].type
        try:
            if kind is bool:
                values[key] = value.lower() in ("1", "true", "yes", "on")
            else:
                values[key] = kind(value)
        except ValueError:
            raise ArtkitError(f"feature option {key}: '{value}' is not a valid "
                              f"{kind.__name__}") from None
    return values


class DescriptorCache:
    """One folder of cached descriptors for one extractor with one set of options."""

    def __init__(self, extractor_name: str, options: dict[str, Any], root: Path | None = None):
        settings = json.dumps({"extractor": extractor_name, "options": options,
                               "version": CACHE_VERSION}, sort_keys=True)
        digest = hashlib.sha1(settings.encode()).hexdigest()[:12]
        self.dir = (root or cache_root()) / "descriptors" / f"{extractor_name}-{digest}"

    def file_for(self, image: Path) -> Path:
        stat = image.stat()
        key = hashlib.sha1(f"{image.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
        digest = key.hexdigest()
        return self.dir / digest[:2] / f"{digest}.npz"

    @staticmethod
    def save(file: Path, xy: np.ndarray, descriptors: np.ndarray) -> None:
        """Store descriptors as uint8 when that is lossless (SIFT's values are whole numbers
        0..255, ORB's bits 0/1): a quarter of the disk and of the read time."""
        compact = descriptors.astype(np.uint8)
        if np.array_equal(compact, descriptors):
            descriptors = compact
        with atomic.atomic_path(file) as tmp:
            with tmp.open("wb") as handle:
                np.savez(handle, xy=xy.astype(np.float32), descriptors=descriptors)

    @staticmethod
    def load(file: Path) -> tuple[np.ndarray, np.ndarray]:
        """(normalised xy float32 (n, 2), descriptors float32 (n, d))."""
        with np.load(file) as stored:
            return stored["xy"], stored["descriptors"].astype(np.float32)


@dataclass
class ImageDescriptors:
    """Where the descriptors of a list of images are, and how many each has."""

    files: list[Path | None]  # None: the image could not be read
    counts: np.ndarray  # int64 (n,)
    dim: int
    errors: dict[int, str] = field(default_factory=dict)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        file = self.files[index]
        if file is None:
            return np.zeros((0, 2), np.float32), np.zeros((0, self.dim), np.float32)
        return DescriptorCache.load(file)


def describe_image(extractor: Any, options: dict[str, Any], image: np.ndarray,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Descriptors of one decoded image with positions normalised to its size."""
    xy, descriptors = extractor.extract(image, **options)
    height, width = image.shape[:2]
    xy = np.asarray(xy, np.float32).reshape(-1, 2) / np.array([width, height], np.float32)
    return np.clip(xy, 0.0, 1.0 - 1e-6), np.asarray(descriptors, np.float32)


def _extract_one(extractor: Any, options: dict[str, Any], cache: DescriptorCache,
                 path: Path) -> tuple[Path | None, int, int, str | None]:
    """(cache file, descriptor count, descriptor dim, error) for one image."""
    from artkit.data.decode import decode_image

    try:
        file = cache.file_for(path)
        if file.exists():
            with np.load(file) as stored:
                shape = stored["descriptors"].shape
            return file, shape[0], shape[1], None
        xy, descriptors = describe_image(extractor, options, decode_image(path))
        cache.save(file, xy, descriptors)
        return file, len(descriptors), descriptors.shape[1], None
    except ArtkitError as exc:
        return None, 0, 0, str(exc)
    except OSError as exc:
        return None, 0, 0, f"{path}: {exc}"


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def extract_descriptors(paths: Sequence[Path], extractor: Any, options: dict[str, Any],
                        workers: int = 0, description: str = "extracting descriptors",
                        cache: DescriptorCache | None = None) -> ImageDescriptors:
    """Descriptors of every image in `paths`, from the cache or extracted over `workers`
    threads (0: all cores). Images that cannot be read are reported once and left out."""
    import cv2

    cache = cache or DescriptorCache(extractor.name, options)
    workers = workers or default_workers()
    files: list[Path | None] = [None] * len(paths)
    counts = np.zeros(len(paths), np.int64)
    dims: set[int] = set()
    errors: dict[int, str] = {}
    previous_threads = cv2.getNumThreads()
    cv2.setNumThreads(1 if workers > 1 else previous_threads)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool, \
                make_progress(rate_unit="img") as progress:
            task = progress.add_task(description, total=len(paths), rate="")
            results = pool.map(lambda p: _extract_one(extractor, options, cache, Path(p)),
                               paths)
            for index, (file, count, dim, error) in enumerate(results):
                if error is None:
                    files[index], counts[index] = file, count
                    if count:
                        dims.add(dim)
                else:
                    errors[index] = error
                elapsed = progress.tasks[task].elapsed or 0.0
                rate = f"{(index + 1) / elapsed:.1f} img/s" if elapsed > 0 else ""
                progress.update(task, advance=1, rate=rate)
    finally:
        cv2.setNumThreads(previous_threads)
    if len(dims) > 1:
        raise ArtkitError(f"extractor '{extractor.name}' returned descriptors of different "
                          f"lengths {sorted(dims)}")
    for message in list(errors.values())[:10]:
        warn(f"skipped: {message}")
    if len(errors) > 10:
        warn(f"... and {len(errors) - 10} more unreadable images")
    dim = dims.pop() if dims else _probe_dim(extractor, options)
    return ImageDescriptors(files=files, counts=counts, dim=dim, errors=errors)


def _probe_dim(extractor: Any, options: dict[str, Any]) -> int:
    """Descriptor length of an extractor, from a small textured image (used when every
    image of a batch was blank)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    return int(extractor.extract(image, **options)[1].shape[1])
