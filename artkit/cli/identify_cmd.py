"""`artkit identify PHOTOS --index COLLECTION`: which artwork of the collection each photo
shows. The command parses, calls :func:`artkit.api.identify.identify` (which writes every
file) and prints the table of what it found."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from artkit.api.identify import (
    MAX_REGIONS,
    MIN_SCORE,
    IdentifyResult,
    PhotoIdentification,
    identify,
)
from artkit.cli.common import ExitCode, apply_quiet, print_report_hint
from artkit.cli.options import (
    BatchSizeOption,
    DeviceOption,
    QuietOption,
    StrictOption,
    WorkersOption,
)
from artkit.console import console, print_table
from artkit.errors import ArtkitError
from artkit.identification.decide import DEFAULT_FALSE_RATE, IdentifyRule
from artkit.identification.identifier import TOP_K

TABLE_ROWS = 50


def _rows(found: PhotoIdentification) -> list[dict[str, Any]]:
    """A photo's lines: one per identified painting, or one saying none was."""
    if not found.known:
        return [{"photo": found.path.name, "box (x1,y1,x2,y2)": "", "item": "unknown",
                 "title": "", "confidence": "",
                 "looked at": len(found.regions)}]
    return [{"photo": found.path.name,
             "box (x1,y1,x2,y2)": str(region.box.round().astype(int).tolist()),
             "item": region.item_id, "title": region.title or "",
             "confidence": f"{region.confidence:.3f} ({region.method})",
             "looked at": len(found.regions)} for region in found.known]


def _print_found(result: IdentifyResult, table: list[dict[str, Any]]) -> None:
    paths = result.paths
    shown = table[:TABLE_ROWS]
    print_table("artworks identified" + ("" if len(shown) == len(table) else
                                         f" — first {TABLE_ROWS} rows of {len(table)}"),
                shown)
    console.print(f"{result.identified} artworks identified among {result.regions} "
                  f"paintings looked at in {result.photos} photos")
    if paths.json is not None:
        console.print(f"results -> {paths.json}, {paths.csv}")
    if result.skipped:
        print_table(f"skipped {len(result.skipped)} file(s)",
                    [{"file": str(f.path), "reason": f.error} for f in result.skipped])
    if paths.overlays:
        console.print(f"{len(paths.overlays)} overlays -> {paths.overlays[0].parent}/")
    if paths.report is not None:
        console.print(f"report -> {paths.report}")


def identify_command(
    inputs: Annotated[list[str], typer.Argument(
        help="Photos: files, folders, glob patterns or .txt lists of paths.")],
    index: Annotated[Path, typer.Option(
        "--index", help="The collection's index, built with `artkit index build COLLECTION/ "
        "-o INDEX.npz --local-features [--meta collection.csv]`.")],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Results: the .json (every painting looked at, with its "
        "shortlist) and a .csv beside it (one row per painting).")
    ] = Path("identified.json"),
    whole: Annotated[bool, typer.Option(
        "--whole", help="Treat each photo as one artwork (close-ups, objects): no "
        "detector.")] = False,
    model: Annotated[Path | None, typer.Option(
        "--model", help="The embedding model (default: the one that built the index).")
    ] = None,
    detector: Annotated[Path | None, typer.Option(
        "--detector", help="The painting detector (default: the one bundled with artkit).")
    ] = None,
    top_k: Annotated[int, typer.Option(
        "--top-k", min=1, help="Shortlisted items verified per painting.")] = TOP_K,
    false_rate: Annotated[float, typer.Option(
        "--false-rate", min=0.001, max=0.5, help="The share of photos given a false "
        "identity that the acceptance rule allows (calibrated: docs/identify.md).")
    ] = DEFAULT_FALSE_RATE,
    min_inliers: Annotated[int | None, typer.Option(
        "--min-inliers", min=4, help="Accept a verified item from this many inliers "
        "(overrides --false-rate).")] = None,
    min_similarity: Annotated[float | None, typer.Option(
        "--min-similarity", min=-1.0, max=1.0, help="The fallback for what a homography "
        "cannot verify: accept the nearest item from this cosine similarity.")] = None,
    min_score: Annotated[float, typer.Option(
        "--min-score", min=0.0, max=1.0, help="Look at detected paintings scored at least "
        "this.")] = MIN_SCORE,
    max_regions: Annotated[int, typer.Option(
        "--max-regions", min=1, help="Look at most at this many detected paintings per "
        "photo, best scored first.")] = MAX_REGIONS,
    exact: Annotated[bool, typer.Option(
        "--exact", help="Search every vector even when the index has an HNSW graph.")
    ] = False,
    save_vis: Annotated[Path | None, typer.Option(
        "--save-vis", help="Folder for overlays: each painting's box with its title (JPEG).")
    ] = None,
    report: Annotated[Path | None, typer.Option(
        "--report", help="An HTML page: each photo with its boxes, beside each the "
        "matched collection image.")] = None,
    strict: StrictOption = False,
    batch_size: BatchSizeOption = 16,
    workers: WorkersOption = None,
    device: DeviceOption = "auto",
    quiet: QuietOption = False,
) -> None:
    """Which artwork of a collection is this? Find the paintings, shortlist collection
    items by embedding, verify each by a homography on local features, and answer an item
    with a confidence or unknown.

    Exit status: 0 when done (photos that cannot be read are listed and skipped), 1 when
    no photo could be read, 3 with --strict when some were skipped."""
    apply_quiet(quiet)
    rule = None
    if min_inliers is not None or min_similarity is not None:
        base = IdentifyRule.for_false_rate(false_rate)
        rule = IdentifyRule(min_inliers if min_inliers is not None else base.min_inliers,
                            min_similarity if min_similarity is not None
                            else base.min_similarity)
    result = identify(inputs, index, model=model, detector=detector, whole=whole,
                      top_k=top_k, false_rate=false_rate, rule=rule, min_score=min_score,
                      max_regions=max_regions, exact=exact, output=output,
                      save_vis=save_vis, report=report, batch_size=batch_size,
                      workers=workers, device=device)
    table = [row for found in result if found.ok for row in _rows(found)]
    _print_found(result, table)
    if not result.photos:
        raise ArtkitError(f"none of the {len(result.skipped)} photo(s) could be read",
                          hint="see the skipped files above")
    if result.paths.json is not None and report is None:
        print_report_hint(result.paths.json)
    raise typer.Exit(ExitCode.PARTIAL if strict and result.skipped else ExitCode.OK)


def register(app: typer.Typer) -> None:
    app.command("identify")(identify_command)
