"""Measuring an exported model: onnxruntime alone, predict end to end, int8 vs float, and
peak memory. Shared by `artkit.api.benchmark` (`artkit benchmark`) and
benchmarks/bench_inference.py.

The numbers are ratios from one run on one machine: onnxruntime on ready-made arrays is the
ceiling, and predict (decode, resize, batch, infer, write) should get close to it when
decoding hides behind inference. Predict runs in a child process (the caller's
`predict_process`: ``artkit.api.benchmark.predict_process`` runs ``Model.predict``), so
that its peak memory is its own: measured over N/4 and N files, flat memory means the two
peaks are about equal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

BATCH_SIZES = (1, 8, 32)


def best_rates(runners: dict[str, Callable[[], int]], rounds: int = 3) -> dict[str, float]:
    """images/s of each runner (a callable returning how many images it processed).

    Runners are interleaved: every round times each one once, after one warm-up call each,
    and each keeps its best round. On a machine shared with other work the best round is
    the least disturbed one, and interleaving exposes every runner to the same conditions,
    so the ratios stay meaningful where a single long timing would not."""
    for run in runners.values():
        run()
    best = dict.fromkeys(runners, 0.0)
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            count = run()
            best[name] = max(best[name], count / (time.perf_counter() - start))
    return best


def batch_runner(run_batch: Callable[[np.ndarray], Any], batch: np.ndarray,
                 images: int = 32) -> Callable[[], int]:
    """A runner calling `run_batch(batch)` often enough to process about `images` images."""
    calls = max(1, images // len(batch))

    def run() -> int:
        for _ in range(calls):
            run_batch(batch)
        return calls * len(batch)

    return run


def random_images(n: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, *size, 3)).astype(np.float32)


def session_runner(session: Any) -> Callable[[np.ndarray], Any]:
    name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {name: batch})


def ort_throughput(session: Any, size: tuple[int, int],
                   batch_sizes: Sequence[int] = BATCH_SIZES, rounds: int = 3,
                   images: int = 32) -> dict[int, float]:
    run = session_runner(session)
    rates = best_rates({str(b): batch_runner(run, random_images(b, size), images)
                        for b in batch_sizes}, rounds)
    return {int(b): rate for b, rate in rates.items()}


def decode_runner(load: Callable[[Path], Any], photos: Sequence[Path],
                  workers: int) -> Callable[[], int]:
    """A runner loading every photo (decode + resize) on `workers` threads, as predict's
    pipeline does, with nothing else running."""
    from concurrent.futures import ThreadPoolExecutor

    def run() -> int:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(load, photos):
                pass
        return len(photos)

    return run


PredictProcess = Callable[[Path, Sequence[Path], int], dict[str, float]]
"""Runs predict on (model, photos, batch size) in a child process and returns its
``images``, ``images_per_s`` and ``peak_rss_mb`` (the API's ``predict_process``)."""


def end_to_end(model: Path, photos: Sequence[Path], session: Any, size: tuple[int, int],
               load: Callable[[Path], Any], predict_process: PredictProcess,
               rounds: int = 3, batch_size: int = 32, workers: int = 2) -> dict[str, float]:
    """Predict on `photos` against its two stages alone: decoding (D images/s on
    `workers` threads) and onnxruntime on ready images (R). Sharing the cores, the stages
    can reach at best the limit 1 / (1/D + 1/R); the ratio end to end / limit says how much
    of it the overlapped pipeline gets. Interleaved rounds, best of each; plus predict's
    peak memory on N/4 and N files."""
    small = predict_process(model, photos[: max(1, len(photos) // 4)], batch_size)
    stages = {"ort": batch_runner(session_runner(session), random_images(batch_size, size),
                                  images=len(photos)),
              "decode": decode_runner(load, photos, workers)}
    for run in stages.values():
        run()  # warm-up (and the page cache)
    best = dict.fromkeys(("predict", "ort", "decode"), 0.0)
    peak, images = 0.0, 0
    for _ in range(rounds):
        outcome = predict_process(model, photos, batch_size)
        best["predict"] = max(best["predict"], outcome["images_per_s"])
        peak, images = max(peak, outcome["peak_rss_mb"]), outcome["images"]
        for name, run in stages.items():
            start = time.perf_counter()
            best[name] = max(best[name], run() / (time.perf_counter() - start))
    limit = 1 / (1 / best["decode"] + 1 / best["ort"])
    return {"images": images, "predict_images_per_s": best["predict"],
            "ort_images_per_s": best["ort"], "decode_images_per_s": best["decode"],
            "limit_images_per_s": limit, "ratio_to_limit": best["predict"] / limit,
            "ratio": best["predict"] / best["ort"],
            "images_quarter": small["images"], "peak_rss_mb_quarter": small["peak_rss_mb"],
            "peak_rss_mb": peak}


def write_photo_like_jpegs(folder: Path, n: int, size: tuple[int, int] = (480, 640),
                           seed: int = 0) -> list[Path]:
    """`n` JPEGs with smooth, photo-like content (upsampled colour fields plus grain), so
    decoding costs what a camera photo of that size costs."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    height, width = size
    paths = []
    for i in range(n):
        field = rng.uniform(0, 255, (6, 8, 3)).astype(np.float32)
        image = cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC)
        image += rng.normal(0, 12, image.shape).astype(np.float32)
        path = folder / f"photo_{i:05d}.jpg"
        cv2.imwrite(str(path), np.clip(image, 0, 255).astype(np.uint8),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


