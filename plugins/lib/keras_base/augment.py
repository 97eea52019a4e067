"""Class-balanced augmentation: which extra images to add, and how to transform them.

The seed paper raised every class to a minimum count with flipped, brightened, zoomed,
shifted and slightly rotated copies. Here the copies are *planned* (which training images
are repeated, and how often) once, and *drawn* afresh every epoch inside the tf.data
pipeline, so no copy is written to disk and no two epochs see the same transformed image.
"""

from __future__ import annotations

import math

import numpy as np

#: Ranges of the random transformations (the paper's kinds; mild so an artwork stays itself).
MAX_ROTATION_DEG = 10.0
ZOOM_RANGE = (0.9, 1.15)
MAX_SHIFT = 0.1  # of the image side
BRIGHTNESS_RANGE = (0.75, 1.25)


def balance_plan(targets: np.ndarray, task: str, minimum: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Positions (into `targets`) of the training images to add as augmented copies so that
    every class (multi-class) or every label (multi-label) has at least `minimum` images.

    Copies cycle through a class's images in a random order, so each image is repeated about
    equally often. For multi-label data, labels are raised rarest first and every copy also
    counts for the other labels it carries (the classic greedy approximation)."""
    if minimum <= 0 or len(targets) == 0:
        return np.zeros(0, dtype=np.int64)
    extras: list[np.ndarray] = []
    if task == "multiclass":
        for label in np.unique(targets):
            members = np.flatnonzero(targets == label)
            extras.append(_cycle(members, minimum - len(members), rng))
    else:
        counts = targets.sum(axis=0).astype(np.int64)
        for label in np.argsort(counts, kind="stable"):
            members = np.flatnonzero(targets[:, label])
            chosen = _cycle(members, minimum - int(counts[label]), rng)
            counts += targets[chosen].sum(axis=0).astype(np.int64)
            extras.append(chosen)
    return np.concatenate(extras).astype(np.int64) if extras else np.zeros(0, np.int64)


def _cycle(members: np.ndarray, need: int, rng: np.random.Generator) -> np.ndarray:
    if need <= 0 or len(members) == 0:
        return np.zeros(0, dtype=np.int64)
    repeats = math.ceil(need / len(members))
    order = np.concatenate([rng.permutation(members) for _ in range(repeats)])
    return order[:need]


def random_augment(image, seed=None):
    """One randomly transformed copy of `image` (float32 (H, W, 3), 0..255): horizontal
    flip, brightness, and one affine warp combining zoom, shift and rotation (reflected
    borders, so no black corners appear for the network to learn)."""
    import tensorflow as tf

    height = tf.cast(tf.shape(image)[0], tf.float32)
    width = tf.cast(tf.shape(image)[1], tf.float32)
    image = tf.image.random_flip_left_right(image)
    image = tf.clip_by_value(image * tf.random.uniform([], *BRIGHTNESS_RANGE), 0.0, 255.0)

    angle = tf.random.uniform([], -MAX_ROTATION_DEG, MAX_ROTATION_DEG) * (math.pi / 180.0)
    zoom = tf.random.uniform([], *ZOOM_RANGE)
    shift_x = tf.random.uniform([], -MAX_SHIFT, MAX_SHIFT) * width
    shift_y = tf.random.uniform([], -MAX_SHIFT, MAX_SHIFT) * height
    # The transform maps each output pixel to the input pixel it samples:
    # input = R(angle) (output - centre) / zoom + centre - shift.
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    transform = tf.stack([cos, -sin, cx - cos * cx + sin * cy - shift_x,
                          sin, cos, cy - sin * cx - cos * cy - shift_y, 0.0, 0.0])
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=transform[None],
        output_shape=tf.shape(image)[:2], fill_value=0.0, interpolation="BILINEAR",
        fill_mode="REFLECT")
    return tf.ensure_shape(warped[0], image.shape)
