"""`artkit export onnx [RUN]`: one self-contained, self-checked ONNX file per run;
`artkit export average A.onnx B.onnx ...`: several exported classifiers as one."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from artkit.api.train import CALIBRATION_IMAGES, CHECK_IMAGES, DEFAULT_OPSET, export
from artkit.cli.common import apply_quiet, new_app
from artkit.cli.options import QuietOption
from artkit.console import console, print_table


class Quantization(str, Enum):
    int8 = "int8"


def onnx_command(
    run: Annotated[str | None, typer.Argument(
        help="Run folder or MODEL/N; default: the most recent finished run.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Where to write the model (default: exported/<run>.onnx).")
    ] = None,
    opset: Annotated[int, typer.Option(
        "--opset", min=7, max=18, help="ONNX opset (tf2onnx writes at most 18).")] = DEFAULT_OPSET,
    quantize: Annotated[Quantization | None, typer.Option(
        "--quantize", help="Write an int8 model (static QDQ, calibrated on training images) "
        "at the output path and keep the float model it was quantized from beside it as "
        "<name>.float.onnx; prints the size, speed and accuracy change.")] = None,
    check_images: Annotated[int, typer.Option(
        "--check-images", min=1, help="Test images of the self-check.")] = CHECK_IMAGES,
    calibration_images: Annotated[int, typer.Option(
        "--calibration-images", min=1, help="Training images calibrating int8.")
    ] = CALIBRATION_IMAGES,
    embedding: Annotated[bool, typer.Option(
        "--embedding", help="Export the run's backbone alone as an embedding model (output "
        "'embedding': pooled features) for artkit embed, similar and duplicates "
        "(linear-probe and knn runs).")] = False,
    quiet: QuietOption = False,
) -> None:
    """Export a trained run to ONNX, with labels, preprocessing and thresholds inside.

    The export runs the run's test images through the original model and through
    onnxruntime and writes nothing if they differ by more than 1e-4."""
    apply_quiet(quiet)
    result = export(run, output, opset=opset,
                           quantize=quantize.value if quantize else None,
                           check_images=check_images, calibration_images=calibration_images,
                           embedding=embedding)
    print_table(f"self-check on {result.check.n_images} test images: passed",
                result.check.rows())
    for skipped in result.check.skipped:
        console.print(f"[yellow]skipped in the self-check:[/yellow] {skipped}")
    if result.int8 is not None:
        print_table("int8 quantization", result.int8.rows())
    size_mb = result.path.stat().st_size / 1e6
    kind = "int8, " if result.int8 is not None else ""
    what = (f"{result.card.embedding_dim}-d embeddings" if result.card.is_embedding
            else f"{len(result.card.labels)} labels")
    console.print(f"wrote {result.path} ({kind}{size_mb:.1f} MB, {what}, "
                  f"outputs: {', '.join(result.card.outputs)})")
    if result.float_path is not None:
        console.print(f"wrote {result.float_path} (the float model it was quantized from, "
                      f"{result.float_path.stat().st_size / 1e6:.1f} MB)")


def average_command(
    models: Annotated[list[Path], typer.Argument(
        help="Exported classifiers of the same task, labels and input size (two or more).")],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Where to write the averaged model.")],
    quiet: QuietOption = False,
) -> None:
    """Average exported classifiers into one ONNX file (an ensemble shipped as one model).

    The members run side by side on one input; the scores are the softmax (multi-class)
    or sigmoid (multi-label) of the members' mean logit, and CAMs are averaged when every
    member has them. Trainings of one recipe with different seeds vary; their average is
    steadier and usually better than a typical member."""
    from artkit.onnx_export.ensemble import average_models

    apply_quiet(quiet)
    path = average_models(models, output)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, the mean of "
                  f"{len(models)} models)")


def register(app: typer.Typer) -> None:
    export_app = new_app("Export trained runs for deployment.")
    export_app.command("onnx")(onnx_command)
    export_app.command("average")(average_command)
    app.add_typer(export_app, name="export")
