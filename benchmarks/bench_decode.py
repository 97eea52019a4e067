"""The reduced-scale JPEG decoder against the full decode: speed, pixels and a model metric.

    .venv/bin/python benchmarks/bench_decode.py
    .venv/bin/python benchmarks/bench_decode.py --real ../shared/data/aic-museum \\
        --weights ../shared/weights/mobilenet_2_5_224_tf_no_top.h5

1. Speed, on photo-like JPEGs twice and four times the network input (640x480 and
   1280x960 for 224 px): the full decode plus area resize (artkit 0.1's path, which
   `decode_image` without `min_size` still is) against `load_resized` (DCT-domain 1/2, 1/4
   or 1/8 decode, then the same resize), one thread and a pool of one thread per CPU,
   interleaved rounds, best of each. Ratios from this one run.
2. Pixels: mean and 99th-percentile absolute difference of the network input (0..255).
3. With --real: the same on real photos, and with --weights (Keras MobileNet alpha 0.25
   ImageNet weights) a department classifier's test accuracy with either decoder: logistic
   regression on frozen pooled features, fitted on the full-decode features of 80 % of the
   photos, scored on the other 20 % decoded both ways, over 5 stratified splits.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np


def full_decode(size: tuple[int, int]) -> Callable[[Path], np.ndarray]:
    from artkit.data.decode import decode_image, resize_to

    return lambda path: resize_to(decode_image(path), size)


def reduced_decode(size: tuple[int, int]) -> Callable[[Path], np.ndarray]:
    from artkit.data.decode import load_resized

    return lambda path: load_resized(path, size)[0]


def rate(load: Callable[[Path], np.ndarray], paths: list[Path], workers: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(load, paths):
            pass
    return len(paths) / (time.perf_counter() - start)


def speed(paths: list[Path], size: tuple[int, int], workers: int, rounds: int
          ) -> dict[str, float]:
    loads = {"full": full_decode(size), "reduced": reduced_decode(size)}
    best = {f"{name}@{w}": 0.0 for name in loads for w in (1, workers)}
    for load in loads.values():
        rate(load, paths[:8], 1)  # warm-up
    for _ in range(rounds):
        for name, load in loads.items():
            for w in (1, workers):
                best[f"{name}@{w}"] = max(best[f"{name}@{w}"], rate(load, paths, w))
    return best


def pixel_change(paths: list[Path], size: tuple[int, int]) -> tuple[float, float]:
    full, reduced = full_decode(size), reduced_decode(size)
    diffs = [np.abs(full(p).astype(np.int16) - reduced(p).astype(np.int16)) for p in paths]
    flat = np.concatenate([d.ravel() for d in diffs])
    return float(flat.mean()), float(np.percentile(flat, 99))


def department_accuracy(root: Path, weights: Path, size: int) -> list[tuple[float, float]]:
    """(accuracy with the full decode, with the reduced decode) per stratified split."""
    import keras
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedShuffleSplit

    from artkit.data.dataset import load_dataset

    dataset = load_dataset(root / "department_classes.csv")
    keep = np.isin(dataset.targets, np.flatnonzero(np.bincount(dataset.targets) >= 5))
    paths = [p for p, k in zip(dataset.paths, keep, strict=True) if k]
    targets = dataset.targets[keep]
    network = keras.applications.MobileNet(alpha=0.25, include_top=False, pooling="avg",
                                           weights=str(weights), input_shape=(size, size, 3))

    def features(load: Callable[[Path], np.ndarray]) -> np.ndarray:
        with ThreadPoolExecutor() as pool:
            images = np.stack(list(pool.map(load, paths))).astype(np.float32)
        return network.predict(images / 127.5 - 1.0, batch_size=64, verbose=0)

    full = features(full_decode((size, size)))
    reduced = features(reduced_decode((size, size)))
    results = []
    for train, test in StratifiedShuffleSplit(5, test_size=0.2, random_state=0).split(
            full, targets):
        classifier = LogisticRegression(max_iter=3000).fit(full[train], targets[train])
        results.append((classifier.score(full[test], targets[test]),
                        classifier.score(reduced[test], targets[test])))
    return results


def main() -> None:
    from artkit.runtime.benchmark import write_photo_like_jpegs
    from artkit.runtime.session import cpu_count

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224, help="Network input side.")
    parser.add_argument("--n", type=int, default=96, help="Synthetic photos per size.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--real", type=Path, help="A folder of real photos (e.g. aic-museum).")
    parser.add_argument("--real-size", type=int, default=128,
                        help="Network input for the real photos (aic-museum's are ~300 px).")
    parser.add_argument("--weights", type=Path, help="Keras MobileNet 0.25 ImageNet weights.")
    args = parser.parse_args()
    size = (args.size, args.size)
    workers = cpu_count()
    with tempfile.TemporaryDirectory(prefix="artkit-decode-") as scratch:
        for factor, photo in ((2, (480, 640)), (4, (960, 1280))):
            paths = write_photo_like_jpegs(Path(scratch) / str(factor), args.n, photo)
            best = speed(paths, size, workers, args.rounds)
            mean, p99 = pixel_change(paths[:32], size)
            print(f"{photo[1]}x{photo[0]} JPEGs -> {args.size} px: full {best['full@1']:.0f} "
                  f"img/s, reduced {best['reduced@1']:.0f} img/s on 1 thread "
                  f"({best['reduced@1'] / best['full@1']:.2f}x); {workers} threads "
                  f"{best['full@' + str(workers)]:.0f} -> {best['reduced@' + str(workers)]:.0f} "
                  f"({best['reduced@' + str(workers)] / best['full@' + str(workers)]:.2f}x); "
                  f"pixel change mean {mean:.2f}, p99 {p99:.0f} (of 255)")
    if args.real:
        real = sorted(p for p in (args.real / "images").iterdir() if p.suffix == ".jpg")
        real_size = (args.real_size, args.real_size)
        best = speed(real, real_size, workers, args.rounds)
        mean, p99 = pixel_change(real, real_size)
        print(f"{len(real)} real photos -> {args.real_size} px: "
              f"{best['reduced@1'] / best['full@1']:.2f}x on 1 thread, "
              f"{best['reduced@' + str(workers)] / best['full@' + str(workers)]:.2f}x on "
              f"{workers}; pixel change mean {mean:.2f}, p99 {p99:.0f}")
        if args.weights:
            results = np.array(department_accuracy(args.real, args.weights, args.real_size))
            print(f"department accuracy (frozen MobileNet 0.25 + logistic regression, "
                  f"{args.real_size} px, 5 splits): full decode "
                  f"{results[:, 0].mean():.3f} ± {results[:, 0].std():.3f}, reduced "
                  f"{results[:, 1].mean():.3f} ± {results[:, 1].std():.3f}; per split "
                  + ", ".join(f"{a:.3f}/{b:.3f}" for a, b in results))


if __name__ == "__main__":
    main()
