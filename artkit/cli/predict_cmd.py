"""`artkit predict INPUTS... --model X.onnx`: score folders of photos with an exported model.

Needs the ONNX file alone: labels, input size, thresholds and the feature extractor (for
descriptor models) come from its metadata. TensorFlow is never imported on this path.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal

import typer

from artkit.api.model import Prediction
from artkit.cli.common import apply_quiet, print_report_hint
from artkit.cli.options import EngineOption, QuietOption, RayAddressOption
from artkit.console import console, info, print_table, warn
from artkit.errors import ArtkitError

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


def predict_command(
    inputs: Annotated[list[str], typer.Argument(
        help="Image files, folders (searched recursively), glob patterns or .txt lists.")],
    model: Annotated[Path, typer.Option("--model", "-m", help="An exported artkit .onnx file.")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write every score to .csv, .json or .jsonl (as it goes).")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Labels shown per image "
                                       "(multi-class).")] = 3,
    threshold: Annotated[float | None, typer.Option(
        "--threshold", min=0.0, max=1.0,
        help="Multi-label: one threshold for every label, instead of the stored ones.")] = None,
    min_labels: Annotated[int | None, typer.Option(
        "--min-labels", min=0, help="Multi-label: give each image at least N labels "
        "(default: stored, else 1).")] = None,
    max_labels: Annotated[int | None, typer.Option(
        "--max-labels", min=1, help="Multi-label: at most N labels per image.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1)] = 32,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="Decoding threads (default: one per CPU).")] = None,
    device: Annotated[Literal["auto", "cpu", "cuda"], typer.Option(
        "--device", help="auto uses a GPU when the CUDA provider can really run.")] = "auto",
    resume: Annotated[bool, typer.Option(
        "--resume", help="Skip the files --output already holds and append the rest.")
    ] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit with status 1 if any file could not be scored.")] = False,
    show: Annotated[int, typer.Option("--show", min=0, help="Rows shown in the table.")] = 20,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
    quiet: QuietOption = False,
) -> None:
    """Score images with an exported model: top-k labels, or labels above threshold."""
    import artkit
    from artkit.runtime.inputs import InputStream
    from artkit.runtime.writers import open_writer

    apply_quiet(quiet)
    if resume and output is None:
        raise ArtkitError("--resume needs --output (the file to continue)")
    started = time.perf_counter()
    loaded = artkit.load(model, device=device)
    card = loaded.card
    rule = loaded.decision(threshold, min_labels, max_labels)
    writer = None
    if output is not None:
        header = {"model": str(model), "artkit_model": card.model, "task": card.task,
                  "labels": card.labels, "decision": rule.to_json() if rule else None}
        writer = open_writer(output, card.labels, header, resume)
    # listed on a thread: scoring starts before a large tree has been walked
    stream = InputStream.listing(inputs, exclude=writer.done if writer is not None else ())
    info(f"{card.model} ({card.task}, {len(card.labels)} labels) on {loaded.provider}; "
         f"ready in {time.perf_counter() - started:.2f} s")

    shown: list[dict[str, str]] = []
    failures: list[Prediction] = []
    n_ok, finished = 0, False
    began = time.perf_counter()
    try:
        batch: list[Prediction] = []
        for prediction in loaded.predict(stream, batch_size=batch_size,
                                         workers=workers, top_k=top_k, decision=rule,
                                         engine=engine, ray_address=ray_address):
            batch.append(prediction)
            if prediction.ok:
                n_ok += 1
            else:
                failures.append(prediction)
            if len(shown) < show:
                shown.append(_table_row(prediction))
            if writer is not None and len(batch) >= batch_size:
                writer.write(batch)
                batch = []
        if writer is not None:
            writer.write(batch)
        finished = True
    finally:
        if writer is not None:
            writer.close(finished)
            if not finished:
                warn(f"interrupted: the results so far are in {writer.path}; rerun with "
                     "--resume to continue")
    seconds = time.perf_counter() - began
    if stream.excluded:
        info(f"resumed: {stream.excluded} files already in {output}")
    if shown:
        more = n_ok + len(failures) - len(shown)
        title = f"predictions ({card.model})" + (f", first {len(shown)}" if more else "")
        print_table(title, shown)
    console.print(f"{n_ok} images scored in {seconds:.1f} s ({n_ok / max(seconds, 1e-9):.1f} "
                  f"images/s), {len(failures)} failed" +
                  (f"; results in {output}" if output else ""))
    for failed in failures[:SHOW_FAILURES]:
        console.print(f"  [red]failed:[/red] {failed.path}: {failed.error}", highlight=False)
    if len(failures) > SHOW_FAILURES:
        console.print(f"  ... and {len(failures) - SHOW_FAILURES} more"
                      + (f" (all listed in {output})" if output else ""))
    if output is not None:
        print_report_hint(output)
    if strict and failures:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("predict")(predict_command)
