"""`artkit benchmark MODEL.onnx`: how fast an exported model runs here, from the file alone.

onnxruntime on ready arrays at batch 1, 8 and 32; `artkit predict` end to end on a folder
of JPEGs relative to onnxruntime alone (decoding should hide behind inference: the target
is 0.9 or more); int8 vs float when ``X.int8.onnx`` lies beside ``X.onnx``; and the peak
memory of `artkit predict` over N/4 and N files. Keras comparisons need the network
itself: see benchmarks/bench_inference.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

import typer

from artkit.cli.common import print_table


def benchmark_command(
    model: Annotated[Path, typer.Argument(help="An exported artkit image model (.onnx).")],
    photos: Annotated[Path | None, typer.Option(
        "--photos", help="Folder of JPEGs for the end-to-end run (default: photo-like "
        "640x480 JPEGs written to a temporary folder).")] = None,
    n_photos: Annotated[int, typer.Option("--n-photos", min=8,
                                          help="JPEGs to write when --photos is not given.")
                        ] = 128,
    device: Annotated[Literal["auto", "cpu", "cuda"], typer.Option("--device")] = "cpu",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Also save the figures as JSON.")] = None,
    seconds: Annotated[float, typer.Option(
        "--seconds", min=0.01, help="Minimum timing per onnxruntime measurement.")] = 2.0,
) -> None:
    """Measure an exported model: onnxruntime batch 1/8/32, predict end to end, int8, memory."""
    from artkit import io as aio
    from artkit.errors import ArtkitError
    from artkit.export.run_export import int8_path
    from artkit.runtime.benchmark import (
        BATCH_SIZES,
        ort_throughput,
        predict_process,
        write_photo_like_jpegs,
    )
    from artkit.runtime.metadata import metadata_from_session
    from artkit.runtime.preprocess import input_size
    from artkit.runtime.session import active_provider, create_session

    session = create_session(model, device=device)
    meta = metadata_from_session(session, model)
    if meta["input_kind"] != "image":
        raise ArtkitError("benchmark measures image models (this one takes descriptors)", model)
    size = input_size(meta)
    rows: list[dict] = []
    ort = ort_throughput(session, size, min_seconds=seconds)
    for b in BATCH_SIZES:
        rows.append({"measure": f"onnxruntime images/s, batch {b} ({active_provider(session)})",
                     "value": ort[b]})
    with tempfile.TemporaryDirectory(prefix="artkit-bench-") as scratch:
        files = sorted(p for p in photos.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")) \
            if photos else write_photo_like_jpegs(Path(scratch) / "photos", n_photos)
        if not files:
            raise ArtkitError("no JPEG files found", photos)
        small = predict_process(model, files[: max(1, len(files) // 4)])
        full = predict_process(model, files)
    rows += [
        {"measure": f"artkit predict images/s ({full['images']} JPEGs, batch 32)",
         "value": full["images_per_s"]},
        {"measure": "artkit predict / onnxruntime batch 32 (target >= 0.9)",
         "value": full["images_per_s"] / ort[32]},
        {"measure": f"peak RSS MB, predict on {small['images']} files",
         "value": small["peak_rss_mb"]},
        {"measure": f"peak RSS MB, predict on {full['images']} files",
         "value": full["peak_rss_mb"]},
    ]
    quantized = int8_path(model)
    if quantized.exists():
        int8 = ort_throughput(create_session(quantized, device=device), size, (1, 32),
                              seconds)
        rows += [{"measure": f"int8 / float speed, batch {b}", "value": int8[b] / ort[b]}
                 for b in (1, 32)]
        rows.append({"measure": "int8 / float file size",
                     "value": quantized.stat().st_size / model.stat().st_size})
    print_table(f"benchmark of {model} ({meta['model']}, {size[0]}x{size[1]})", rows)
    if output is not None:
        aio.write_json(output, {"model": str(model), "rows": rows})


def register(app: typer.Typer) -> None:
    app.command("benchmark")(benchmark_command)
