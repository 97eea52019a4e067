"""Soak: `artkit predict` over 100,000 small files. Memory must stay flat and throughput
steady from the first file to the last.

    .venv/bin/python benchmarks/bench_soak.py                 # 100,000 files, 100 folders
    .venv/bin/python benchmarks/bench_soak.py --n 20000       # a shorter soak

Writes N photo-like 96x128 JPEGs into 100 nested folders (once; reused with --keep), a
MobileNet alpha 0.25 (random weights) export at 64 px, then runs `artkit predict FOLDER
--output rows.jsonl` in a child process. While it runs, the child's resident memory
(VmRSS) and the rows written so far are sampled every 0.2 s; the figures at 10k, 50k and
100k rows (or the fractions 0.1, 0.5 and 1 of N) are printed with the throughput of each
stretch. Also reported: how long after the start the first row was written (the listing
is streamed, so it does not wait for the whole tree).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_tree(root: Path, n: int, folders: int = 100) -> None:
    import cv2

    rng = np.random.default_rng(0)
    base = [cv2.resize(rng.uniform(0, 255, (3, 4, 3)).astype(np.float32), (128, 96),
                       interpolation=cv2.INTER_CUBIC) for _ in range(64)]
    for i in range(n):
        folder = root / f"part{i % folders:03d}"
        if i < folders:
            folder.mkdir(parents=True, exist_ok=True)
        image = base[i % 64] + rng.normal(0, 10, base[0].shape).astype(np.float32)
        ok, data = cv2.imencode(".jpg", np.clip(image, 0, 255).astype(np.uint8),
                                [cv2.IMWRITE_JPEG_QUALITY, 85])
        (folder / f"img{i:06d}.jpg").write_bytes(data.tobytes())


def rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def count_rows(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return 0


def main() -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_inference import exported, keras_network

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="Folder to keep (and reuse) the files in.")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="artkit-soak-"))
    photos = work / "photos"
    if not (work / "written").exists():
        started = time.perf_counter()
        write_tree(photos, args.n)
        (work / "written").write_text(str(args.n))
        print(f"wrote {args.n} JPEGs in {time.perf_counter() - started:.0f} s")
    model = work / "soak.onnx"
    if not model.exists():
        exported(keras_network("mobilenet", 64), 64, work).rename(model)
    out = work / "rows.jsonl"
    out.unlink(missing_ok=True)
    marks = [m for m in (10_000, 50_000, 100_000) if m <= args.n] or \
        [args.n // 10, args.n // 2, args.n]
    command = [sys.executable, "-m", "artkit", "predict", str(photos), "-m", str(model),
               "-o", str(out), "--quiet", "--show", "0", "--device", "cpu"]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    samples: list[tuple[float, int, float]] = []
    first_row = None
    while child.poll() is None:
        rows = count_rows(out)
        now = time.perf_counter() - started
        if rows and first_row is None:
            first_row = now
        samples.append((now, rows, rss_mb(child.pid)))
        time.sleep(0.2)
    stdout, stderr = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"predict failed: {stderr.strip()}")
    last_rss = samples[-1][2] if samples else float("nan")  # the child has exited
    samples.append((time.perf_counter() - started, count_rows(out), last_rss))
    print(next(line for line in stdout.splitlines() if "images scored" in line))
    print(f"first row written {first_row:.1f} s after the start")
    previous_time, previous_rows = first_row or 0.0, 0
    for mark in marks:
        time_at, rows_at, rss_at = next(s for s in samples if s[1] >= mark)
        peak = max((s[2] for s in samples if s[1] <= rows_at and s[2] == s[2]), default=0)
        rate = (rows_at - previous_rows) / max(time_at - previous_time, 1e-9)
        print(f"{mark:>7} rows: RSS {rss_at:6.0f} MB (peak so far {peak:.0f} MB), "
              f"{rate:6.0f} images/s since the previous mark")
        previous_time, previous_rows = time_at, rows_at


if __name__ == "__main__":
    main()
