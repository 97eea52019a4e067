"""`artkit predict INPUTS... --model X.onnx`: score folders of photos with an exported model.

Needs the ONNX file alone: labels, input size, thresholds and the feature extractor (for
descriptor models) come from its metadata. TensorFlow is never imported on this path.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from artkit.api.model import BATCH_SIZE, TOP_K, Prediction, PredictSummary
from artkit.cli.common import ExitCode, apply_quiet, print_report_hint
from artkit.cli.options import (
    BatchSizeOption,
    DeviceOption,
    EngineOption,
    QuietOption,
    RayAddressOption,
    StrictOption,
    WorkersOption,
)
from artkit.console import console, info, print_table

SHOW_FAILURES = 20


def _table_row(prediction: Prediction) -> dict[str, str]:
    if not prediction.ok:
        return {"file": str(prediction.path),
                "prediction": f"[red]error:[/red] {prediction.error}"}
    if prediction.multilabel:
        scores = dict(prediction.top)
        text = ", ".join(f"{x} ({scores[x]:.2f})" if x in scores else x
                         for x in prediction.labels) or "[dim](none)[/dim]"
    else:
        text = ", ".join(f"{label} {score:.3f}" for label, score in prediction.top)
    return {"file": str(prediction.path), "prediction": text}


def _print_summary(done: PredictSummary, output: Path | None) -> None:
    n_failed = len(done.failed)
    console.print(f"{done.scored} images scored in {done.seconds:.1f} s "
                  f"({done.scored / max(done.seconds, 1e-9):.1f} images/s), {n_failed} failed"
                  + (f"; results in {output}" if output else ""))
    for failed in done.failed[:SHOW_FAILURES]:
        console.print(f"  [red]failed:[/red] {failed.path}: {failed.error}", highlight=False)
    if n_failed > SHOW_FAILURES:
        console.print(f"  ... and {n_failed - SHOW_FAILURES} more"
                      + (f" (all listed in {output})" if output else ""))


def exit_code(done: PredictSummary, strict: bool) -> ExitCode:
    """FAILED when files were given and none could be scored; PARTIAL with `strict` when
    some were skipped; else OK (a resumed run with nothing left to do included)."""
    if done.failed and not done.scored:
        return ExitCode.FAILED
    if strict and done.failed:
        return ExitCode.PARTIAL
    return ExitCode.OK


def predict_command(
    inputs: Annotated[list[str], typer.Argument(
        help="Image files, folders (searched recursively), glob patterns or .txt lists.")],
    model: Annotated[Path, typer.Option("--model", "-m", help="An exported artkit .onnx file.")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write every score to .csv, .json or .jsonl (as it goes).")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Labels shown per image "
                                       "(multi-class).")] = TOP_K,
    threshold: Annotated[float | None, typer.Option(
        "--threshold", min=0.0, max=1.0,
        help="Multi-label: one threshold for every label, instead of the stored ones.")] = None,
    min_labels: Annotated[int | None, typer.Option(
        "--min-labels", min=0, help="Multi-label: give each image at least N labels "
        "(default: stored, else 1).")] = None,
    max_labels: Annotated[int | None, typer.Option(
        "--max-labels", min=1, help="Multi-label: at most N labels per image.")] = None,
    batch_size: BatchSizeOption = BATCH_SIZE,
    workers: WorkersOption = None,
    device: DeviceOption = "auto",
    resume: Annotated[bool, typer.Option(
        "--resume", help="Skip the files --output already holds and append the rest.")
    ] = False,
    strict: StrictOption = False,
    show: Annotated[int, typer.Option("--show", min=0, help="Rows shown in the table.")] = 20,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
    quiet: QuietOption = False,
) -> None:
    """Score images with an exported model: top-k labels, or labels above threshold.

    Exit status: 0 when done (files that cannot be read are listed and skipped), 1 when
    nothing could be scored, 3 with --strict when some files were skipped."""
    import artkit

    apply_quiet(quiet)
    started = time.perf_counter()
    loaded = artkit.load(model, device=device)
    card = loaded.card
    predictions = loaded.predict(inputs, batch_size=batch_size, workers=workers, top_k=top_k,
                                 decision=loaded.decision(threshold, min_labels, max_labels),
                                 engine=engine, ray_address=ray_address, output=output,
                                 resume=resume)
    info(f"{card.model} ({card.task}, {len(card.labels)} labels) on {loaded.provider}; "
         f"ready in {time.perf_counter() - started:.2f} s")
    shown: list[dict[str, str]] = []
    with predictions:  # closes the output however the loop ends
        for prediction in predictions:
            if len(shown) < show:
                shown.append(_table_row(prediction))
    done = predictions.summary
    if done.resumed:
        info(f"resumed: {done.resumed} files already in {output}")
    if shown:
        more = done.scored + len(done.failed) - len(shown)
        title = f"predictions ({card.model})" + (f", first {len(shown)}" if more else "")
        print_table(title, shown)
    _print_summary(done, output)
    if output is not None:
        print_report_hint(output)
    raise typer.Exit(exit_code(done, strict))


def register(app: typer.Typer) -> None:
    app.command("predict")(predict_command)
