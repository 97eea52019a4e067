"""Local features and metadata beside an index: what identification needs to verify a
shortlisted item (RootSIFT keypoints for a RANSAC homography) and to name it (a csv's
title, artist, ...).

Local features live in two sidecar files so that a verifier reads only its shortlist:
``index.local.npy``, one uncompressed array of keypoint records (x, y in the original
image's pixels, the RootSIFT descriptor quantised to uint8) for all items, opened with
``mmap_mode="r"``; and ``index.local.npz``, small: the index's paths, each item's first
record (``offsets``, n + 1) and its original (width, height). Both are written from a
stream (records go to a temporary file as each image is described, so memory does not
grow with the collection) and moved into place atomically. Metadata is
``index.meta.json``. An index built without them has none, and is unchanged.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from artkit.atomic import atomic_path, read_json, write_json
from artkit.data.decode import read_image
from artkit.embeddings.vectors import EmbeddingSet
from artkit.errors import ArtkitError

#: Keypoints kept per item by default (the strongest, by SIFT response).
MAX_KEYPOINTS = 300
#: Images are described with their longer side shrunk to at most this many pixels: enough
#: for a homography, and SIFT's cost grows with the pixels.
LOCAL_SIDE = 640
#: RootSIFT components lie in [0, 1]; stored as round(value * scale), clipped to 255 (on
#: aic-museum none is above 180 / scale; uint8 halves the file against float16).
DESCRIPTOR_SCALE = 512.0
#: SIFT's contrast threshold (OpenCV's default is 0.04): lower keeps the keypoints of faint
#: prints and of photos that exposure, haze or blur have flattened.
CONTRAST = 0.02
#: Images described per pool round: bounds the memory of results not yet written.
CHUNK = 32
RECORD = np.dtype([("xy", np.float32, (2,)), ("descriptor", np.uint8, (128,))])
LocalFeatures = tuple[np.ndarray, np.ndarray, tuple[int, int]]
"""(xy float32 (n, 2) in original pixels, RootSIFT float32 (n, 128), (width, height))."""

#: The id / file name columns `--meta` joins on, in order of preference.
KEY_COLUMNS = ("file", "filename", "file_name", "image", "path", "id")


def local_paths(index: str | Path) -> tuple[Path, Path]:
    """The records array and the small table beside `index`."""
    index = Path(index)
    return index.with_suffix(".local.npy"), index.with_suffix(".local.npz")


def meta_path(index: str | Path) -> Path:
    return Path(index).with_suffix(".meta.json")


def root_sift(image: np.ndarray, max_keypoints: int = MAX_KEYPOINTS,
              side: int = LOCAL_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """The `max_keypoints` strongest SIFT keypoints of RGB `image` described in a square
    frame: (xy in `image`'s pixels, RootSIFT descriptors: L1-normalised, then
    square-rooted, so that Euclidean distance compares them as the Hellinger kernel does).

    The image is resized to a square of its longer side (at most `side`) first. A painting
    cut out of a photo and rectified has its outline's aspect ratio, not the artwork's (one
    photo does not give it), and SIFT does not survive a stretch by 2 or 3; squeezed to a
    square, the artwork and its photo have the same shape whatever either's aspect was
    (the embedding model squeezes them to its square input for the same reason)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    frame = max(1, min(side, max(grey.shape)))
    scale = np.array([frame / grey.shape[1], frame / grey.shape[0]], np.float32)
    if grey.shape != (frame, frame):
        shrinking = max(grey.shape) > frame
        grey = cv2.resize(grey, (frame, frame),
                          interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    keypoints, descriptors = cv2.SIFT_create(
        nfeatures=max_keypoints, contrastThreshold=CONTRAST).detectAndCompute(grey, None)
    if descriptors is None or not keypoints:
        return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32)
    order = np.argsort([-k.response for k in keypoints], kind="stable")[:max_keypoints]
    xy = np.array([keypoints[i].pt for i in order], np.float32)
    # A pixel centre at p in the frame is at (p + 0.5) / scale - 0.5 in the image.
    xy = (xy + 0.5) / scale - 0.5
    descriptors = descriptors[order].astype(np.float32)
    descriptors /= np.maximum(descriptors.sum(axis=1, keepdims=True), 1e-12)
    return xy, np.sqrt(descriptors)


def _describe(path: str, max_keypoints: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The records of one image and its original (width, height); an image that cannot be
    read any more has none (it was embedded, so this is a file changed since)."""
    try:
        image, (height, width) = read_image(path, (LOCAL_SIDE, LOCAL_SIDE))
    except ArtkitError:
        return np.zeros(0, RECORD), (0, 0)
    xy, descriptors = root_sift(image, max_keypoints)
    # A reduced-scale decode gives xy in its pixels; bring them to the original's.
    ratio = np.array([width / image.shape[1], height / image.shape[0]], np.float32)
    xy = (xy + 0.5) * ratio - 0.5
    records = np.zeros(len(xy), RECORD)
    records["xy"] = xy
    records["descriptor"] = np.clip(np.rint(descriptors * DESCRIPTOR_SCALE), 0, 255)
    return records, (width, height)


def _described(files: Sequence[str], max_keypoints: int, workers: int
               ) -> Iterator[tuple[np.ndarray, tuple[int, int]]]:
    """:func:`_describe` of each file, in order, `workers` threads at a time (OpenCV
    releases the GIL in decoding and SIFT), `CHUNK` files per round."""
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for start in range(0, len(files), CHUNK):
            yield from pool.map(lambda f: _describe(f, max_keypoints),
                                files[start:start + CHUNK])


def write_local_features(index: str | Path, paths: Sequence[str], files: Sequence[str],
                         max_keypoints: int = MAX_KEYPOINTS, workers: int = 1) -> Path:
    """Describe `files` (the index's items, row order; `paths` as the index stores them)
    into the sidecar files of `index`, streamed and atomic. Not resumable: a resumed
    `index build` keeps a sidecar whose paths and keypoint limit are the index's, and
    otherwise describes every item again. Returns the records file."""
    records_file, table_file = local_paths(index)
    if records_file.exists() and table_file.exists():
        with np.load(table_file, allow_pickle=False) as table:
            if (list(map(str, table["paths"])) == list(paths)
                    and int(table["max_keypoints"]) == max_keypoints):
                return records_file
    offsets, sizes = [0], []
    records_file.parent.mkdir(parents=True, exist_ok=True)
    # Records stream into an anonymous file (the total is known only at the end, and a .npy
    # header states it), then go behind their header into the sidecar.
    with tempfile.TemporaryFile(dir=records_file.parent) as raw:
        for records, size in _described(list(files), max_keypoints, workers):
            raw.write(records.tobytes())
            offsets.append(offsets[-1] + len(records))
            sizes.append(size)
        raw.seek(0)
        header = {"descr": np.lib.format.dtype_to_descr(RECORD), "fortran_order": False,
                  "shape": (offsets[-1],)}
        # The table goes first and comes back last: a crash between the two moves leaves
        # no table (no local features), never one whose offsets describe other records.
        table_file.unlink(missing_ok=True)
        with atomic_path(records_file) as tmp, tmp.open("wb") as out:
            np.lib.format.write_array_header_1_0(out, header)
            shutil.copyfileobj(raw, out, 1 << 20)
    with atomic_path(table_file) as tmp, tmp.open("wb") as out:
        np.savez(out, paths=np.array(list(paths), dtype=str),
                 offsets=np.array(offsets, np.int64),
                 sizes=np.array(sizes, np.int64).reshape(-1, 2),
                 max_keypoints=np.array(max_keypoints))
    return records_file


class LocalFeatureReader:
    """The local features beside an index, opened once: the small table read and checked
    against the index, the records memory-mapped; each :meth:`read` then touches only the
    rows asked for (what a verifier reading its shortlist photo after photo needs: the
    check reads every path of the index, so it must not run per photo)."""

    def __init__(self, index: str | Path):
        records_file, table_file = local_paths(index)
        if not records_file.exists() or not table_file.exists():
            raise ArtkitError("this index has no local features", Path(index),
                              hint="rebuild it with `artkit index build --local-features`")
        with np.load(table_file, allow_pickle=False) as table:
            self.offsets, self.sizes, described = (table["offsets"], table["sizes"],
                                                   table["paths"])
        if list(map(str, described)) != list(map(str,
                                                 EmbeddingSet.read(index, False).paths)):
            # the index was rewritten since (`artkit embed -o` on the same file, say)
            raise ArtkitError("the local features beside this index describe other items",
                              Path(index), hint="rebuild it with `artkit index build "
                              "--local-features`")
        self.records = np.load(records_file, mmap_mode="r")

    def read(self, rows: Sequence[int]) -> list[LocalFeatures]:
        """For each of `rows`: (xy in the original image's pixels, RootSIFT float32
        descriptors, (width, height))."""
        found: list[LocalFeatures] = []
        for row in rows:
            part = np.asarray(self.records[self.offsets[row]:self.offsets[row + 1]])
            found.append((part["xy"].astype(np.float32),
                          part["descriptor"].astype(np.float32) / DESCRIPTOR_SCALE,
                          (int(self.sizes[row][0]), int(self.sizes[row][1]))))
        return found


def read_local_features(index: str | Path, rows: Sequence[int]) -> list[LocalFeatures]:
    """The local features of the index's items `rows`: for each, (xy in the original
    image's pixels, RootSIFT float32 descriptors, (width, height)). Only those rows'
    records are read from disk (to read many times, open a :class:`LocalFeatureReader`)."""
    return LocalFeatureReader(index).read(rows)


def write_meta(index: str | Path, csv_file: str | Path, paths: Sequence[str]) -> Path:
    """Join the rows of `csv_file` to the index's `paths` on its key column (the first of
    :data:`KEY_COLUMNS` it has, else its first column), matched to each path's file name
    or stem; every other column is kept as a string. Written as ``index.meta.json``."""
    csv_file = Path(csv_file)
    try:
        with csv_file.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ArtkitError(f"cannot read the metadata csv: {exc.strerror or exc}",
                          csv_file) from None
    columns = list(rows[0]) if rows else []
    if not columns:
        raise ArtkitError("the metadata csv has no rows", csv_file)
    key = next((c for c in columns if c.strip().lower() in KEY_COLUMNS), columns[0])
    by_key: dict[str, dict[str, str]] = {}
    for row in rows:
        value = Path((row.get(key) or "").strip())
        fields = {c: row[c] or "" for c in columns if c != key}
        by_key.setdefault(value.name, fields)
        by_key.setdefault(value.stem, fields)
    items = {}
    for path in paths:
        name = Path(path)
        fields = by_key.get(name.name, by_key.get(name.stem))
        if fields is not None:
            items[path] = fields
    return write_json(meta_path(index), {"csv": str(csv_file), "key": key, "items": items})


def read_meta(index: str | Path) -> dict[str, dict[str, str]]:
    """The metadata of the index's items, keyed by the path as the index stores it (items
    without a csv row are absent); empty for an index built without ``--meta``."""
    path = meta_path(index)
    return read_json(path)["items"] if path.exists() else {}
