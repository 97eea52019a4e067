"""How fast a report over 10,000 predictions opens in headless Chromium.

    .venv/bin/python benchmarks/bench_report.py                 # 10,000 images, 3 loads
    .venv/bin/python benchmarks/bench_report.py --images 50000 --loads 5

Writes N tiny generated JPEGs and an `artkit predict`-style predictions file (jsonl, 12
labels, written by artkit's own writer, a few files skipped), makes the report (thumbnails
in the folder beside the page, as `auto` does for a gallery this size), then opens it in
headless Chromium (Debian's chromium + chromedriver through Selenium) several times and
reads the page's own clock: DOMContentLoaded, first contentful paint, the gallery ready
(its first page of tiles built: the `artkit-gallery-ready` mark) and the first page's
thumbnails loaded. The target is under 2 s to the gallery being ready.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

LABELS = [f"class_{k:02d}" for k in range(12)]
TIMING = """
const done = arguments[arguments.length - 1];
const inView = () => Array.from(document.querySelectorAll('#predictions img'))
  .filter(i => { const r = i.getBoundingClientRect();
                 return r.bottom > 0 && r.top < innerHeight; });
const loaded = images => Promise.all(images.map(
  i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; })));
const wait = () => {
  if (document.documentElement.getAttribute('data-ready') !== '1') { setTimeout(wait, 5); return; }
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  const mark = performance.getEntriesByName('artkit-gallery-ready')[0];
  const result = {dom: nav.domContentLoadedEventEnd, paint: paint ? paint.startTime : null,
                  gallery: mark.startTime, load: nav.loadEventEnd,
                  count: document.querySelector('#predictions .gallery-count').dataset.count};
  // then scroll to the gallery: how long until the thumbnails in view are there
  document.getElementById('predictions').scrollIntoView();
  const scrolled = performance.now();
  requestAnimationFrame(() => {
    const images = inView();
    loaded(images).then(() => requestAnimationFrame(() => {
      result.tiles = images.length;
      result.thumbs = performance.now() - scrolled;
      done(result);
    }));
  });
};
wait();
"""


def make_images(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """N small distinct JPEGs (random colour blocks), 64 x 48 px."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        blocks = rng.integers(0, 256, size=(3, 4, 3), dtype=np.uint8)
        image = cv2.resize(blocks, (64, 48), interpolation=cv2.INTER_NEAREST)
        path = folder / f"img_{k:05d}.jpg"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        paths.append(path)
    return paths


def write_predictions(paths: list[Path], out: Path, seed: int = 0) -> Path:
    from artkit.runtime.prediction import Prediction
    from artkit.runtime.writers import open_writer

    rng = np.random.default_rng(seed)
    writer = open_writer(out, LABELS, {"model": "benchmark.onnx", "task": "multiclass",
                                       "labels": LABELS})
    rows = []
    for index, path in enumerate(paths):
        if index % 500 == 499:
            rows.append(Prediction(index, path, "error", error="not an image (benchmark)"))
            continue
        scores = rng.dirichlet(np.full(len(LABELS), 0.5)).astype(np.float32)
        order = np.argsort(-scores)
        rows.append(Prediction(index, path, "ok", [LABELS[order[0]]], scores,
                               [(LABELS[j], float(scores[j])) for j in order[:3]],
                               model_labels=LABELS))
    writer.write(rows)
    writer.close(finished=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=3, help="page loads timed (best kept)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="make everything in this folder and keep it")
    args = parser.parse_args()

    from browser import headless, unavailable

    import artkit

    reason = unavailable()
    if reason:
        raise SystemExit(f"no headless browser: {reason}")
    with tempfile.TemporaryDirectory() as scratch:
        base = args.keep or Path(scratch)
        started = time.perf_counter()
        paths = make_images(base / "photos", args.images)
        predictions = write_predictions(paths, base / "predictions.jsonl")
        made = time.perf_counter() - started
        started = time.perf_counter()
        page = artkit.report(predictions, base / "report.html")
        built = time.perf_counter() - started
        size = page.stat().st_size / 1e6
        thumbs = len(list(page.parent.glob("report_files/*.jpg")))
        print(f"{args.images} predictions: data made in {made:.1f} s; report built in "
              f"{built:.1f} s ({size:.1f} MB page + {thumbs} thumbnails in report_files/)")
        results = []
        with headless(1280, 900) as driver:
            driver.set_script_timeout(60)
            for load in range(args.loads):
                driver.get("about:blank")
                began = time.perf_counter()
                driver.get(page.resolve().as_uri())
                timing = driver.execute_async_script(TIMING)
                timing["wall"] = (time.perf_counter() - began) * 1000
                results.append(timing)
                print(f"load {load + 1}: DOMContentLoaded {timing['dom']:.0f} ms, first paint "
                      f"{timing['paint'] or float('nan'):.0f} ms, gallery ready "
                      f"{timing['gallery']:.0f} ms ({timing['count']} images), load event "
                      f"{timing['load']:.0f} ms; after scrolling to the gallery its "
                      f"{timing['tiles']} thumbnails in view in {timing['thumbs']:.0f} ms; "
                      f"driver wall {timing['wall']:.0f} ms")
        ready = [r["gallery"] for r in results]
        print(f"report over {args.images:,} predictions: gallery ready {ready[0] / 1000:.2f} s "
              f"on the first load, {statistics.median(ready) / 1000:.2f} s median of "
              f"{len(ready)}; {'under' if max(ready) < 2000 else 'OVER'} the 2 s target")

if __name__ == "__main__":
    main()
