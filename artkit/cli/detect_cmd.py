"""`artkit detect INPUTS...` (find paintings in photos) and `artkit evaluate-detect`.

The detection method is a plugin (`--method`); each method's own options are generated
from its `options`, as `artkit train` does for models, so a third-party method's options
appear here without the core knowing it. The commands parse, call the API
(:func:`artkit.api.detect.detect`, :func:`artkit.api.detect.evaluate_boxes`), which writes
every file, and print what it found.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from artkit import registry
from artkit.api.detect import (
    BATCH_SIZE,
    CAM_THRESHOLD,
    MAX_DET,
    Detection,
    DetectResult,
    detect,
    evaluate_boxes,
    min_score_for,
)
from artkit.cli.common import (
    ExitCode,
    apply_quiet,
    print_metrics,
    print_report_hint,
    typer_parameter,
)
from artkit.cli.options import (
    BatchSizeOption,
    DeviceOption,
    EngineOption,
    MobileNetWeightsOption,
    QuietOption,
    RayAddressOption,
    StrictOption,
)
from artkit.console import console, print_table, warn
from artkit.contracts import OptionSpec
from artkit.errors import ArtkitError

TABLE_ROWS = 50


def method_options() -> list[OptionSpec]:
    """The union of every detection method's options (the first declaration of a name wins)."""
    seen: dict[str, OptionSpec] = {}
    defaults: dict[str, dict[str, Any]] = {}
    for name, info_ in registry.of_kind(registry.Kind.DETECTION_METHOD).items():
        for spec in info_.obj.options:
            seen.setdefault(spec.name, spec)
            defaults.setdefault(spec.name, {})[name] = spec.default

    def said(name: str) -> str:
        by_method = defaults[name]
        if len(set(map(str, by_method.values()))) == 1:
            return f"default {next(iter(by_method.values()))}; methods: {', '.join(by_method)}"
        return "default: " + ", ".join(f"{m} {v}" for m, v in by_method.items())

    return [OptionSpec(spec.name, spec.type, None, f"{spec.help} ({said(spec.name)})")
            for spec in seen.values()]


def threshold_help() -> str:
    """--threshold's help: its meaning and every method's default."""
    defaults = ", ".join(f"{name} {min_score_for(info_.obj, None):g}" for name, info_
                         in registry.of_kind(registry.Kind.DETECTION_METHOD).items())
    return ("Minimum score of a reported painting, 0 to 1 (the table, the csv, --crops, "
            "--classify); for frames+cnn the score is the classifier's probability of a "
            "painting, for frames the frame score, for cam the blob's mean CAM. The COCO "
            f"json keeps every candidate. Default per method: {defaults}.")


def _row(detection: Detection, labels: bool) -> dict[str, Any]:
    """A photo's line in the table of paintings found."""
    top = detection.boxes[0].round().astype(int).tolist() if len(detection.boxes) else ""
    row: dict[str, Any] = {
        "photo": detection.path.name, "paintings": len(detection.boxes),
        "candidates": len(detection.candidates),
        "best score": float(detection.scores[0]) if len(detection.scores) else 0.0,
        "best box (x1,y1,x2,y2)": str(top)}
    if labels:
        row["labels"] = "; ".join(p.label or "-" for p in detection.classified)
    return row


def _print_found(result: DetectResult, table: list[dict[str, Any]]) -> None:
    """The table of paintings, where the files went, the skipped photos."""
    paths = result.paths
    shown = table[:TABLE_ROWS]
    print_table(f"paintings found ({result.method.name}, score >= {result.min_score:g})" +
                ("" if len(shown) == len(table) else f" — first {TABLE_ROWS} of {len(table)} "
                 f"photos, all in {paths.csv}"), shown)
    if paths.boxes is not None:
        console.print(f"{result.reported} paintings in {result.photos} photos -> {paths.csv}; "
                      f"all {result.candidates} scored candidates (for AP) -> {paths.boxes}")
    if result.skipped:
        print_table(f"skipped {len(result.skipped)} file(s)",
                    [{"file": str(d.path), "reason": d.error} for d in result.skipped])
    if paths.overlays:
        console.print(f"{len(paths.overlays)} overlays -> {paths.overlays[0].parent}/")
    if paths.crops:
        console.print(f"{len(paths.crops)} crops -> {paths.crops[0].parent}/")


def _print_scores(result: DetectResult, gt: Path) -> None:
    """The metrics against the annotations, and the CAM threshold sweep if asked."""
    report = result.evaluation
    if report is None:
        return
    if report.n_unmatched:
        warn(f"{report.n_unmatched} photo(s) are not in {gt.name} and are not scored")
    print_metrics(f"detection vs {gt.name} ({report.n_photos} photos)", report.metrics,
                  report.result.intervals)
    if report.sweep:
        assert report.best_ap50 is not None and report.max_box_acc is not None
        print_table("CAM threshold sweep", report.sweep)
        console.print(f"best AP@0.5 {report.best_ap50['ap50']:.4f} at CAM threshold "
                      f"{report.best_ap50['threshold']}; MaxBoxAcc (best CorLoc) "
                      f"{report.max_box_acc['corloc']:.4f} at CAM threshold "
                      f"{report.max_box_acc['threshold']}")
    console.print(f"metrics -> {result.paths.metrics}"
                  + "".join(f", {p}" for p in result.paths.plots))


def exit_code(result: DetectResult, strict: bool) -> ExitCode:
    """PARTIAL with `strict` when some photos were skipped; else OK. (No photo read at all
    is an error, raised before.)"""
    return ExitCode.PARTIAL if strict and result.skipped else ExitCode.OK


def detect_command(
    inputs: Annotated[list[str], typer.Argument(
        help="Photos: files, folders, glob patterns or .txt lists of paths.")],
    model: Annotated[Path | None, typer.Option(
        "--model", help="Exported ONNX model with a 'cams' output; default: the painting "
        "detector bundled with artkit (docs/detection.md).")] = None,
    method: Annotated[str | None, typer.Option(
        "--method", help="Detection method plugin: frames+cnn (default with a model: frame "
        "outlines ranked by the model), frames (default without one: no network), "
        "cam+frames, cam (the CAM paper's rule); see `artkit plugins`.")] = None,
    class_name: Annotated[str | None, typer.Option(
        "--class", help="Class whose activation map is used (default: painting).")] = None,
    min_score: Annotated[float | None, typer.Option(
        "--threshold", "--min-score", min=0.0, max=1.0, help="(see threshold_help)")] = None,
    cam_threshold: Annotated[float, typer.Option(
        "--cam-threshold", min=0.0, max=1.0,
        help="cam and cam+frames: the CAM paper's rule, pixels above this share of the "
        "map's peak are evidence (20% in the paper).")] = CAM_THRESHOLD,
    max_det: Annotated[int, typer.Option(
        "--max-det", min=1, help="Report at most this many paintings per photo, best "
        "first.")] = MAX_DET,
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Boxes files: the .json (COCO results: every scored "
        "candidate, reported ones marked) and a .csv beside it (reported paintings only).")
    ] = Path("boxes.json"),
    crops: Annotated[Path | None, typer.Option(
        "--crops", help="Folder: each reported painting as a JPEG, rectified to a frontal "
        "rectangle when the method gives its four corners (frames methods).")] = None,
    classify: Annotated[Path | None, typer.Option(
        "--classify", help="An exported classification or attribute model (.onnx) run on "
        "each reported painting: its labels go to the table, the csv and the json.")
    ] = None,
    save_vis: Annotated[Path | None, typer.Option(
        "--save-vis", help="Folder for overlays: photo + CAM heatmap + boxes (JPEG).")] = None,
    gt: Annotated[Path | None, typer.Option(
        "--gt", help="COCO annotations: score every candidate (photos matched by file "
        "name).")] = None,
    sweep_threshold: Annotated[bool, typer.Option(
        "--sweep-threshold", help="With --gt: score CAM thresholds 0.05..0.95 (cam, "
        "cam+frames), report the best (MaxBoxAcc) and plot.")] = False,
    strict: StrictOption = False,
    batch_size: BatchSizeOption = BATCH_SIZE,
    device: DeviceOption = "auto",
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
    quiet: QuietOption = False,
    **method_values: Any,
) -> None:
    """Find paintings in photos of rooms: a table, csv + COCO json, crops, labels, overlays.

    Exit status: 0 when done (photos that cannot be read are listed and skipped), 1 when
    no photo could be read, 3 with --strict when some were skipped."""
    apply_quiet(quiet)
    result = detect(inputs, model=model, method=method, min_score=min_score,
                    cam_threshold=cam_threshold, max_det=max_det, output=output,
                    save_vis=save_vis, gt=gt, sweep=sweep_threshold, crops=crops,
                    classify=classify, class_name=class_name,
                    options={k: v for k, v in method_values.items() if v is not None},
                    batch_size=batch_size, device=device, engine=engine,
                    ray_address=ray_address)
    table = [_row(d, classify is not None) for d in result if d.ok]
    _print_found(result, table)
    if not result.photos:
        raise ArtkitError(f"none of the {len(result.skipped)} photo(s) could be read",
                          hint="see the skipped files above")
    if gt is not None:
        _print_scores(result, gt)
    print_report_hint(result.paths.boxes, *(["--gt", str(gt)] if gt else []))
    raise typer.Exit(exit_code(result, strict))


def _with_method_options(command):
    """Append every detection method's options to `command`'s signature (for Typer)."""
    signature = inspect.signature(command, eval_str=True)
    fixed = [p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
    for parameter in fixed:
        if parameter.name == "min_score":  # its defaults depend on the installed methods
            for meta in getattr(parameter.annotation, "__metadata__", ()):
                meta.help = threshold_help()
    taken = {p.name for p in fixed}
    extra = [typer_parameter(spec) for spec in method_options() if spec.name not in taken]

    def wrapper(**kwargs: Any) -> None:
        command(**kwargs)

    parameters = fixed + extra
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    wrapper.__doc__ = command.__doc__
    return wrapper


def evaluate_detect_command(
    predictions: Annotated[Path, typer.Argument(help="COCO results json (e.g. from detect).")],
    gt: Annotated[Path, typer.Option("--gt", help="COCO annotations json.")],
    class_name: Annotated[str | None, typer.Option(
        "--class", help="Category to score (default: the only one).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder for metrics.json and the PR curve (default: beside PRED).")
    ] = None,
) -> None:
    """Score boxes against annotations: AP@0.5, COCO AP, recall@0.5, CorLoc, mean best IoU.

    Every annotated image counts; one with no predicted box misses all its paintings."""
    scored = evaluate_boxes(predictions, gt, class_name=class_name, out=out)
    print_metrics(f"{predictions.name} vs {gt.name} ({len(scored.truth.boxes)} images, "
                  f"category '{scored.truth.category}')", scored.metrics,
                  scored.result.intervals)
    console.print(f"metrics -> {scored.path}" + "".join(f", {p}" for p in scored.result.plots))


def crop_rooms_command(
    data: Annotated[Path, typer.Argument(help="Detection data set (COCO boxes), e.g. from "
                                         "`artkit data synth --task detection`.")],
    out: Annotated[Path, typer.Option("--out", help="New folder for the class folders.")],
    per_photo: Annotated[int, typer.Option("--per-photo", min=1,
                                           help="Crops of each class per photo.")] = 2,
    size: Annotated[int, typer.Option("--size", min=16, help="Crop side in pixels.")] = 128,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    proposals: Annotated[str | None, typer.Option(
        "--proposals", help="Crop the boxes of this detection method (e.g. frames) instead "
        "of random squares: painting if IoU >= 0.6, background if IoU < 0.3.")] = None,
    quiet: QuietOption = False,
) -> None:
    """Crops of room photos, painting vs background: training data for a CAM detector."""
    from artkit.data.room_crops import make_room_crops

    apply_quiet(quiet)
    counts = make_room_crops(data, out, per_photo=per_photo, size=size, seed=seed,
                             proposals=proposals)
    print_table(f"crops -> {out}", [{"class": k, "images": v} for k, v in counts.items()])


def build_painting_detector_command(
    weights: MobileNetWeightsOption,
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="The ONNX file to write (artkit/bundled/painting-detector.onnx "
        "is the one `artkit detect` uses without --model).")
    ] = Path("exported/painting-detector.onnx"),
    paintings: Annotated[Path | None, typer.Option(
        "--paintings", help="Hang these images (e.g. your museum's paintings) in the "
        "synthetic rooms instead of procedural paintings.")] = None,
    rooms: Annotated[int, typer.Option("--rooms", min=10, help="Synthetic rooms.")] = 400,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 4,
    seed: Annotated[int, typer.Option("--seed", help="Rooms seed of the first member (member "
                                      "k: seed + k); same seeds, same rooms and crops.")] = 1,
    members: Annotated[int, typer.Option(
        "--members", min=1, help="Trainings, each on its own rooms, averaged into one model "
        "(their mean logit): steadier and better than one.")] = 3,
    workdir: Annotated[Path | None, typer.Option(
        "--workdir", help="Keep the rooms and crops here (default: a temporary folder).")
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Rebuild the painting detector: synthetic rooms, proposal crops, MobileNet trainings
    averaged into one ONNX file."""
    from artkit.api.painting_detector import Recipe, build_painting_detector

    apply_quiet(quiet)
    path = build_painting_detector(output, weights=weights, paintings=paintings,
                                   recipe=Recipe(rooms=rooms, epochs=epochs, seed=seed,
                                                 members=members),
                                   workdir=workdir)
    console.print(f"painting detector -> {path} (use it with `artkit detect --model {path}`)")


def register(app: typer.Typer) -> None:
    app.command("detect")(_with_method_options(detect_command))
    app.command("evaluate-detect")(evaluate_detect_command)
    app.command("crop-rooms")(crop_rooms_command)
    app.command("build-painting-detector")(build_painting_detector_command)
