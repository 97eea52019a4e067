"""`artkit benchmark MODEL.onnx`: how fast an exported model runs here, from the file alone.

The measuring, and the JSON file, are :func:`artkit.api.benchmark.benchmark`'s; this prints
its rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from artkit.api.benchmark import DEVICE, N_PHOTOS, ROUNDS
from artkit.cli.options import DeviceOption
from artkit.console import console, print_table


def benchmark_command(
    model: Annotated[Path, typer.Argument(help="An exported artkit image model (.onnx).")],
    photos: Annotated[Path | None, typer.Option(
        "--photos", help="Folder of JPEGs for the end-to-end run (default: photo-like "
        "640x480 JPEGs written to a temporary folder).")] = None,
    n_photos: Annotated[int, typer.Option("--n-photos", min=8,
                                          help="JPEGs to write when --photos is not given.")
                        ] = N_PHOTOS,
    device: DeviceOption = DEVICE,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Also save the figures as JSON.")] = None,
    rounds: Annotated[int, typer.Option(
        "--rounds", min=1, help="Interleaved rounds; each measure keeps its best.")] = ROUNDS,
) -> None:
    """Measure an exported model: onnxruntime batch 1/8/32, predict end to end, int8, memory."""
    from artkit.api.benchmark import benchmark

    result = benchmark(model, photos=photos, n_photos=n_photos, device=device, rounds=rounds,
                       output=output)
    height, width = result.input_size
    print_table(f"benchmark of {model} ({result.artkit_model}, {height}x{width})", result.rows)
    if result.output is not None:
        console.print(f"wrote {result.output}")


def register(app: typer.Typer) -> None:
    app.command("benchmark")(benchmark_command)
