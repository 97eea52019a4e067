"""`artkit predict INPUTS... --model X.onnx`: score folders of photos with an exported model.

Needs the ONNX file alone: labels, input size, thresholds and the feature extractor (for
descriptor models) come from its metadata. TensorFlow is never imported on this path.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from artkit.cli.common import QuietOption, apply_quiet, print_table
from artkit.cli.engine import EngineOption, RayAddressOption
from artkit.console import console, info, warn

SHOW_FAILURES = 20


def _rows(meta: dict[str, Any], scored: Any, decide_kwargs: dict[str, Any] | None,
          top_k: int) -> list[dict[str, Any]]:
    """Result rows of one batch, good and bad files together, in input order."""
    import numpy as np

    labels = meta["labels"]
    rows: dict[int, dict[str, Any]] = {}
    batch, scores = scored.batch, scored.outputs["scores"]
    if len(batch):
        if decide_kwargs is not None:
            from artkit.decision import decide

            on = decide(scores, **decide_kwargs)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
        for row, index in enumerate(batch.indices):
            top = [(labels[j], float(scores[row, j])) for j in order[row]]
            if decide_kwargs is not None:
                chosen = [j for j in np.argsort(-scores[row], kind="stable") if on[row, j]]
                prediction: Any = [labels[j] for j in chosen]
            else:
                prediction = top[0][0]
            rows[index] = {"path": str(batch.paths[row]), "status": "ok",
                           "prediction": prediction, "scores": scores[row], "top": top}
    for failure in scored.failures:
        rows[failure.index] = {"path": str(failure.path), "status": "error",
                               "error": failure.reason}
    return [rows[i] for i in sorted(rows)]


def _table_row(row: dict[str, Any], multilabel: bool) -> dict[str, str]:
    if row["status"] != "ok":
        return {"file": row["path"], "prediction": f"[red]error:[/red] {row['error']}"}
    if multilabel:
        scores = dict(row["top"])
        text = ", ".join(f"{x} ({scores[x]:.2f})" if x in scores else x
                         for x in row["prediction"]) or "[dim](none)[/dim]"
    else:
        text = ", ".join(f"{label} {score:.3f}" for label, score in row["top"])
    return {"file": row["path"], "prediction": text}


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
    from artkit.console import make_progress
    from artkit.errors import ArtkitError
    from artkit.runtime.inputs import expand_inputs
    from artkit.runtime.metadata import metadata_from_session
    from artkit.runtime.scoring import score_batches
    from artkit.runtime.session import active_provider, cpu_count, create_session
    from artkit.runtime.writers import open_writer

    apply_quiet(quiet)
    import cv2

    cv2.setNumThreads(1)  # the worker pool is the parallelism; OpenCV's own would oversubscribe
    if resume and output is None:
        raise ArtkitError("--resume needs --output (the file to continue)")
    started = time.perf_counter()
    session = create_session(model, device=device)
    meta = metadata_from_session(session, model)
    multilabel = meta["task"] == "multilabel"
    decide_kwargs = None
    if multilabel:
        decide_kwargs = {"thresholds": threshold if threshold is not None else
                         meta.get("thresholds"),
                         "min_labels": min_labels if min_labels is not None else
                         meta.get("min_labels", 1),
                         "max_labels": max_labels if max_labels is not None else
                         meta.get("max_labels")}
    expanded = expand_inputs(inputs)
    if expanded.ignored:
        info(f"ignored {expanded.ignored} files without an image suffix or hidden")
    for origin in expanded.empty_patterns:
        warn(f"{origin}: no images found there")
    writer = None
    if output is not None:
        header = {"model": str(model), "artkit_model": meta["model"], "task": meta["task"],
                  "labels": meta["labels"], "decision": decide_kwargs}
        writer = open_writer(output, meta["labels"], header, resume)
    paths = [p for p in expanded.paths if writer is None or str(p) not in writer.done]
    if writer is not None and writer.done:
        info(f"resuming: {len(expanded.paths) - len(paths)} files already in {output}")
    info(f"{len(paths)} images, {meta['model']} ({meta['task']}, {len(meta['labels'])} "
         f"labels) on {active_provider(session)}; ready in "
         f"{time.perf_counter() - started:.2f} s")

    shown: list[dict[str, str]] = []
    failures: list[dict[str, Any]] = []
    n_ok, finished = 0, False
    began = time.perf_counter()
    try:
        with make_progress(rate_unit="img") as progress:
            task = progress.add_task("predict", total=len(paths), rate="")
            if engine == "ray":
                from artkit.runtime.ray_engine import ray_score_batches

                batches = ray_score_batches(model, paths, batch_size=batch_size,
                                            device=device, address=ray_address)
            else:
                batches = score_batches(session, meta, paths, batch_size=batch_size,
                                        workers=workers or cpu_count())
            for scored in batches:
                rows = _rows(meta, scored, decide_kwargs, top_k)
                if writer is not None:
                    writer.write(rows)
                n_ok += len(scored.batch)
                failures += [r for r in rows if r["status"] != "ok"]
                shown += [_table_row(r, multilabel) for r in rows[:max(0, show - len(shown))]]
                done = n_ok + len(failures)
                rate = done / max(time.perf_counter() - began, 1e-9)
                progress.update(task, completed=done, rate=f"{rate:.1f} img/s")
        finished = True
    finally:
        if writer is not None:
            writer.close(finished)
            if not finished:
                warn(f"interrupted: the results so far are in {writer.path}; rerun with "
                     "--resume to continue")
    seconds = time.perf_counter() - began
    if shown:
        more = len(paths) - len(shown)
        title = f"predictions ({meta['model']})" + (f", first {len(shown)}" if more else "")
        print_table(title, shown)
    console.print(f"{n_ok} images scored in {seconds:.1f} s ({n_ok / max(seconds, 1e-9):.1f} "
                  f"images/s), {len(failures)} failed" +
                  (f"; results in {output}" if output else ""))
    for row in failures[:SHOW_FAILURES]:
        console.print(f"  [red]failed:[/red] {row['path']}: {row['error']}", highlight=False)
    if len(failures) > SHOW_FAILURES:
        console.print(f"  ... and {len(failures) - SHOW_FAILURES} more"
                      + (f" (all listed in {output})" if output else ""))
    if strict and failures:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("predict")(predict_command)
