"""`artkit detect` speed end to end, as a ratio to decoding alone and to `frames` alone.

    .venv/bin/python benchmarks/bench_detect.py [--photos /work/shared/data/estense-dev]
        [--n 100] [--model exported/X.onnx] [--options scales=640,min_area=0.0005]

Each line runs `artkit.detect` over the same photos (1280x720 in estense-dev) through the
same pipeline (decode pool overlapped with the work): decoding alone (the working copy
only, no method), `frames` with its defaults, `frames` with --options, and `frames+cnn`
(its defaults, and --options) with --model when given (e.g. the bundled detector,
artkit/bundled/painting-detector.onnx). Prints photos/s and each line's ratio to decoding
and to frames.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from artkit import registry
from artkit.cli.common import print_table
from artkit.contracts import Detections
from artkit.detection.pipeline import detect_photos, open_cam_model
from artkit.runtime.inputs import expand_inputs


class DecodeOnly:
    """A method that finds nothing: what is left is decoding and the pipeline."""

    name = "decode only"
    needs_cam = False
    options = ()

    def detect(self, image: np.ndarray, cam: Any, threshold: float, **options: Any
               ) -> Detections:
        return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))


def rate(paths: list[Path], method: Any, options: dict[str, Any], model: Any = None
         ) -> float:
    start = time.perf_counter()
    done = 0
    for photos, _ in detect_photos(paths, method, (0.2,), options, model):
        done += len(photos)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default="/work/shared/data/estense-dev")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--options", default="",
                        help="method options for the tuned lines, e.g. scales=640+1280")
    args = parser.parse_args()
    paths = expand_inputs([args.photos]).paths[:args.n]
    frames = registry.get(registry.Kind.DETECTION_METHOD, "frames")
    given = dict(item.split("=", 1) for item in args.options.split(",") if item)
    options = {spec.name: spec.type(given[spec.name]) for spec in frames.options
               if spec.name in given}
    rate(paths[:8], frames, {})  # warm-up: imports, first pool
    lines = [("decode only", rate(paths, DecodeOnly(), {})),
             ("frames (defaults)", rate(paths, frames, {}))]
    if options:
        lines.append((f"frames {args.options}", rate(paths, frames, options)))
    if args.model is not None:
        cnn = registry.get(registry.Kind.DETECTION_METHOD, "frames+cnn")
        model = open_cam_model(args.model, "painting", "cpu")
        lines.append(("frames+cnn (defaults)", rate(paths, cnn, {}, model)))
        if options:
            lines.append((f"frames+cnn {args.options}", rate(paths, cnn, options, model)))
    decode, alone = lines[0][1], lines[1][1]
    print_table(f"detect speed, {len(paths)} photos from {args.photos}",
                [{"pipeline": name, "photos/s": round(value, 2),
                  "x decode only": round(value / decode, 3),
                  "x frames (defaults)": round(value / alone, 3)} for name, value in lines])


if __name__ == "__main__":
    main()
