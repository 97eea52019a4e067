"""`artkit benchmark MODEL.onnx`: how fast an exported model runs here, from the file alone.

onnxruntime on ready arrays at batch 1, 8 and 32; `artkit predict` end to end on a folder
of JPEGs relative to onnxruntime alone (decoding should hide behind inference: the target
is 0.9 or more); int8 vs float when ``X.onnx`` is an int8 export with its float model
``X.float.onnx`` beside it; and the peak memory of `artkit predict` over N/4 and N files.
Keras comparisons need the network itself: see benchmarks/bench_inference.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

import typer

from artkit.console import print_table


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
    rounds: Annotated[int, typer.Option(
        "--rounds", min=1, help="Interleaved rounds; each measure keeps its best.")] = 3,
) -> None:
    """Measure an exported model: onnxruntime batch 1/8/32, predict end to end, int8, memory."""
    from artkit import atomic
    from artkit.errors import ArtkitError
    from artkit.export.run_export import float_path
    from artkit.formats.model_card import ModelCard
    from artkit.runtime.benchmark import (
        BATCH_SIZES,
        end_to_end,
        ort_throughput,
        write_photo_like_jpegs,
    )
    from artkit.runtime.preprocess import input_size, loader_for
    from artkit.runtime.session import active_provider, cpu_count, create_session

    session = create_session(model, device=device)
    card = ModelCard.from_session(session, model)
    if card.input_kind != "image":
        raise ArtkitError("benchmark measures image models (this one takes descriptors)", model)
    size = input_size(card)
    where = active_provider(session)
    ort = ort_throughput(session, size, rounds=rounds)
    rows: list[dict] = [{"measure": f"onnxruntime images/s, batch {b} ({where})",
                         "value": ort[b]} for b in BATCH_SIZES]
    with tempfile.TemporaryDirectory(prefix="artkit-bench-") as scratch:
        files = sorted(p for p in photos.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")) \
            if photos else write_photo_like_jpegs(Path(scratch) / "photos", n_photos)
        if not files:
            raise ArtkitError("no JPEG files found", photos)
        e2e = end_to_end(model, files, session, size, loader_for(card), rounds=rounds,
                         workers=cpu_count())
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
    print_table(f"benchmark of {model} ({card.model}, {size[0]}x{size[1]})", rows)
    if output is not None:
        atomic.write_json(output, {"model": str(model), "rows": rows})


def register(app: typer.Typer) -> None:
    app.command("benchmark")(benchmark_command)
