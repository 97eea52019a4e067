"""Prepare one image file the way an exported model expects it, from its metadata alone.

Image models take RGB 0..255 at the stored input size (normalisation is inside the graph);
descriptor models take the local descriptors of the feature extractor named in the
metadata, found through the plugin registry. Export's self-check, quantization calibration
and predict all load images here, so they cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from artkit.data.decode import decode_image, load_resized
from artkit.errors import ArtkitError
from artkit.formats.model_card import ModelCard
from artkit.runtime.pipeline import Loader, Size


def input_size(card: ModelCard) -> Size:
    size = card.input_size or card.preprocessing.get("size")
    if not size or len(size) != 2:
        raise ArtkitError("the model's metadata has no input size")
    return int(size[0]), int(size[1])


def image_loader(size: Size) -> Loader:
    """Decode, then resize to (height, width); uint8 RGB out (the batch turns it to float)."""

    def load(path: Path) -> tuple[np.ndarray, Size]:
        return load_resized(path, size)

    return load


def descriptor_loader(preprocessing: dict[str, Any]) -> Loader:
    """Decode, optionally resize, then extract local descriptors with the named plugin."""
    from artkit import registry

    name = preprocessing.get("extractor")
    if not name:
        raise ArtkitError("the model's metadata names no feature extractor")
    extractor = registry.get(registry.Kind.FEATURE_EXTRACTOR, name)
    options = dict(preprocessing.get("extractor_options", {}))
    # Spatial-pyramid graphs take each keypoint's x / width, y / height as 2 extra columns.
    positions = bool(preprocessing.get("position_columns"))

    def load(path: Path) -> tuple[np.ndarray, Size]:
        image = decode_image(path)
        original = (int(image.shape[0]), int(image.shape[1]))
        xy, descriptors = extractor.extract(image, **options)
        descriptors = np.asarray(descriptors, dtype=np.float32)
        if positions:
            scale = np.array([original[1], original[0]], np.float32)
            xy = np.clip(np.asarray(xy, np.float32).reshape(-1, 2) / scale, 0.0, 1.0 - 1e-6)
            descriptors = np.hstack([descriptors, xy])
        return descriptors, original

    return load


def loader_for(card: ModelCard) -> Loader:
    if card.input_kind == "descriptors":
        return descriptor_loader(card.preprocessing)
    return image_loader(input_size(card))
