"""Local-descriptor extractors for bag-of-visual-words models: `sift`, `dense-sift`, `orb`.

Each extractor turns one RGB uint8 image into keypoint positions and float32 descriptors.
Positions are returned in the pixel coordinates of the image it was given (even when it
shrank the image first), so a spatial pyramid can place them. OpenCV does the work; images
larger than ``max_side`` are shrunk first because descriptor count and time grow with the
pixel count while classification accuracy does not.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from artkit.contracts import OptionSpec
from artkit.errors import ArtkitError
from artkit.hookspecs import hookimpl

MAX_SIDE = OptionSpec("max_side", int, 640,
                      "Shrink images whose longer side exceeds this many pixels (0: never).")


def _gray(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Grayscale copy of `image`, shrunk to `max_side`; returns (gray, scale applied)."""
    import cv2

    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    longer = max(gray.shape[:2])
    if max_side and longer > max_side:
        scale = max_side / longer
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        return cv2.resize(gray, size, interpolation=cv2.INTER_AREA), scale
    return gray, 1.0


def _empty(dim: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((0, 2), np.float32), np.zeros((0, dim), np.float32)


def _positions(keypoints: Any, scale: float) -> np.ndarray:
    xy = np.array([kp.pt for kp in keypoints], dtype=np.float32).reshape(-1, 2)
    return xy / np.float32(scale)


def _cap(xy: np.ndarray, descriptors: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep at most `limit` descriptors, evenly spread over the list (deterministic)."""
    if limit <= 0 or len(descriptors) <= limit:
        return xy, descriptors
    keep = np.linspace(0, len(descriptors) - 1, limit).round().astype(np.int64)
    return xy[keep], descriptors[keep]


def parse_scales(text: str) -> list[float]:
    """``"8,16,24"`` -> [8.0, 16.0, 24.0]: the keypoint diameters of dense SIFT, in pixels."""
    try:
        scales = [float(s) for s in str(text).replace(";", ",").split(",") if s.strip()]
    except ValueError:
        raise ArtkitError(f"scales must be numbers separated by commas, got '{text}'") from None
    if not scales or min(scales) <= 0:
        raise ArtkitError(f"scales must be positive numbers, got '{text}'")
    return scales


class SiftExtractor:
    """SIFT at difference-of-Gaussian keypoints (Lowe 2004), the seed paper's choice."""

    name = "sift"
    description = "OpenCV SIFT at detected keypoints (128-d); the paper's features."
    options = (
        OptionSpec("max_descriptors", int, 1000,
                   "Keep the strongest N keypoints per image (0: all)."),
        OptionSpec("contrast_threshold", float, 0.04,
                   "SIFT contrast threshold; lower finds more keypoints on flat images."),
        MAX_SIDE,
    )

    def extract(self, image: np.ndarray, max_descriptors: int = 1000,
                contrast_threshold: float = 0.04, max_side: int = 640,
                ) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        gray, scale = _gray(image, max_side)
        sift = cv2.SIFT_create(nfeatures=max(0, max_descriptors),
                               contrastThreshold=contrast_threshold)
        keypoints, descriptors = sift.detectAndCompute(gray, None)
        if descriptors is None or len(keypoints) == 0:
            return _empty(128)
        # SIFT may return a few more than nfeatures (ties in response): cap exactly.
        return _cap(_positions(keypoints, scale), descriptors.astype(np.float32),
                    max_descriptors)


class DenseSiftExtractor:
    """SIFT on a regular grid at several scales: covers textureless regions that keypoint
    detectors skip, which usually helps classification (Fei-Fei & Perona 2005)."""

    name = "dense-sift"
    description = "SIFT on a regular grid at a few scales (128-d); usually beats keypoints."
    options = (
        OptionSpec("step", int, 8, "Grid step in pixels."),
        OptionSpec("scales", str, "8,16,24", "Keypoint diameters in pixels, comma-separated."),
        OptionSpec("max_descriptors", int, 1500,
                   "Keep at most N descriptors per image, evenly spread (0: all)."),
        MAX_SIDE,
    )

    def extract(self, image: np.ndarray, step: int = 8, scales: str = "8,16,24",
                max_descriptors: int = 1500, max_side: int = 640,
                ) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        if step < 1:
            raise ArtkitError(f"step must be at least 1 pixel, got {step}")
        gray, scale = _gray(image, max_side)
        height, width = gray.shape[:2]
        offset = step / 2
        xs = np.arange(offset, width, step, dtype=np.float32)
        ys = np.arange(offset, height, step, dtype=np.float32)
        keypoints = [cv2.KeyPoint(float(x), float(y), size)
                     for size in parse_scales(scales) for y in ys for x in xs]
        if not keypoints:
            return _empty(128)
        keypoints, descriptors = cv2.SIFT_create().compute(gray, keypoints)
        if descriptors is None or len(keypoints) == 0:
            return _empty(128)
        return _cap(_positions(keypoints, scale), descriptors.astype(np.float32),
                    max_descriptors)


class OrbExtractor:
    """ORB (Rublee et al. 2011): an order of magnitude faster than SIFT, less accurate.

    Its 256 binary tests are unpacked into 256 columns of 0/1, so that the Euclidean
    k-means of the vocabulary measures Hamming distance (squared)."""

    name = "orb"
    description = "OpenCV ORB keypoints, 256 binary tests as 0/1 columns; fast."
    options = (
        OptionSpec("max_descriptors", int, 1000, "Keep the strongest N keypoints per image."),
        MAX_SIDE,
    )

    def extract(self, image: np.ndarray, max_descriptors: int = 1000, max_side: int = 640,
                ) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        gray, scale = _gray(image, max_side)
        orb = cv2.ORB_create(nfeatures=max(1, max_descriptors))
        keypoints, descriptors = orb.detectAndCompute(gray, None)
        if descriptors is None or len(keypoints) == 0:
            return _empty(256)
        bits = np.unpackbits(descriptors, axis=1).astype(np.float32)
        return _cap(_positions(keypoints, scale), bits, max_descriptors)


EXTRACTORS = (SiftExtractor(), DenseSiftExtractor(), OrbExtractor())


@hookimpl
def register_feature_extractors(register) -> None:
    for extractor in EXTRACTORS:
        register(extractor)
