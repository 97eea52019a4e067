"""`artkit.api.benchmark.benchmark(model)`: how fast an exported model runs here, from the
file alone, as rows of measures (and their JSON file).

onnxruntime on ready arrays at batch 1, 8 and 32; predict end to end on a folder of JPEGs
relative to onnxruntime alone (decoding should hide behind inference: the target is 0.9 or
more); int8 vs float when ``X.onnx`` is an int8 export with its float model ``X.float.onnx``
beside it; and the peak memory of predict over N/4 and N files. Keras comparisons need the
network itself: see benchmarks/bench_inference.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artkit.errors import ArtkitError
from artkit.runtime.session import Device

N_PHOTOS = 128
"""Photo-like JPEGs written for the end-to-end run when no folder of photos is given."""
ROUNDS = 3
"""Interleaved rounds; each measure keeps its best."""
DEVICE: Device = "cpu"
"""The CPU unless asked: the figures are for the machine's cores."""


@dataclass
class BenchmarkResult:
    """The measures of one model (``{"measure": ..., "value": ...}`` rows, in order) and the
    JSON file they were written to (None when not asked for)."""

    model: Path
    artkit_model: str
    """The model plugin that trained it (``ModelCard.model``)."""
    input_size: tuple[int, int]
    rows: list[dict[str, Any]]
    output: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `output`."""
        return {"model": str(self.model), "rows": self.rows}


def benchmark(model: str | Path, *, photos: str | Path | None = None,
              n_photos: int = N_PHOTOS, device: Device = DEVICE, rounds: int = ROUNDS,
              output: str | Path | None = None) -> BenchmarkResult:
    """Measure the exported image model `model` (see the module docstring); `photos` is a
    folder of JPEGs for the end-to-end run (default: `n_photos` photo-like 640x480 JPEGs
    written to a temporary folder); `output` receives the rows as JSON."""
    from artkit.atomic import write_json
    from artkit.formats.model_card import ModelCard
    from artkit.onnx_export.run_export import float_path
    from artkit.runtime.benchmark import (
        BATCH_SIZES,
        end_to_end,
        ort_throughput,
        write_photo_like_jpegs,
    )
    from artkit.runtime.preprocess import input_size, loader_for
    from artkit.runtime.session import active_provider, cpu_count, create_session

    model = Path(model)
    session = create_session(model, device=device)
    card = ModelCard.from_session(session, model)
    if card.input_kind != "image":
        raise ArtkitError("benchmark measures image models (this one takes descriptors)", model)
    size = input_size(card)
    where = active_provider(session)
    ort = ort_throughput(session, size, rounds=rounds)
    rows: list[dict[str, Any]] = [{"measure": f"onnxruntime images/s, batch {b} ({where})",
                                   "value": ort[b]} for b in BATCH_SIZES]
    with tempfile.TemporaryDirectory(prefix="artkit-bench-") as scratch:
        folder = Path(photos) if photos is not None else None
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")) \
            if folder is not None else write_photo_like_jpegs(Path(scratch) / "photos", n_photos)
        if not files:
            raise ArtkitError("no JPEG files found", folder)
        e2e = end_to_end(model, files, session, size, loader_for(card), predict_process,
                         rounds=rounds, workers=cpu_count())
    rows += [
        {"measure": f"artkit predict images/s ({e2e['images']} JPEGs, batch 32)",
         "value": e2e["predict_images_per_s"]},
        {"measure": "decode + resize alone images/s (D)", "value": e2e["decode_images_per_s"]},
        {"measure": "onnxruntime alone images/s, batch 32 (R)",
         "value": e2e["ort_images_per_s"]},
        {"measure": "limit 1 / (1/D + 1/R)", "value": e2e["limit_images_per_s"]},
        {"measure": "artkit predict / limit", "value": e2e["ratio_to_limit"]},
        {"measure": "artkit predict / onnxruntime alone", "value": e2e["ratio"]},
        {"measure": f"peak RSS MB, predict on {e2e['images_quarter']} files",
         "value": e2e["peak_rss_mb_quarter"]},
        {"measure": f"peak RSS MB, predict on {e2e['images']} files", "value": e2e["peak_rss_mb"]},
    ]
    float_model = float_path(model)  # `model` is an int8 export with its float beside it
    if float_model.exists():
        flt = ort_throughput(create_session(float_model, device=device), size, (1, 32), rounds)
        rows += [{"measure": f"int8 / float speed, batch {b}", "value": ort[b] / flt[b]}
                 for b in (1, 32)]
        rows.append({"measure": "int8 / float file size",
                     "value": model.stat().st_size / float_model.stat().st_size})
    result = BenchmarkResult(model, card.model, size, rows)
    if output is not None:
        result.output = write_json(output, result.to_dict())
    return result


# The child reports its own high-water mark (VmHWM, reset at exec; RUSAGE_CHILDREN is not:
# it would count the parent's memory that the fork copied), on one JSON line.
_PREDICT_CHILD = """
import json, sys
from artkit.api.model import load
from artkit.errors import ArtkitError

args = json.loads(sys.argv[1])
try:
    predictions = load(args["model"], device="cpu").predict(
        args["inputs"], batch_size=args["batch_size"], workers=args["workers"],
        output=args["output"])
    for _ in predictions:
        pass
except ArtkitError as error:
    sys.exit(str(error))
peak = None
try:
    with open("/proc/self/status") as status:
        peak = int(status.read().split("VmHWM:")[1].split()[0])
except (OSError, IndexError, ValueError):
    pass
done = predictions.summary
print(json.dumps({"images": done.scored, "seconds": done.seconds, "peak_rss_kb": peak}))
"""


def predict_process(model: Path, inputs: Sequence[Path | str], batch_size: int = 32,
                    workers: int | None = None, output: Path | None = None) -> dict[str, float]:
    """Run ``Model.predict`` in a child process: its images/s and the child's peak RSS (MB).

    Linux reports the peak; elsewhere it is NaN."""
    args = {"model": str(model), "inputs": [str(p) for p in inputs], "batch_size": batch_size,
            "workers": workers, "output": str(output) if output is not None else None}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PREDICT_CHILD, json.dumps(args)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    try:
        found = json.loads(lines[-1]) if done.returncode == 0 and lines else None
    except json.JSONDecodeError:
        found = None
    if not isinstance(found, dict):
        raise ArtkitError(f"predict failed: {(done.stderr or done.stdout).strip()}")
    peak = found["peak_rss_kb"]
    return {"images": int(found["images"]),
            "images_per_s": found["images"] / max(found["seconds"], 1e-9), "wall_s": wall,
            "peak_rss_mb": peak / 1024 if peak is not None else float("nan")}
