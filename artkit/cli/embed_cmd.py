"""`artkit embed`, `artkit index build`, `artkit similar` and `artkit duplicates`: embeddings
from an embedding model (``artkit export onnx --embedding``, or without ``--model`` the one
bundled with artkit), search, near-duplicates."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from artkit.api.embed import DUPLICATE_THRESHOLD, SIMILAR_TOP_K, EmbedSummary
from artkit.api.model import BATCH_SIZE
from artkit.cli.common import ExitCode, apply_quiet, new_app
from artkit.cli.options import (
    BatchSizeOption,
    DeviceOption,
    EngineOption,
    MobileNetWeightsOption,
    QuietOption,
    RayAddressOption,
    WorkersOption,
)
from artkit.console import console, print_table
from artkit.embeddings.ann import ANN_MIN_VECTORS
from artkit.embeddings.local import MAX_KEYPOINTS

InputsArg = Annotated[list[str], typer.Argument(
    help="Image files, folders (searched recursively), glob patterns or .txt lists.")]
ModelOption = Annotated[Path | None, typer.Option(
    "--model", "-m", help="An embedding model: `artkit export onnx --embedding RUN`; "
    "default: the one bundled with artkit (MobileNet alpha 0.25 ImageNet features, "
    "docs/embeddings.md).")]
SHOW_FAILURES = 20


def _print_embedded(done: EmbedSummary, what: str) -> None:
    """The summary of `embed` / `index build`; FAILED when no file could be embedded."""
    if done.resumed:
        console.print(f"resumed: {done.resumed} files already in {done.path}")
    rate = done.embedded / max(done.seconds, 1e-9)
    console.print(f"{done.embedded} images {what} in {done.seconds:.1f} s ({rate:.1f} "
                  f"images/s), {len(done.failed)} failed; wrote {done.path}"
                  + "".join(f" and {p}" for p in (done.graph, done.local_features, done.meta)
                            if p))
    for failed in done.failed[:SHOW_FAILURES]:
        console.print(f"  [red]failed:[/red] {failed.path}: {failed.error}", highlight=False)
    if done.failed and not done.embedded:
        raise typer.Exit(ExitCode.FAILED)


OutputOption = Annotated[Path, typer.Option(
    "--output", "-o", help="The .npz to write: paths and L2-normalised float32 vectors.")]
ResumeOption = Annotated[bool, typer.Option(
    "--resume", help="Skip the files an interrupted (or finished) run wrote.")]


def index_build_command(
    inputs: InputsArg,
    output: OutputOption,
    model: ModelOption = None,
    resume: ResumeOption = False,
    batch_size: BatchSizeOption = BATCH_SIZE,
    workers: WorkersOption = None,
    device: DeviceOption = "auto",
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
    ann: Annotated[bool | None, typer.Option(
        "--ann/--no-ann", help="Add an HNSW graph for approximate search (default: from "
        f"{ANN_MIN_VECTORS:,} photos; needs `pip install 'artkit\\[ann]'`). With --resume on "
        "a finished index, adds or drops the graph without embedding again.")] = None,
    local_features: Annotated[bool, typer.Option(
        "--local-features", help="Also store up to --max-keypoints RootSIFT keypoints per "
        "item beside the index (INDEX.local.npy / .local.npz), for verifying a match.")
    ] = False,
    max_keypoints: Annotated[int, typer.Option(
        "--max-keypoints", min=1, help="With --local-features: the strongest keypoints "
        "kept per item.")] = MAX_KEYPOINTS,
    meta: Annotated[Path | None, typer.Option(
        "--meta", help="A csv of the items (file name or id column, then title, artist, "
        "...) joined on the file name; stored beside the index (INDEX.meta.json).")] = None,
    quiet: QuietOption = False,
) -> None:
    """Build a search index of photos for `artkit similar` (it names its model)."""
    import artkit

    apply_quiet(quiet)
    _print_embedded(artkit.build_index(inputs, model, output, resume=resume,
                                       batch_size=batch_size, workers=workers, device=device,
                                       engine=engine, ray_address=ray_address, ann=ann,
                                       local_features=local_features,
                                       max_keypoints=max_keypoints, meta=meta,
                                       progress=True), "indexed")


def embed_command(**options: Any) -> None:
    """Embed images with an embedding model (default: the bundled one): streamed,
    resumable, written atomically."""
    import artkit

    apply_quiet(options.pop("quiet"))
    _print_embedded(artkit.embed(**options, progress=True), "embedded")


# `artkit embed` takes the options of `index build` but those of an index (it names its
# model and may hold a graph and sidecars): one declaration of each option, for Typer.
_INDEX_ONLY = {"ann", "local_features", "max_keypoints", "meta"}
_INDEX_BUILD = inspect.signature(index_build_command, eval_str=True)
embed_command.__signature__ = _INDEX_BUILD.replace(  # type: ignore[attr-defined]
    parameters=[p for name, p in _INDEX_BUILD.parameters.items() if name not in _INDEX_ONLY])


def similar_command(
    queries: InputsArg,
    index: Annotated[Path, typer.Option("--index", "-i", help="From `artkit index build`.")],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1)] = SIMILAR_TOP_K,
    model: Annotated[Path | None, typer.Option(
        "--model", "-m", help="Default: the model that built the index (the bundled one "
        "for an index built without --model).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the neighbours as JSON.")] = None,
    sheet: Annotated[Path | None, typer.Option(
        "--sheet", help="Write a contact sheet PNG: each query and its neighbours.")] = None,
    batch_size: BatchSizeOption = BATCH_SIZE,
    device: DeviceOption = "auto",
    exact: Annotated[bool, typer.Option(
        "--exact", help="Search every vector even when the index has an HNSW graph "
        "(index build --ann).")
    ] = False,
    quiet: QuietOption = False,
) -> None:
    """The top-k most similar indexed photos of each query (cosine; exact search, or
    approximate through the HNSW graph of an index built with --ann)."""
    import artkit

    apply_quiet(quiet)
    found = artkit.similar(queries, index, top_k=top_k, model=model, batch_size=batch_size,
                           device=device, exact=exact, output=output, sheet=sheet,
                           progress=True)
    rows = []
    for result in found:
        if result.error is not None:
            rows.append({"query": str(result.query), "rank": "", "neighbour":
                         f"[red]error:[/red] {result.error}", "similarity": ""})
        for rank, (path, similarity) in enumerate(result.neighbours, 1):
            rows.append({"query": str(result.query) if rank == 1 else "", "rank": str(rank),
                         "neighbour": str(path), "similarity": f"{similarity:.4f}"})
    print_table(f"top {top_k} neighbours in {index}", rows)
    if found.output is None:
        console.print_json(json.dumps(found.to_dict()["results"]))
    for written in (found.output, found.sheet):
        if written is not None:
            console.print(f"wrote {written}")
    if all(r.error is not None for r in found):
        raise typer.Exit(ExitCode.FAILED)


def duplicates_command(
    photos: InputsArg,
    model: ModelOption = None,
    threshold: Annotated[float, typer.Option(
        "--threshold", "-t", min=-1.0, max=1.0,
        help="Cosine similarity above which two photos are duplicates (chosen on held-out "
        "copies).")] = DUPLICATE_THRESHOLD,
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Folder for duplicates.csv and one PNG per group.")
    ] = Path("duplicates"),
    batch_size: BatchSizeOption = BATCH_SIZE,
    device: DeviceOption = "auto",
    quiet: QuietOption = False,
) -> None:
    """Group near-duplicate photos (re-encoded, resized, cropped, rotated, recoloured)."""
    import artkit

    apply_quiet(quiet)
    found = artkit.duplicates(photos, model, threshold=threshold, batch_size=batch_size,
                              device=device, output=output, progress=True)
    rows = [{"group": str(n), "photos": str(len(g)), "first": str(g[0][0]),
             "lowest similarity": f"{min(s for _, s in g):.4f}"}
            for n, g in enumerate(found.groups, 1)]
    print_table(f"duplicate groups (cosine >= {found.threshold})", rows[:50])
    console.print(f"{len(found.groups)} groups among {found.n_images} photos, "
                  f"{len(found.failed)} failed; wrote {found.csv} and {len(found.sheets)} "
                  "contact sheets")
    for failed in found.failed[:SHOW_FAILURES]:
        console.print(f"  [red]failed:[/red] {failed.path}: {failed.error}", highlight=False)
    if found.failed and not found.n_images:
        raise typer.Exit(ExitCode.FAILED)


def build_embedding_model_command(
    weights: MobileNetWeightsOption,
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="The ONNX file to write (the one `artkit embed`, `index "
        "build`, `similar` and `duplicates` use without --model).")
    ] = Path("artkit/bundled/embedding-model.onnx"),
    input_size: Annotated[int, typer.Option(
        "--input-size", min=32, help="Side of the square network input in pixels.")
    ] = 224,
    quiet: QuietOption = False,
) -> None:
    """Rebuild the bundled embedding model: frozen MobileNet alpha 0.25 ImageNet features
    (global average pooling), exported as an embedding model."""
    import artkit

    apply_quiet(quiet)
    path = artkit.build_embedding_model(weights, output, input_size, progress=True)
    console.print(f"embedding model -> {path} ({path.stat().st_size:,} bytes; use it with "
                  f"`artkit embed --model {path}`)")


def register(app: typer.Typer) -> None:
    app.command("embed")(embed_command)
    index_app = new_app("Search indexes of photos (embedding files).")
    index_app.command("build")(index_build_command)
    app.add_typer(index_app, name="index")
    app.command("similar")(similar_command)
    app.command("duplicates")(duplicates_command)
    app.command("build-embedding-model")(build_embedding_model_command)
