"""`artkit detect INPUTS...` (find paintings in photos) and `artkit evaluate-detect`.

The detection method is a plugin (`--method`); each method's own options are generated
from its `options`, as `artkit train` does for models, so a third-party method's options
appear here without the core knowing it.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from artkit import registry
from artkit.api.detect import Detection
from artkit.api.engine import Engine
from artkit.cli.common import apply_quiet, print_metrics, print_report_hint, typer_parameter
from artkit.cli.options import EngineOption, RayAddressOption
from artkit.console import console, info, print_table, warn
from artkit.contracts import Detections, OptionSpec
from artkit.decisions.grids import CAM_SWEEP
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
    from artkit.api.detect import reported_threshold

    defaults = ", ".join(f"{name} {reported_threshold(info_.obj, None):g}" for name, info_
                         in registry.of_kind(registry.Kind.DETECTION_METHOD).items())
    return ("Minimum score of a reported painting (the table, the csv, --crops, --classify); "
            "for frames+cnn the score is the classifier's probability of a painting, "
            "for frames the frame score, for cam the blob's mean CAM. The COCO json keeps "
            f"every candidate. Default per method: {defaults}.")


def run_detect(inputs: list[str], model: Path | None, method_name: str | None,
               class_name: str | None, threshold: float | None, output: Path,
               save_vis: Path | None, gt: Path | None, sweep: bool, batch_size: int,
               device: str, options: dict[str, Any], engine: Engine = "local",
               ray_address: str | None = None, cam_threshold: float = 0.2,
               max_det: int = 100, crops: Path | None = None, classify: Path | None = None
               ) -> None:
    from artkit import atomic
    from artkit.api.detect import (
        choose_method,
        detect,
        evaluate_detections,
        reported_threshold,
        result_rows,
    )
    from artkit.detection.coco import read_coco_truth, write_results
    from artkit.detection.overlays import overlay, save_overlay

    if output.suffix.lower() not in (".json", ".csv"):
        raise ArtkitError("--output must end in .json or .csv (both are written)", output)
    if sweep and gt is None:
        raise ArtkitError("--sweep-threshold needs --gt (annotated boxes to score against)")
    setup = choose_method(method_name, model, options)
    for note in setup.notes:
        info(note)
    if sweep and not setup.method.needs_cam:
        raise ArtkitError(f"--sweep-threshold: method '{setup.method.name}' does not use the "
                          "CAM threshold", hint="use --method cam or cam+frames")
    minimum = reported_threshold(setup.method, threshold)
    truth = read_coco_truth(gt, class_name) if gt is not None else None
    by_name = truth.id_by_name() if truth else {}
    found: list[Detection] = []
    table: list[dict[str, Any]] = []
    used_vis: set[str] = set()
    for detection in detect(inputs, model=setup.model_path, method=setup.method.name,
                            threshold=minimum, cam_threshold=cam_threshold,
                            cam_thresholds=CAM_SWEEP if sweep else (), max_det=max_det,
                            crops=crops, classify=classify, class_name=class_name,
                            options=options, batch_size=batch_size, device=device,
                            engine=engine, ray_address=ray_address,
                            keep_images=save_vis is not None):  # type: ignore[arg-type]
        found.append(detection)
        if not detection.ok:
            continue
        top = detection.boxes[0].round().astype(int).tolist() if len(detection.boxes) else ""
        row: dict[str, Any] = {
            "photo": detection.path.name, "paintings": len(detection.boxes),
            "candidates": len(detection.candidates.scores),
            "best score": float(detection.scores[0]) if len(detection.scores) else 0.0,
            "best box (x1,y1,x2,y2)": str(top)}
        if classify is not None:
            row["labels"] = "; ".join(p.label or "-" for p in detection.classified)
        table.append(row)
        if save_vis is not None:
            stem = detection.path.stem
            name = stem if stem not in used_vis else f"{stem}_{detection.index}"
            used_vis.add(name)
            truth_boxes = truth.boxes.get(by_name.get(detection.path.name, -1)) \
                if truth else None
            scaled = Detections(detection.boxes * detection.scale, detection.scores)
            save_overlay(overlay(detection.image, scaled, detection.cam,
                                 None if truth_boxes is None
                                 else truth_boxes * detection.scale),
                         save_vis / f"{name}.jpg")
            detection.image = detection.cam = None  # memory stays flat over many photos

    shown = table[:TABLE_ROWS]
    print_table(f"paintings found ({setup.method.name}, score >= {minimum:g})" +
                ("" if len(shown) == len(table) else f" — first {TABLE_ROWS} of {len(table)} "
                 f"photos, all in {output.with_suffix('.csv')}"), shown)
    ok = [d for d in found if d.ok]
    image_ids = [by_name.get(d.path.name, d.index + 1) if truth else d.index + 1 for d in ok]
    rows, reported = result_rows(ok, image_ids, truth.category_id if truth else 1)
    json_path, csv_path = write_results(rows, output.with_suffix(".json"), reported)
    console.print(f"{len(reported)} paintings in {len(ok)} photos -> {csv_path}; "
                  f"all {len(rows)} scored candidates (for AP) -> {json_path}")
    failures = [d for d in found if not d.ok]
    if failures:
        print_table(f"skipped {len(failures)} file(s)",
                    [{"file": str(f.path), "reason": f.error} for f in failures])
    if save_vis is not None:
        console.print(f"overlays -> {save_vis}/")
    if crops is not None:
        console.print(f"{sum(len(d.crops) for d in ok)} crops -> {crops}/")
    if truth is None or gt is None:
        return
    out_dir = output.with_name(output.stem + "-eval")
    report = evaluate_detections(found, truth, out_dir, cam_threshold, sweep=sweep)
    if report.n_unmatched:
        warn(f"{report.n_unmatched} photo(s) are not in {gt.name} and are not scored")
    print_metrics(f"detection vs {gt.name} ({report.n_photos} photos)", report.result.metrics,
                  report.result.intervals)
    payload: dict[str, Any] = {"method": setup.method.name, "threshold": minimum,
                               "cam_threshold": cam_threshold,
                               "model": str(setup.model_path) if setup.model_path else None,
                               "gt": str(gt), "metrics": report.result.metrics,
                               "intervals": report.result.intervals,
                               "photos": sorted({d.path.name for d in ok
                                                 if d.path.name in by_name}),
                               "plots": [str(p) for p in report.result.plots]}
    if sweep:
        assert report.best_ap50 is not None and report.max_box_acc is not None
        print_table("CAM threshold sweep", report.sweep)
        console.print(f"best AP@0.5 {report.best_ap50['ap50']:.4f} at CAM threshold "
                      f"{report.best_ap50['threshold']}; MaxBoxAcc (best CorLoc) "
                      f"{report.max_box_acc['corloc']:.4f} at CAM threshold "
                      f"{report.max_box_acc['threshold']}")
        payload["sweep"] = {"rows": report.sweep, "best_ap50": report.best_ap50,
                            "max_box_acc": report.max_box_acc,
                            "plots": [str(report.plots[-1])]}
    metrics_path = atomic.write_json(output.with_name(output.stem + ".metrics.json"), payload)
    console.print(f"metrics -> {metrics_path}" +
                  "".join(f", {p}" for p in payload["plots"] + payload.get("sweep", {}).get(
                      "plots", [])))


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
    threshold: Annotated[float | None, typer.Option(
        "--threshold", min=0.0, help="(see threshold_help)")] = None,
    cam_threshold: Annotated[float, typer.Option(
        "--cam-threshold", min=0.0, max=1.0,
        help="cam and cam+frames: the CAM paper's rule, pixels above this share of the "
        "map's peak are evidence (20% in the paper).")] = 0.2,
    max_det: Annotated[int, typer.Option(
        "--max-det", min=1, help="Report at most this many paintings per photo, best "
        "first.")] = 100,
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
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 16,
    device: Annotated[str, typer.Option(
        "--device", help="auto, cpu or cuda (onnxruntime provider).")] = "auto",
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    **method_values: Any,
) -> None:
    """Find paintings in photos of rooms: a table, csv + COCO json, crops, labels, overlays."""
    apply_quiet(quiet)
    if device not in ("auto", "cpu", "cuda"):
        raise ArtkitError(f"--device must be auto, cpu or cuda, not '{device}'")
    options = {k: v for k, v in method_values.items() if v is not None}
    run_detect(inputs, model, method, class_name, threshold, output, save_vis, gt,
               sweep_threshold, batch_size, device, options, engine=engine,
               ray_address=ray_address, cam_threshold=cam_threshold, max_det=max_det,
               crops=crops, classify=classify)
    print_report_hint(output.with_suffix(".json"), *(["--gt", str(gt)] if gt else []))


def _with_method_options(command):
    """Append every detection method's options to `command`'s signature (for Typer)."""
    signature = inspect.signature(command, eval_str=True)
    fixed = [p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
    for parameter in fixed:
        if parameter.name == "threshold":  # its defaults depend on the installed methods
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
    from artkit.api.detect import evaluate_boxes_file

    result, truth, path = evaluate_boxes_file(predictions, gt, class_name, out)
    print_metrics(f"{predictions.name} vs {gt.name} ({len(truth.boxes)} images, "
                  f"category '{truth.category}')", result.metrics, result.intervals)
    console.print(f"metrics -> {path}" + "".join(f", {p}" for p in result.plots))


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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Crops of room photos, painting vs background: training data for a CAM detector."""
    from artkit.data.room_crops import make_room_crops

    apply_quiet(quiet)
    counts = make_room_crops(data, out, per_photo=per_photo, size=size, seed=seed,
                             proposals=proposals)
    print_table(f"crops -> {out}", [{"class": k, "images": v} for k, v in counts.items()])


def build_painting_detector_command(
    weights: Annotated[Path, typer.Option(
        "--weights", help="MobileNet alpha 0.25 ImageNet weights (Keras Applications "
        "mobilenet_2_5_224_tf_no_top.h5, Apache-2.0); 'none': random initialisation.")],
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
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
