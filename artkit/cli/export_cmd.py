"""`artkit export onnx [RUN]`: one self-contained, self-checked ONNX file per run."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from artkit.cli.common import QuietOption, apply_quiet, new_app, print_table
from artkit.console import console


class Quantization(str, Enum):
    int8 = "int8"


def onnx_command(
    run: Annotated[str | None, typer.Argument(
        help="Run folder or MODEL/N; default: the most recent finished run.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Where to write the model (default: exported/<run>.onnx).")
    ] = None,
    opset: Annotated[int, typer.Option(
        "--opset", min=7, max=18, help="ONNX opset (tf2onnx writes at most 18).")] = 17,
    quantize: Annotated[Quantization | None, typer.Option(
        "--quantize", help="Also write an int8 model beside the float one (static QDQ, "
        "calibrated on training images), with its size, speed and accuracy change.")] = None,
    check_images: Annotated[int, typer.Option(
        "--check-images", min=1, help="Test images of the self-check.")] = 16,
    calibration_images: Annotated[int, typer.Option(
        "--calibration-images", min=1, help="Training images calibrating int8.")] = 64,
    quiet: QuietOption = False,
) -> None:
    """Export a trained run to ONNX, with labels, preprocessing and thresholds inside.

    The export runs the run's test images through the original model and through
    onnxruntime and writes nothing if they differ by more than 1e-4."""
    from artkit.export.run_export import export_run
    from artkit.runs import resolve_run

    apply_quiet(quiet)
    chosen = resolve_run(run)
    result = export_run(chosen, output=output, opset=opset,
                        quantize=quantize.value if quantize else None,
                        check_images=check_images, calibration_images=calibration_images)
    print_table(f"self-check on {result.check.n_images} test images: passed",
                result.check.rows())
    for skipped in result.check.skipped:
        console.print(f"[yellow]skipped in the self-check:[/yellow] {skipped}")
    size_mb = result.path.stat().st_size / 1e6
    console.print(f"wrote {result.path} ({size_mb:.1f} MB, {len(result.meta['labels'])} "
                  f"labels, outputs: {', '.join(result.meta['outputs'])})")
    if result.int8 is not None:
        print_table("int8 quantization", result.int8.rows())
        console.print(f"wrote {result.int8.path} "
                      f"({result.int8.path.stat().st_size / 1e6:.1f} MB)")


def register(app: typer.Typer) -> None:
    export_app = new_app("Export trained runs for deployment.")
    export_app.command("onnx")(onnx_command)
    app.add_typer(export_app, name="export")
