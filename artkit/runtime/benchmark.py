"""Measuring an exported model: onnxruntime alone, `artkit predict` end to end, int8 vs
float, and peak memory. Shared by `artkit benchmark` and benchmarks/bench_inference.py.

The numbers are ratios from one run on one machine: onnxruntime on ready-made arrays is the
ceiling, and `artkit predict` (decode, resize, batch, infer, write) should get close to it
when decoding hides behind inference. Peak memory is measured on separate `artkit predict`
processes over N and 4N files: flat memory means the two peaks are about equal.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from artkit.errors import ArtkitError

BATCH_SIZES = (1, 8, 32)


def images_per_second(run_batch: Any, batch: np.ndarray, min_seconds: float = 2.0,
                      min_calls: int = 3) -> float:
    """Throughput of `run_batch(batch)`: one warm-up call, then at least `min_calls` calls
    and `min_seconds` seconds, whichever is longer."""
    run_batch(batch)
    calls, start = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - start < min_seconds:
        run_batch(batch)
        calls += 1
    return calls * len(batch) / (time.perf_counter() - start)


def random_images(n: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, *size, 3)).astype(np.float32)


def ort_throughput(session: Any, size: tuple[int, int],
                   batch_sizes: Sequence[int] = BATCH_SIZES,
                   min_seconds: float = 2.0) -> dict[int, float]:
    name = session.get_inputs()[0].name
    return {b: images_per_second(lambda x: session.run(None, {name: x}),
                                 random_images(b, size), min_seconds) for b in batch_sizes}


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


# The child reports its own high-water mark (VmHWM, reset at exec; RUSAGE_CHILDREN is not:
# it would count the parent's memory that the fork copied).
_PEAK_WRAPPER = (
    "import atexit, sys\n"
    "def peak():\n"
    "    try:\n"
    "        status = open('/proc/self/status').read()\n"
    "        print('peak-rss-kb', status.split('VmHWM:')[1].split()[0], file=sys.stderr)\n"
    "    except (OSError, IndexError):\n"
    "        pass\n"
    "atexit.register(peak)\n"
    "sys.argv[0] = 'artkit'\n"
    "from artkit.cli.main import run\n"
    "run()\n")
PEAK = re.compile(r"peak-rss-kb (\d+)")
SCORED = re.compile(r"(\d+) images scored in ([\d.]+) s \(([\d.]+) images/s\)")


def predict_process(model: Path, inputs: Sequence[Path | str], batch_size: int = 32,
                    workers: int | None = None, output: Path | None = None) -> dict[str, float]:
    """Run `artkit predict` in a child process: its images/s and the child's peak RSS (MB).

    Linux reports the peak; elsewhere it is NaN."""
    command = [sys.executable, "-c", _PEAK_WRAPPER, "predict", *map(str, inputs), "-m",
               str(model), "--batch-size", str(batch_size), "--quiet", "--show", "0",
               "--device", "cpu"]
    if workers:
        command += ["--workers", str(workers)]
    if output is not None:
        command += ["--output", str(output)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    found = SCORED.search(" ".join(done.stdout.split()))
    if done.returncode != 0 or not found:
        raise ArtkitError(f"artkit predict failed: {(done.stderr or done.stdout).strip()}")
    peak = PEAK.search(done.stderr)
    return {"images": int(found.group(1)), "images_per_s": float(found.group(3)),
            "wall_s": wall, "peak_rss_mb": int(peak.group(1)) / 1024 if peak else float("nan")}
