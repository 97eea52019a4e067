"""Gallery thumbnails: decoded by artkit's one decoder, at most 256 px on the long side.

A report with few images embeds them in the page (``data:`` URIs), so the page is one file
that can be mailed; a large one keeps them in the folder ``<page>_files/`` beside the page
and links them relatively (10,000 embedded thumbnails would make a 150 MB page that takes
seconds to parse). Thumbnails in that folder are reused when the photo has not changed, and
ones no longer shown are removed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import cv2
import numpy as np

from artkit import atomic
from artkit.console import make_progress
from artkit.data.decode import decode_image, resize_to
from artkit.errors import ArtkitError

ThumbnailMode = Literal["auto", "embed", "folder"]
THUMBNAIL_MODES: tuple[str, ...] = ("auto", "embed", "folder")
SIDE = 256
"""The long side of a thumbnail, in pixels (smaller images are kept as they are)."""
EMBED_LIMIT = 400
"""`auto` embeds the thumbnails of a page with at most this many images."""
JPEG_QUALITY = 82
INDEX = "index.json"


@dataclass(frozen=True)
class Thumb:
    """One gallery image: where the page finds it, and the photo's own size."""

    src: str | None
    """A ``data:`` URI or a link relative to the page; None when the image cannot be read."""
    width: int = 0
    """The photo's width and height in pixels (boxes are drawn in these coordinates)."""
    height: int = 0
    error: str | None = None
    """Why there is no thumbnail (shown on the placeholder tile)."""


def thumbnail_bytes(path: Path, side: int = SIDE) -> tuple[bytes, int, int]:
    """A JPEG of `path` at most `side` pixels on its long side, and the photo's size."""
    image = decode_image(path)
    height, width = image.shape[:2]
    scale = min(1.0, side / max(height, width))
    small = resize_to(image, (max(1, round(height * scale)), max(1, round(width * scale))))
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(small[:, :, ::-1]),
                               [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit RGB array
        raise ArtkitError("cannot encode the thumbnail", path)
    return encoded.tobytes(), width, height


def data_uri(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


class Thumbnails:
    """Thumbnails for the page at `page`: embedded, or in ``<page stem>_files/``."""

    def __init__(self, page: Path, mode: ThumbnailMode = "auto", count: int = 0,
                 side: int = SIDE):
        if mode not in THUMBNAIL_MODES:
            raise ArtkitError(f"thumbnails must be one of {', '.join(THUMBNAIL_MODES)}, "
                              f"not '{mode}'")
        self.side = side
        self.embed = mode == "embed" or (mode == "auto" and count <= EMBED_LIMIT)
        self.folder = None if self.embed else page.with_name(page.stem + "_files")
        self.index: dict[str, list[int]] = {}
        self.used: set[str] = set()
        if self.folder is not None and (self.folder / INDEX).exists():
            try:
                self.index = atomic.read_json(self.folder / INDEX)
            except (OSError, ValueError):
                self.index = {}

    def _key(self, path: Path) -> str:
        try:
            stat = path.stat()
            stamp = f"{stat.st_mtime_ns}:{stat.st_size}"
        except OSError:
            stamp = "missing"
        text = f"{path.resolve()}|{stamp}|{self.side}"
        return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]

    def _one(self, path: Path) -> Thumb:
        key = None if self.folder is None else self._key(path)
        if key is not None and key in self.index and (self.folder / f"{key}.jpg").exists():
            width, height = self.index[key]
            return Thumb(self._link(key), width, height)
        try:
            data, width, height = thumbnail_bytes(path, self.side)
        except ArtkitError as exc:
            return Thumb(None, error=exc.message)
        except (OSError, cv2.error, ValueError) as exc:
            return Thumb(None, error=f"{type(exc).__name__}: {exc}")
        if key is None:
            return Thumb(data_uri(data), width, height)
        atomic.write_bytes(self.folder / f"{key}.jpg", data)
        self.index[key] = [width, height]
        return Thumb(self._link(key), width, height)

    def _link(self, key: str) -> str:
        assert self.folder is not None
        self.used.add(key)
        return f"{quote(self.folder.name)}/{key}.jpg"

    def make(self, paths: Sequence[Path], description: str = "thumbnails") -> list[Thumb]:
        """Thumbnails of `paths`, in order (decoded on a thread per CPU); a file that cannot
        be read gets a Thumb without `src` and with the reason."""
        if not paths:
            return []
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        found: list[Thumb] = []
        with make_progress() as progress, \
                ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            task = progress.add_task(description, total=len(paths))
            for thumb in pool.map(self._one, [Path(p) for p in paths]):
                found.append(thumb)
                progress.advance(task)
        return found

    def finish(self) -> None:
        """Write the folder's index and remove thumbnails the page no longer shows."""
        if self.folder is None or not self.folder.exists():
            return
        for stale in self.folder.glob("*.jpg"):
            if stale.stem not in self.used:
                stale.unlink(missing_ok=True)
        self.index = {k: v for k, v in self.index.items() if k in self.used}
        atomic.write_text(self.folder / INDEX, json.dumps(self.index))


def embed_file(path: Path, max_bytes: int = 3_000_000) -> str | None:
    """A PNG or JPEG file as a ``data:`` URI (None when missing or larger than `max_bytes`)."""
    try:
        if not path.is_file() or path.stat().st_size > max_bytes:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    mime = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
    return data_uri(data, mime)
