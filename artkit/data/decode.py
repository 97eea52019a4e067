"""Robust image decoding in one place: every part of artkit turns a file into RGB here.

Each file is read once. Pillow parses the header from those bytes (cheap) so that a
non-image, an empty file or a decompression bomb is refused before any pixel is decoded;
OpenCV then decodes the pixels of plain 8-bit JPEGs (faster than Pillow) with EXIF
orientation applied. Everything else (PNG, whose corrupt files make OpenCV's libpng print
to stderr; odd modes such as 16-bit, CMYK, palette with transparency) goes through Pillow.
Whatever the source, the result is an 8-bit RGB array.

A caller that will shrink the image anyway (to a network's input size) passes `min_size`:
a JPEG much larger than that is then decoded in the DCT domain at 1/2, 1/4 or 1/8 scale
(OpenCV's ``IMREAD_REDUCED_*``), never below `min_size`, and :func:`load_resized` finishes
with the same area resize as before. Training, predict and detect all load through it, so
they see the same pixels.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from artkit.errors import ImageDecodeError

#: Refuse images with more pixels than this (about a 16k x 16k photo), before decoding.
MAX_PIXELS = 260_000_000

EXIF_ORIENTATION = 0x0112

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def _header(data: bytes, path: Path) -> Image.Image:
    if not data:
        raise ImageDecodeError("empty file", path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageDecodeError("not an image (unknown format)", path) from None
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(f"refused as a decompression bomb: {exc}", path) from None
    except Exception as exc:  # Pillow raises many types for damaged headers
        raise ImageDecodeError(f"cannot read image header: {exc}", path) from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"image has no pixels ({width}x{height})", path)
    if width * height > MAX_PIXELS:
        raise ImageDecodeError(
            f"refused: {width}x{height} = {width * height:,} pixels is over the "
            f"{MAX_PIXELS:,} limit (a decompression bomb or a scan far too large)", path)
    return image


def _decode_with_pillow(image: Image.Image, path: Path) -> np.ndarray:
    try:
        image = ImageOps.exif_transpose(image)
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            array = np.asarray(image, dtype=np.float64)
            peak = 65535.0 if array.max() > 255 else 255.0
            gray = np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
            return np.ascontiguousarray(np.stack([gray] * 3, axis=-1))
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and
                                                   "transparency" in image.info):
            # Composite onto white: transparent areas of artwork scans are background.
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
    except (OSError, SyntaxError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason.lower():
            reason = f"truncated file ({reason})"
        raise ImageDecodeError(f"corrupt image: {reason}", path) from None


#: DCT-domain scale factors OpenCV's JPEG decoder offers, largest first.
REDUCED_FLAGS = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4),
                 (2, cv2.IMREAD_REDUCED_COLOR_2), (1, cv2.IMREAD_COLOR))


def reduction(size: tuple[int, int], min_size: tuple[int, int] | None) -> tuple[int, int]:
    """(factor, OpenCV flag): the largest JPEG scale-down that keeps both sides of an image
    of `size` (any orientation) at least as large as `min_size` (any orientation)."""
    if min_size is None:
        return 1, cv2.IMREAD_COLOR
    short, long = sorted(size)
    want_short, want_long = sorted(min_size)
    for factor, flag in REDUCED_FLAGS:
        if short // factor >= want_short and long // factor >= want_long:
            return factor, flag
    return 1, cv2.IMREAD_COLOR


def _decode(data: bytes, path: Path, min_size: tuple[int, int] | None
            ) -> tuple[np.ndarray, tuple[int, int]]:
    """(RGB array, full-resolution (height, width) after EXIF orientation)."""
    image = _header(data, path)
    # OpenCV is the fast path for plain 8-bit RGB/gray JPEG.
    if image.format == "JPEG" and image.mode in ("RGB", "L") and _complete(image):
        _, flag = reduction(image.size, min_size)
        bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
        if bgr is not None:
            width, height = image.size
            if image.getexif().get(EXIF_ORIENTATION, 1) in (5, 6, 7, 8):
                width, height = height, width  # OpenCV applied the rotation too
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (height, width)
    array = _decode_with_pillow(image, path)
    return array, (int(array.shape[0]), int(array.shape[1]))


def decode_bytes(data: bytes, path: str | Path = "<bytes>",
                 min_size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode encoded image bytes into an (H, W, 3) uint8 RGB array (at a reduced scale
    that still covers `min_size`, for a large JPEG, when it is given)."""
    return _decode(data, Path(path), min_size)[0]


def read_image_bytes(data: bytes, path: str | Path = "<bytes>",
                     min_size: tuple[int, int] | None = None
                     ) -> tuple[np.ndarray, tuple[int, int]]:
    """:func:`read_image` for bytes already in memory (an upload to `artkit serve`): the
    RGB array and the image's full-resolution (height, width)."""
    return _decode(data, Path(path), min_size)


def _complete(image: Image.Image) -> bool:
    """OpenCV silently fills a truncated JPEG with grey; let Pillow judge completeness."""
    if image.format != "JPEG":
        return True
    return image.fp is not None and _jpeg_has_end_marker(image)


def _jpeg_has_end_marker(image: Image.Image) -> bool:
    fp = image.fp
    position = fp.tell()
    try:
        fp.seek(-2, io.SEEK_END)
        tail = fp.read(2)
    finally:
        fp.seek(position)
    return tail == b"\xff\xd9"


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or an ImageDecodeError saying why they cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if path.is_symlink():
            raise ImageDecodeError(f"dangling symbolic link (to {os.readlink(path)})",
                                   path) from None
        raise ImageDecodeError("file not found", path) from None
    except IsADirectoryError:
        raise ImageDecodeError("is a folder, not an image", path) from None
    except PermissionError:
        raise ImageDecodeError("cannot read file: permission denied", path) from None
    except OSError as exc:
        raise ImageDecodeError(f"cannot read file: {exc.strerror or exc}", path) from None


def decode_image(path: str | Path, min_size: tuple[int, int] | None = None) -> np.ndarray:
    """Read and decode an image file into an (H, W, 3) uint8 RGB array; with `min_size`,
    possibly at a reduced scale that still covers it (see the module docstring).

    Raises :class:`ImageDecodeError` naming the file and the reason for anything that is
    not a readable image."""
    path = Path(path)
    return decode_bytes(read_bytes(path), path, min_size)


def read_image(path: str | Path, min_size: tuple[int, int] | None = None
               ) -> tuple[np.ndarray, tuple[int, int]]:
    """:func:`decode_image`, plus the image's full-resolution (height, width) (which a
    reduced-scale decode does not show)."""
    path = Path(path)
    return _decode(read_bytes(path), path, min_size)


def load_resized(path: str | Path, size: tuple[int, int]
                 ) -> tuple[np.ndarray, tuple[int, int]]:
    """The image resized to (height, width) `size`, and its full-resolution (height,
    width): the one way artkit prepares an image for a network."""
    image, original = read_image(path, size)
    return resize_to(image, size), original


def resize_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize RGB `image` to (height, width) with area interpolation when shrinking."""
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    shrinking = image.shape[0] > height or image.shape[1] > width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)
