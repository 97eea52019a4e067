"""Image -> fixed-length vector: word assignment, (pyramid) histogram, normalisation.

The arithmetic here is mirrored op for op by `artkit_plugins.lib.bow.onnx_graph`, so that the
exported graph gives the same scores as the Python predictor: distances are computed in float64 as
``|x|^2 - 2 x.c + |c|^2`` and the first of equal distances wins in both.

Spatial pyramid (Lazebnik et al. 2006, L = 2): the word histogram of the whole image, of its
2x2 and of its 4x4 cells, concatenated with level weights 1/4, 1/4, 1/2, so that matches in
finer cells count more. An image without descriptors encodes as all zeros.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from artkit.console import track
from artkit_plugins.lib.bow.descriptors import ImageDescriptors

PYRAMID_LEVELS = ((1, 0.25), (2, 0.25), (4, 0.5))  # (cells per side, weight)


def feature_length(words: int, pyramid: bool) -> int:
    cells = sum(g * g for g, _ in PYRAMID_LEVELS) if pyramid else 1
    return words * cells


def assign_words(descriptors: np.ndarray, centres: np.ndarray,
                 centre_norms: np.ndarray | None = None) -> np.ndarray:
    """Index of the nearest centre for each descriptor (int64 (n,))."""
    if len(descriptors) == 0:
        return np.zeros(0, np.int64)
    x = descriptors.astype(np.float64)
    c = centres.astype(np.float64)
    c2 = centre_norms if centre_norms is not None else np.einsum("ij,ij->i", c, c)
    distances = np.einsum("ij,ij->i", x, x)[:, None] - 2.0 * (x @ c.T) + c2[None, :]
    return distances.argmin(axis=1)


def histogram(words: np.ndarray, xy: np.ndarray, n_words: int, pyramid: bool) -> np.ndarray:
    """Word counts (float64), per pyramid cell and level-weighted when `pyramid`."""
    if not pyramid:
        return np.bincount(words, minlength=n_words).astype(np.float64)
    parts = []
    for cells, weight in PYRAMID_LEVELS:
        cx = np.minimum(np.floor(xy[:, 0].astype(np.float64) * cells), cells - 1)
        cy = np.minimum(np.floor(xy[:, 1].astype(np.float64) * cells), cells - 1)
        cell = (cy * cells + cx).astype(np.int64)
        counts = np.bincount(cell * n_words + words, minlength=cells * cells * n_words)
        parts.append(weight * counts.astype(np.float64))
    return np.concatenate(parts)


def encode_images(descriptors: ImageDescriptors, indices: Sequence[int],
                  vocabularies: dict[int, np.ndarray], pyramid: bool,
                  description: str = "encoding images") -> dict[int, np.ndarray]:
    """Raw (unnormalised) histograms of images `indices` for every vocabulary at once.

    One pass over the cache: each image's descriptors are read once and dropped after use."""
    norms = {k: np.einsum("ij,ij->i", c.astype(np.float64), c.astype(np.float64))
             for k, c in vocabularies.items()}
    out = {k: np.zeros((len(indices), feature_length(k, pyramid)), np.float64)
           for k in vocabularies}
    for row, index in enumerate(track(list(indices), description)):
        xy, rows = descriptors.load(int(index))
        for k, centres in vocabularies.items():
            words = assign_words(rows, centres, norms[k])
            out[k][row] = histogram(words, xy, k, pyramid)
    return out


class Normaliser:
    """``l1``: word frequencies (the histogram divided by its sum).
    ``tfidf``: frequencies times the inverse document frequency of each word over the
    training images (sklearn's smoothed idf, ``ln((1 + n) / (1 + df)) + 1``), then L2
    normalised. An all-zero histogram stays all zero."""

    def __init__(self, mode: str, idf: np.ndarray | None = None):
        self.mode = mode
        self.idf = idf

    def fit(self, histograms: np.ndarray) -> Normaliser:
        if self.mode == "tfidf":
            n = len(histograms)
            df = (histograms > 0).sum(axis=0)
            self.idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
        return self

    def transform(self, histograms: np.ndarray) -> np.ndarray:
        totals = histograms.sum(axis=1, keepdims=True)
        frequencies = histograms / np.maximum(totals, 1e-12)
        if self.mode == "l1":
            return frequencies.astype(np.float32)
        weighted = frequencies * self.idf[None, :]
        lengths = np.sqrt((weighted * weighted).sum(axis=1, keepdims=True))
        return (weighted / np.maximum(lengths, 1e-12)).astype(np.float32)
