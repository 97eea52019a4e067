"""The tf.data input pipeline: parallel decode and resize, cache, shuffle, augment, batch,
prefetch, so the training step never waits on image files.

Decoding goes through :func:`artkit.data.decode.load_resized` (wrapped in
``tf.numpy_function``), so a network sees
exactly the pixels every other part of artkit sees. Images that do not decode are listed in
`skipped`, so one broken file does not end a training: validation drops them, training keeps
them with sample weight 0 (see :func:`make_dataset`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from artkit.data.decode import load_resized
from artkit.errors import ImageDecodeError

#: Decoded training images up to this many bytes are cached in memory; beyond, on disk.
MEMORY_CACHE_BYTES = 2 * 1024**3


@dataclass
class SkippedImages:
    """Images the pipeline could not decode, with the reason (reported after training)."""

    reasons: dict[str, str] = field(default_factory=dict)

    def add(self, path: str, reason: str) -> None:
        self.reasons.setdefault(path, reason)


def _decoder(size: int, skipped: SkippedImages):
    def decode(path: bytes) -> tuple[np.ndarray, np.bool_]:
        try:
            image, _ = load_resized(path.decode("utf-8"), (size, size))
            return image, np.bool_(True)
        except ImageDecodeError as exc:
            skipped.add(path.decode("utf-8"), exc.message)
            return np.zeros((size, size, 3), np.uint8), np.bool_(False)

    return decode


def make_dataset(paths: Sequence[Path], targets: np.ndarray, size: int, batch_size: int, *,
                 weights: np.ndarray | None = None, augment: np.ndarray | None = None,
                 shuffle_seed: int | None = None, cache_dir: Path | None = None,
                 skipped: SkippedImages | None = None):
    """A batched ``tf.data.Dataset`` of ``(images float32 0..255, targets, sample weights)``.

    `targets` are float32 rows (one-hot or multi-hot). `augment` flags the rows that get a
    fresh random transformation every epoch (the balanced copies); `shuffle_seed` turns on
    per-epoch shuffling (training). Decoded, resized images are cached after the first pass:
    in memory when small, else in `cache_dir`.

    An image that does not decode is dropped from validation data, but stays in training
    data as a blank image of sample weight 0, adding nothing to the loss or a metric: filtering it
    out would leave the number of full training batches unknown to Keras, which then runs
    one step past the end on no data; that step added a batch's worth of samples to every
    metric's count and nothing to its total, so the training ``top1``/``top5`` (and loss)
    of ``history.csv`` came out scaled by steps / (steps + 1)."""
    import tensorflow as tf

    from artkit_plugins.lib.keras_base.augment import random_augment

    n = len(paths)
    skipped = skipped if skipped is not None else SkippedImages()
    weights = np.ones(n, np.float32) if weights is None else weights.astype(np.float32)
    augment = np.zeros(n, bool) if augment is None else augment.astype(bool)
    decode = _decoder(size, skipped)

    def load(path, target, weight, flag):
        image, ok = tf.numpy_function(decode, [path], (tf.uint8, tf.bool), stateful=False)
        image = tf.ensure_shape(image, (size, size, 3))
        return image, target, weight, flag, tf.ensure_shape(ok, ())

    data = tf.data.Dataset.from_tensor_slices(
        ([str(p) for p in paths], targets.astype(np.float32), weights, augment))
    data = data.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle_seed is None:
        data = data.filter(lambda image, target, weight, flag, ok: ok)
    data = data.map(lambda image, target, weight, flag, ok:
                    (image, target, weight * tf.cast(ok, tf.float32), flag))
    if n * size * size * 3 <= MEMORY_CACHE_BYTES or cache_dir is None:
        data = data.cache()
    else:
        cache_dir.mkdir(parents=True, exist_ok=True)
        data = data.cache(str(cache_dir / "images"))
    if shuffle_seed is not None:
        data = data.shuffle(n, seed=shuffle_seed, reshuffle_each_iteration=True)

    def to_float(image, target, weight, flag):
        image = tf.cast(image, tf.float32)
        if augment.any():
            image = tf.cond(flag, lambda: random_augment(image), lambda: image)
        return image, target, weight

    data = data.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    # Training drops the last partial batch (a different one each epoch, as it is shuffled):
    # a batch of another size would make TensorFlow trace the whole training step again.
    drop = shuffle_seed is not None and n >= batch_size
    return data.batch(batch_size, drop_remainder=drop).prefetch(tf.data.AUTOTUNE)


def save_augmented_examples(paths: Sequence[Path], size: int, out_dir: Path) -> int:
    """Write one random augmented version of each image in `paths` as PNG into `out_dir`
    (drawn exactly as training draws them), to let a user see what the network is shown."""
    import cv2
    import tensorflow as tf

    from artkit import atomic
    from artkit_plugins.lib.keras_base.augment import random_augment

    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for number, path in enumerate(paths):
        try:
            image, _ = load_resized(path, (size, size))
        except ImageDecodeError:
            continue
        augmented = random_augment(tf.constant(image, tf.float32)).numpy()
        bgr = cv2.cvtColor(np.clip(augmented + 0.5, 0, 255).astype(np.uint8),
                           cv2.COLOR_RGB2BGR)
        ok, encoded = cv2.imencode(".png", bgr)
        if ok:
            atomic.write_bytes(out_dir / f"{number:05d}_{Path(path).stem}.png", encoded.tobytes())
            written += 1
    return written


def iter_image_batches(paths: Sequence[Path], size: int, batch_size: int, workers: int = 4):
    """Yield float32 (b, size, size, 3) batches of `paths` in order, decoded by a thread pool
    a few batches ahead of the consumer (bounded memory). A file that does not decode
    raises :class:`ImageDecodeError` naming it: scoring must return one row per path."""
    from concurrent.futures import ThreadPoolExecutor

    def load(path: Path) -> np.ndarray:
        return load_resized(path, (size, size))[0]

    window = batch_size * 4
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = [pool.submit(load, p) for p in paths[:window]]
        next_index = len(pending)
        while pending:
            batch, pending = pending[:batch_size], pending[batch_size:]
            refill = paths[next_index:next_index + batch_size]
            pending += [pool.submit(load, p) for p in refill]
            next_index += len(refill)
            yield np.stack([f.result() for f in batch]).astype(np.float32)
