"""Generate a synthetic data set on disk, in the layout artkit's readers pick up by themselves,
and keep the default sets in a cache so they are made once.

Generation is deterministic: every image has its own random generator seeded from
(task, seed, index), images are encoded with fixed settings, and file lists are sorted, so
the same arguments give byte-identical files on any run. A set is written into a hidden
temporary folder and renamed into place at the end: an interrupted run leaves no half set.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from artkit.console import info, make_progress, warn
from artkit.data.decode import decode_image, is_image_path
from artkit.data.synth.rooms import PaintingSource
from artkit.errors import ArtkitError, ImageDecodeError

#: Bump when a change to any renderer changes the images: cached sets are keyed by it.
GENERATOR_VERSION = 3

TASKS = ("multiclass", "multilabel", "detection", "painting-sculpture")

#: task -> (images, image side in pixels) of the cached default set, sized so that the main
#: job (`artkit train bow-svm --vocab 1000`) and the CNNs train in minutes on a 2-core CPU.
DEFAULTS: dict[str, tuple[int, int]] = {
    "multiclass": (600, 128),
    "multilabel": (600, 128),
    "painting-sculpture": (400, 128),
    "detection": (120, 448),
}
DEFAULT_SEED = 0

_TASK_CODES = {task: code for code, task in enumerate(TASKS)}
_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 92, cv2.IMWRITE_JPEG_OPTIMIZE, 0]
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 6]


def item_rng(task: str, seed: int, index: int) -> np.random.Generator:
    """The generator of image `index`: independent of every other image, so images can be
    made in any order (or in parallel) and still come out the same."""
    return np.random.default_rng([_TASK_CODES[task], seed, index])


def _encode(image: np.ndarray, suffix: str) -> bytes:
    params = _JPEG if suffix == ".jpg" else _PNG
    ok, buffer = cv2.imencode(suffix, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ArtkitError(f"OpenCV could not encode a {suffix} image")
    return buffer.tobytes()


def allocate(n: int, shares: dict[str, float], seed: int) -> list[str]:
    """Class of each of `n` images: counts by largest remainder of `shares`, order shuffled
    by `seed` (so that a prefix of the images is still a mix of classes)."""
    names = list(shares)
    weights = np.array([shares[k] for k in names], np.float64)
    exact = weights / weights.sum() * n
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    labels = [name for name, c in zip(names, counts, strict=True) for _ in range(c)]
    order = np.random.default_rng([seed, 7919]).permutation(n)
    return [labels[i] for i in order]


class _PaintingFolder:
    """Real images from a user folder (found recursively) used as painting content."""

    def __init__(self, folder: Path):
        if not folder.is_dir():
            raise ArtkitError("--paintings must be a folder of images", folder)
        self.files = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_path(p))
        self.bad: set[Path] = set()
        self.decoded: dict[Path, np.ndarray] = {}
        if not self.files:
            raise ArtkitError("no image files (.jpg, .png, ...) found in the paintings folder",
                              folder)
        self.folder = folder

    def _load(self, path: Path) -> np.ndarray | None:
        if path in self.bad:
            return None
        if path not in self.decoded:
            try:
                image = decode_image(path)
            except ImageDecodeError as exc:
                warn(f"skipping painting image: {exc}")
                self.bad.add(path)
                return None
            if len(self.decoded) >= 64:  # keep memory flat over large folders
                self.decoded.pop(next(iter(self.decoded)))
            self.decoded[path] = image
        return self.decoded[path]

    def __call__(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        """A random readable image of the folder, centre-cropped to the aspect and resized."""
        start = int(rng.integers(len(self.files)))
        for k in range(len(self.files)):  # an unreadable pick falls through to the next file
            image = self._load(self.files[(start + k) % len(self.files)])
            if image is not None:
                return _crop_resize(image, height, width)
        raise ArtkitError("none of the images in the paintings folder could be read",
                          self.folder)


def _crop_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    h, w = image.shape[:2]
    target = width / height
    if w / h > target:
        cw = max(int(h * target), 1)
        image = image[:, (w - cw) // 2:(w - cw) // 2 + cw]
    else:
        ch = max(int(w / target), 1)
        image = image[(h - ch) // 2:(h - ch) // 2 + ch]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _multiclass(n: int, seed: int, size: int) -> Iterator[tuple[str, bytes]]:
    from artkit.data.synth.artworks import CLASS_SHARES, render_artwork

    for index, name in enumerate(allocate(n, CLASS_SHARES, seed)):
        image = render_artwork(item_rng("multiclass", seed, index), name, size, size)
        yield f"{name}/{name}-{index:05d}.jpg", _encode(image, ".jpg")


def _painting_sculpture(n: int, seed: int, size: int) -> Iterator[tuple[str, bytes]]:
    from artkit.data.synth.painting_sculpture import (
        PAINTING_SHARE,
        render_painting,
        render_sculpture,
    )

    shares = {"painting": PAINTING_SHARE, "sculpture": 1 - PAINTING_SHARE}
    for index, name in enumerate(allocate(n, shares, seed)):
        rng = item_rng("painting-sculpture", seed, index)
        image = render_painting(rng, size) if name == "painting" else render_sculpture(rng, size)
        yield f"{name}/{name}-{index:05d}.jpg", _encode(image, ".jpg")


def _multilabel(n: int, seed: int, size: int, rows: list[tuple[str, list[str]]]
                ) -> Iterator[tuple[str, bytes]]:
    from artkit.data.synth.multilabel import render_object

    for index in range(n):
        image, labels = render_object(item_rng("multilabel", seed, index), size)
        image_id = f"{index:05d}"
        rows.append((image_id, labels))
        yield f"images/{image_id}.png", _encode(image, ".png")


def _detection(n: int, seed: int, size: int, source: PaintingSource, coco: dict
               ) -> Iterator[tuple[str, bytes]]:
    from artkit.data.synth.rooms import render_room

    width, height = size, max(int(round(size * 0.75)), 16)
    for index in range(n):
        image, boxes = render_room(item_rng("detection", seed, index), width, height, source)
        file_name = f"images/{index:05d}.jpg"
        coco["images"].append({"id": index + 1, "file_name": file_name, "width": width,
                               "height": height})
        for x0, y0, x1, y1 in boxes:
            coco["annotations"].append({
                "id": len(coco["annotations"]) + 1, "image_id": index + 1, "category_id": 1,
                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0),
                "iscrowd": 0})
        yield file_name, _encode(image, ".jpg")


def _write_all(tmp: Path, items: Iterator[tuple[str, bytes]], n: int, task: str) -> None:
    with make_progress() as progress:
        bar = progress.add_task(f"synth {task}", total=n)
        for relative, data in items:
            path = tmp / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            progress.advance(bar)


def generate(out: Path, task: str, n: int, seed: int = 0, size: int = 128,
             paintings: Path | None = None) -> Path:
    """Write a synthetic `task` data set of `n` images into the folder `out` and return it.

    `size` is the side of each image (for detection: the long side of the room photo).
    `out` must not exist or be empty. `paintings` (detection only) is a folder of real
    images to hang in the rooms instead of procedural paintings."""
    out = Path(out)
    if task not in TASKS:
        raise ArtkitError(f"unknown synthetic task {task!r}; choose one of {', '.join(TASKS)}")
    if n < 1:
        raise ArtkitError(f"--n must be at least 1 (got {n})")
    if seed < 0:
        raise ArtkitError(f"--seed must be 0 or more (got {seed})")
    if size < 16 or (task == "detection" and size < 64):
        raise ArtkitError(f"--size {size} is too small for {task} (at least "
                          f"{64 if task == 'detection' else 16} pixels)")
    if paintings is not None and task != "detection":
        raise ArtkitError("--paintings only applies to --task detection")
    if task in ("multiclass", "painting-sculpture") and n < 2:
        raise ArtkitError(f"a {task} set needs at least 2 images (one per class)")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ArtkitError("output folder exists and is not empty", out,
                          hint="choose a new folder or delete it")
    if task == "detection":
        from artkit.data.synth.rooms import procedural_painting

        source = _PaintingFolder(paintings) if paintings is not None else procedural_painting
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.part-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        if task == "multiclass":
            _write_all(tmp, _multiclass(n, seed, size), n, task)
        elif task == "painting-sculpture":
            _write_all(tmp, _painting_sculpture(n, seed, size), n, task)
        elif task == "multilabel":
            rows: list[tuple[str, list[str]]] = []
            _write_all(tmp, _multilabel(n, seed, size, rows), n, task)
            _write_imet_csvs(tmp, rows)
        else:
            coco: dict = {"info": {"description": f"artkit synthetic museum rooms, seed {seed}"},
                          "images": [], "annotations": [],
                          "categories": [{"id": 1, "name": "painting"}]}
            _write_all(tmp, _detection(n, seed, size, source, coco), n, task)
            (tmp / "annotations_coco.json").write_text(json.dumps(coco, indent=1) + "\n")
        if out.exists():
            out.rmdir()
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _write_imet_csvs(folder: Path, rows: list[tuple[str, list[str]]]) -> None:
    from artkit.data.synth.multilabel import attribute_names

    names = attribute_names()
    ids = {name: i for i, name in enumerate(names)}
    (folder / "labels.csv").write_text(
        "attribute_id,attribute_name\n" + "".join(f"{i},{name}\n" for i, name in enumerate(names)))
    (folder / "train.csv").write_text("id,attribute_ids\n" + "".join(
        f"{image_id},{' '.join(str(ids[x]) for x in sorted(labels, key=ids.get))}\n"
        for image_id, labels in rows))


def cache_root() -> Path:
    """Where default data sets are kept: $ARTKIT_CACHE, else the user cache directory."""
    env = os.environ.get("ARTKIT_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("artkit"))


def default_dataset(task: str) -> Path:
    """The default synthetic set for `task`, generated on first use and reused afterwards."""
    if task not in DEFAULTS:
        raise ArtkitError(f"no built-in synthetic data set for task {task!r} "
                          f"(there are: {', '.join(DEFAULTS)})")
    n, size = DEFAULTS[task]
    path = (cache_root() / "synth" /
            f"{task}-n{n}-s{DEFAULT_SEED}-px{size}-v{GENERATOR_VERSION}")
    if path.is_dir():
        return path
    info(f"generating the built-in synthetic {task} data set ({n} images) into {path}")
    try:
        return generate(path, task, n, seed=DEFAULT_SEED, size=size)
    except (OSError, ArtkitError):
        if path.is_dir() and any(path.iterdir()):  # another process made the same set first
            return path
        raise
