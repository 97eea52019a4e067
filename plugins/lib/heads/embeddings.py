"""Embeddings of many images, extracted once and cached per image, backbone and input size.

The cache lives under ``$ARTKIT_CACHE/embeddings/<key>/`` (or the platform's user cache
folder), one ``.npy`` per image named by a digest of the image's absolute path, size and
modification time; ``<key>`` digests the backbone's weight values, the input size and
test-time augmentation. A second head on the same data (another C, kNN instead of logistic
regression, a threshold sweep) reads the embeddings back and extracts nothing; an edited
image is extracted afresh.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from artkit import atomic
from artkit.console import track
from artkit.data.synth.api import cache_root

CACHE_VERSION = 1
#: Images extracted (not read from the cache) in this process: tests count cache misses.
STATS = {"extracted": 0}


def image_key(path: Path) -> str:
    path = Path(path).resolve()
    stat = path.stat()
    return hashlib.sha1(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()


class Embedder:
    """Pooled features of image files through `network` (a Keras model, RGB 0..255 in),
    cached under `key`."""

    def __init__(self, network: Any, size: int, key: str, batch_size: int = 32):
        from artkit_plugins.lib.keras_base.plugin import inference_function

        self.network, self.size, self.batch_size = network, size, batch_size
        self.folder = cache_root() / "embeddings" / f"v{CACHE_VERSION}-{key}-{size}"
        self._forward = inference_function(network, size)

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self._forward(np.asarray(images, np.float32)), dtype=np.float32)

    def embed_paths(self, paths: Sequence[Path]) -> np.ndarray:
        """(n, D) float32 embeddings of `paths`, in order; cached ones are read back."""
        from artkit_plugins.lib.keras_base.pipeline import iter_image_batches

        paths = [Path(p) for p in paths]
        files = [self.folder / f"{image_key(p)}.npy" for p in paths]
        found: list[np.ndarray | None] = [np.load(f) if f.exists() else None for f in files]
        missing = [i for i, value in enumerate(found) if value is None]
        if missing:
            self.folder.mkdir(parents=True, exist_ok=True)
            batches = iter_image_batches([paths[i] for i in missing], self.size,
                                         self.batch_size)
            done = 0
            for batch in track(batches, "embedding",
                               total=-(-len(missing) // self.batch_size)):
                for row in self.embed_images(batch):
                    index = missing[done]
                    with atomic.atomic_path(files[index]) as tmp:
                        np.save(tmp, row)
                    found[index] = row
                    done += 1
            STATS["extracted"] += len(missing)
        if not paths:
            return np.zeros((0, 0), np.float32)
        return np.stack(found).astype(np.float32)
