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
from artkit_plugins.lib.bow.descriptors import ImageDescriptors


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
    """(centres float32 (size, d), seconds) of MiniBatchKMeans on the sample.

    Seeded by plain k-means++ (one candidate per step, Arthur & Vassilvitskii 2007) on a
    subsample of 3 x size rows: sklearn's default greedy variant tries 2 + ln(size)
    candidates per step, which made the seeding of a 1000-word vocabulary about 10 times
    slower than all the mini-batch iterations together, for no visible gain."""
    from sklearn.cluster import MiniBatchKMeans, kmeans_plusplus

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    seeding = sample[rng.choice(len(sample), min(len(sample), max(3 * size, 6144)),
                                replace=False)]
    initial, _ = kmeans_plusplus(seeding, size, n_local_trials=1, random_state=seed)
    kmeans = MiniBatchKMeans(n_clusters=size, init=initial, n_init=1,
                             batch_size=max(2048, 2 * size), max_iter=50, random_state=seed)
    kmeans.fit(sample)
    return kmeans.cluster_centers_.astype(np.float32), time.perf_counter() - started
