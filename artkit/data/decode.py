"""Robust image decoding in one place: every part of artkit turns a file into RGB here.

Pillow reads the header first (cheap) so that a non-image, an empty file or a
decompression bomb is refused before any pixel is decoded; OpenCV then decodes the pixels
(faster than Pillow for JPEG and PNG) with EXIF orientation applied. Formats OpenCV cannot
decode, and modes it would get wrong, go through Pillow. Whatever the source
(grayscale, RGBA, palette, 16-bit, CMYK), the result is an 8-bit RGB array.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from artkit.errors import ImageDecodeError

#: Refuse images with more pixels than this (about a 16k x 16k photo), before decoding.
MAX_PIXELS = 260_000_000

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


def decode_bytes(data: bytes, path: str | Path = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes into an (H, W, 3) uint8 RGB array."""
    path = Path(path)
    image = _header(data, path)
    # OpenCV is the fast path for plain 8-bit RGB/gray JPEG and PNG.
    if image.format in ("JPEG", "PNG") and image.mode in ("RGB", "L"):
        buffer = np.frombuffer(data, dtype=np.uint8)
        bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
        if bgr is not None and _complete(image):
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return _decode_with_pillow(image, path)


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


def decode_image(path: str | Path) -> np.ndarray:
    """Read and decode an image file into an (H, W, 3) uint8 RGB array.

    Raises :class:`ImageDecodeError` naming the file and the reason for anything that is
    not a readable image."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageDecodeError("file not found", path) from None
    except IsADirectoryError:
        raise ImageDecodeError("is a folder, not an image", path) from None
    except OSError as exc:
        raise ImageDecodeError(f"cannot read file: {exc.strerror or exc}", path) from None
    return decode_bytes(data, path)


def resize_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize RGB `image` to (height, width) with area interpolation when shrinking."""
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    shrinking = image.shape[0] > height or image.shape[1] > width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)
