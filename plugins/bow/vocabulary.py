"""The visual vocabulary: k-means centres of a bounded sample of training descriptors.

Memory stays bounded whatever the data set size: each training image contributes at most
``ceil(sample / n_images)`` randomly chosen descriptors, read back from the cache one image at
a time, so the sample never exceeds `sample` rows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from artkit.console import track
from artkit.errors import ArtkitError
from plugins.bow.descriptors import ImageDescriptors


def sample_descriptors(descriptors: ImageDescriptors, indices: Sequence[int], sample: int,
                       seed: int) -> np.ndarray:
    """At most `sample` float32 descriptors drawn evenly from the images `indices`."""
    rng = np.random.default_rng(seed)
    with_any = [int(i) for i in indices if descriptors.counts[i] > 0]
    if not with_any:
        return np.zeros((0, descriptors.dim), np.float32)
    per_image = max(1, math.ceil(sample / len(with_any)))
    parts = []
    for index in track(with_any, "sampling descriptors for the vocabulary"):
        _, rows = descriptors.load(index)
        if len(rows) > per_image:
            rows = rows[rng.choice(len(rows), per_image, replace=False)]
        parts.append(rows)
    stacked = np.concatenate(parts)
    if len(stacked) > sample:
        stacked = stacked[rng.choice(len(stacked), sample, replace=False)]
    return stacked


def check_vocabulary_size(sizes: Sequence[int], available: int, n_images: int) -> None:
    """A vocabulary of K words needs at least K distinct training descriptors."""
    largest = max(sizes)
    if largest > available:
        raise ArtkitError(
            f"--vocab {largest} needs at least {largest} descriptors, but the {n_images} "
            f"training images have only {available}",
            hint="use a smaller --vocab, more images, or a denser extractor "
                 "(--features dense-sift)")


def fit_vocabulary(sample: np.ndarray, size: int, seed: int) -> tuple[np.ndarray, float]:
    """(centres float32 (size, d), seconds) of MiniBatchKMeans on the sample."""
    from sklearn.cluster import MiniBatchKMeans

    started = time.perf_counter()
    kmeans = MiniBatchKMeans(n_clusters=size, batch_size=max(2048, 2 * size),
                             init_size=min(len(sample), max(3 * size, 3 * 2048)),
                             n_init=1, max_iter=50, random_state=seed)
    kmeans.fit(sample)
    return kmeans.cluster_centers_.astype(np.float32), time.perf_counter() - started
