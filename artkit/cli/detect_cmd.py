"""`artkit detect INPUTS...` (find paintings in photos) and `artkit evaluate-detect`.

The detection method is a plugin (`--method`); each method's own options are generated
from its `options`, as `artkit train` does for models, so a third-party method's options
appear here without the core knowing it.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from artkit import plugins
from artkit.cli.common import apply_quiet, print_metrics, print_table
from artkit.cli.engine import EngineOption, RayAddressOption
from artkit.console import console, info, make_progress, warn
from artkit.contracts import Detections, OptionSpec
from artkit.errors import ArtkitError, PluginError
from artkit.plots import save_figure

#: The measured best method (docs/detection.md): what `detect` runs without --method when
#: it has a model; without one it runs the best method that needs none.
DEFAULT_METHOD = "frames+cnn"
DEFAULT_METHOD_WITHOUT_MODEL = "frames"
SWEEP = tuple(round(t, 2) for t in np.arange(0.05, 0.951, 0.05))
TABLE_ROWS = 50


def method_options() -> list[OptionSpec]:
    """The union of every detection method's options (the first declaration of a name wins)."""
    seen: dict[str, OptionSpec] = {}
    users: dict[str, list[str]] = {}
    for name, info_ in plugins.of_kind("detection-method").items():
        for spec in info_.obj.options:
            seen.setdefault(spec.name, spec)
            users.setdefault(spec.name, []).append(name)
    return [OptionSpec(spec.name, spec.type, None, f"{spec.help} (default {spec.default}; "
                       f"methods: {', '.join(users[spec.name])})") for spec in seen.values()]


def _evaluate(truth, photos_detections: list[Detections], out_dir: Path, title: str):
    from artkit.evaluation import evaluator_for

    evaluator = evaluator_for("detection")
    result = evaluator.evaluate(truth, photos_detections, ["painting"], out_dir)
    print_metrics(title, result.metrics)
    return result


def _sweep_plot(rows: list[dict[str, float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    thresholds = [r["threshold"] for r in rows]
    for key, label in (("ap50", "AP@0.5"), ("corloc", "CorLoc (BoxAcc)"),
                       ("recall50", "recall@0.5")):
        ax.plot(thresholds, [r[key] for r in rows], marker="o", ms=3, label=label)
    ax.set(xlabel="CAM threshold (share of the map's peak)", ylabel="score", ylim=(0, 1),
           title="threshold sweep")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def _needs_model(method: Any) -> bool:
    return bool(method.needs_cam or getattr(method, "needs_classifier", False))


def choose_method(method_name: str | None, model: Path | None,
                  options: dict[str, Any]) -> tuple[Any, Path | None]:
    """The method plugin and the model to use; checks the method's options.

    Without --method: the measured best (frames+cnn) when a model is given or found, else
    frames, which needs none."""
    from artkit.detection import default_cam_model

    if method_name is None:
        if model is None:
            try:
                model, where = default_cam_model()
                info(f"using {where}")
            except ArtkitError:
                model = None
        method_name = DEFAULT_METHOD if model is not None else DEFAULT_METHOD_WITHOUT_MODEL
        info(f"method {method_name}" + ("" if model is not None else
                                         " (no CAM model found: the method that needs none)"))
    method = plugins.get("detection-method", method_name)
    foreign = sorted(set(options) - {spec.name for spec in method.options})
    if foreign:
        raise PluginError(f"method '{method.name}' has no option(s) "
                          + ", ".join("--" + k.replace("_", "-") for k in foreign))
    if _needs_model(method) and model is None:
        model, where = default_cam_model()
        info(f"using {where}")
    return method, model


def run_detect(inputs: list[str], model: Path | None, method_name: str | None,
               class_name: str | None,
               threshold: float, output: Path, save_vis: Path | None, gt: Path | None,
               sweep: bool, batch_size: int, device: str, options: dict[str, Any],
               engine: str = "local", ray_address: str | None = None) -> None:
    from artkit import io as aio
    from artkit.detection import detect_photos, open_cam_model
    from artkit.detection_io import coco_results, read_coco_truth, write_results
    from artkit.detection_vis import overlay, save_overlay
    from artkit.runtime.inputs import expand_inputs

    method, model = choose_method(method_name, model, options)
    if sweep and not method.needs_cam:
        raise ArtkitError(f"--sweep-threshold: method '{method.name}' does not use the CAM "
                          "threshold", hint="use --method cam or cam+frames")
    if sweep and gt is None:
        raise ArtkitError("--sweep-threshold needs --gt (annotated boxes to score against)")
    if output.suffix.lower() not in (".json", ".csv"):
        raise ArtkitError("--output must end in .json or .csv (both are written)", output)
    truth = read_coco_truth(gt, class_name) if gt is not None else None
    cam_model = None
    if model is not None:
        cam_model = open_cam_model(model, class_name, device)
        info(f"model {model}: CAM of class '{cam_model.class_name}'")
    expanded = expand_inputs(inputs)
    paths = expanded.paths
    thresholds = tuple(sorted({threshold, *SWEEP})) if sweep else (threshold,)

    by_name = truth.id_by_name() if truth else {}
    category_id = truth.category_id if truth else 1
    results, table, failures, matched = [], [], [], []
    used_vis: set[str] = set()
    with make_progress(rate_unit=None) as progress:
        task = progress.add_task(f"detect ({method.name})", total=len(paths))
        if engine == "ray":
            from artkit.runtime.ray_engine import ray_detect_photos

            stream = ray_detect_photos(paths, method, thresholds, options, cam_model,
                                       batch_size=batch_size, device=device,
                                       address=ray_address, keep_images=save_vis is not None)
        else:
            stream = detect_photos(paths, method, thresholds, options, cam_model,
                                   batch_size=batch_size)
        for photos, failed in stream:
            failures += failed
            for photo in photos:
                found = photo.detections[threshold]
                image_id = by_name.get(photo.path.name, photo.index + 1) if truth \
                    else photo.index + 1
                if truth is not None and photo.path.name in by_name:
                    matched.append((image_id, photo.detections))
                results.append((image_id, str(photo.path), found))
                order = np.argsort(-found.scores)
                top = found.boxes[order[0]].round().astype(int).tolist() if len(order) else ""
                table.append({"photo": photo.path.name, "boxes": len(found.boxes),
                              "best score": float(found.scores.max()) if len(order) else 0.0,
                              "best box (x1,y1,x2,y2)": str(top)})
                if save_vis is not None:
                    name = photo.path.stem if photo.path.stem not in used_vis \
                        else f"{photo.path.stem}_{photo.index}"
                    used_vis.add(name)
                    scaled = Detections(found.boxes * photo.scale, found.scores)
                    truth_boxes = truth.boxes.get(by_name.get(photo.path.name, -1)) \
                        if truth else None
                    save_overlay(overlay(photo.image, scaled, photo.cam,
                                         None if truth_boxes is None
                                         else truth_boxes * photo.scale),
                                 save_vis / f"{name}.jpg")
            progress.advance(task, len(photos) + len(failed))

    shown = table[:TABLE_ROWS]
    print_table(f"paintings found ({method.name}, threshold {threshold})" +
                ("" if len(shown) == len(table) else f" — first {TABLE_ROWS} of {len(table)} "
                 f"photos, all in {output.with_suffix('.json')}"), shown)
    rows = coco_results(results, category_id)
    json_path, csv_path = write_results(rows, output.with_suffix(".json"))
    console.print(f"{len(rows)} boxes in {len(results)} photos -> {json_path}, {csv_path}")
    if failures:
        print_table(f"skipped {len(failures)} file(s)",
                    [{"file": str(f.path), "reason": f.reason} for f in failures])
    if save_vis is not None:
        console.print(f"overlays -> {save_vis}/")
    if truth is None:
        return
    if not matched:
        raise ArtkitError("none of the photos is in the annotations (matched by file name)", gt)
    if len(matched) < len(results):
        warn(f"{len(results) - len(matched)} photo(s) are not in {gt.name} and are not scored")
    gt_boxes = [truth.boxes[image_id] for image_id, _ in matched]
    out_dir = output.with_name(output.stem + "-eval")
    result = _evaluate(gt_boxes, [d[threshold] for _, d in matched], out_dir,
                       f"detection vs {gt.name} ({len(matched)} photos)")
    payload: dict[str, Any] = {"method": method.name, "threshold": threshold,
                               "model": str(model) if cam_model else None,
                               "gt": str(gt), "metrics": result.metrics,
                               "plots": [str(p) for p in result.plots]}
    if sweep:
        payload["sweep"] = _sweep(gt_boxes, matched, thresholds, out_dir)
    metrics_path = aio.write_json(output.with_name(output.stem + ".metrics.json"), payload)
    console.print(f"metrics -> {metrics_path}" +
                  "".join(f", {p}" for p in payload["plots"] + payload.get("sweep", {}).get(
                      "plots", [])))


def _sweep(gt_boxes: list[np.ndarray], matched: list[tuple[int, dict[float, Detections]]],
           thresholds: tuple[float, ...], out_dir: Path) -> dict[str, Any]:
    """Metrics at every CAM threshold; the best by AP@0.5 and by CorLoc (MaxBoxAcc: the
    protocol of Choe et al. 2020, whose BoxAcc at IoU 0.5 is CorLoc)."""
    from artkit.evaluation import evaluator_for

    evaluator = evaluator_for("detection")
    rows = []
    for t in thresholds:
        result = evaluator.evaluate(gt_boxes, [d[t] for _, d in matched], ["painting"],
                                    out_dir, plot=False)
        rows.append({"threshold": t, **{k: result.metrics[k] for k in
                                        ("ap50", "ap", "recall50", "corloc", "mean_best_iou")}})
    best_ap = max(rows, key=lambda r: r["ap50"])
    best_box = max(rows, key=lambda r: r["corloc"])
    print_table("threshold sweep", rows)
    console.print(f"best AP@0.5 {best_ap['ap50']:.4f} at threshold {best_ap['threshold']}; "
                  f"MaxBoxAcc (best CorLoc) {best_box['corloc']:.4f} at threshold "
                  f"{best_box['threshold']}")
    plot = _sweep_plot(rows, out_dir / "threshold_sweep.png")
    return {"rows": rows, "best_ap50": best_ap, "max_box_acc": best_box, "plots": [str(plot)]}


def detect_command(
    inputs: Annotated[list[str], typer.Argument(
        help="Photos: files, folders, glob patterns or .txt lists of paths.")],
    model: Annotated[Path | None, typer.Option(
        "--model", help="Exported ONNX model with a 'cams' output; default: the most recent "
        "vgg19-cam export (or a fresh export of its latest run).")] = None,
    method: Annotated[str | None, typer.Option(
        "--method", help="Detection method plugin: frames+cnn (default with a model: frame "
        "outlines ranked by the model), frames (default without one: no network), "
        "cam+frames, cam (the CAM paper's rule); see `artkit plugins`.")] = None,
    class_name: Annotated[str | None, typer.Option(
        "--class", help="Class whose activation map is used (default: painting).")] = None,
    threshold: Annotated[float, typer.Option(
        "--threshold", min=0.0, max=1.0,
        help="CAM threshold as a share of the map's peak (the CAM paper's 20% rule).")] = 0.2,
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Boxes file: COCO results .json; a .csv beside it too.")
    ] = Path("boxes.json"),
    save_vis: Annotated[Path | None, typer.Option(
        "--save-vis", help="Folder for overlays: photo + CAM heatmap + boxes (JPEG).")] = None,
    gt: Annotated[Path | None, typer.Option(
        "--gt", help="COCO annotations: score the boxes (photos matched by file name).")
    ] = None,
    sweep_threshold: Annotated[bool, typer.Option(
        "--sweep-threshold", help="With --gt: score CAM thresholds 0.05..0.95, report the "
        "best (MaxBoxAcc) and plot.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 16,
    device: Annotated[str, typer.Option(
        "--device", help="auto, cpu or cuda (onnxruntime provider).")] = "auto",
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    **method_values: Any,
) -> None:
    """Find paintings in photos of rooms: boxes, a table, COCO json + csv, overlays."""
    apply_quiet(quiet)
    if device not in ("auto", "cpu", "cuda"):
        raise ArtkitError(f"--device must be auto, cpu or cuda, not '{device}'")
    options = {k: v for k, v in method_values.items() if v is not None}
    run_detect(inputs, model, method, class_name, threshold, output, save_vis, gt,
               sweep_threshold, batch_size, device, options, engine=engine,
               ray_address=ray_address)


def _with_method_options(command):
    """Append every detection method's options to `command`'s signature (for Typer)."""
    from artkit.cli.train_cmd import typer_parameter

    signature = inspect.signature(command, eval_str=True)
    fixed = [p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
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
    from artkit import io as aio
    from artkit.detection_io import read_coco_results, read_coco_truth

    truth = read_coco_truth(gt, class_name)
    found = read_coco_results(predictions, truth)
    ids = sorted(truth.boxes)
    out_dir = out or predictions.with_name(predictions.stem + "-eval")
    result = _evaluate([truth.boxes[i] for i in ids], [found[i] for i in ids], out_dir,
                       f"{predictions.name} vs {gt.name} ({len(ids)} images, "
                       f"category '{truth.category}')")
    path = aio.write_json(out_dir / "metrics.json", {
        "predictions": str(predictions), "gt": str(gt), "category": truth.category,
        "metrics": result.metrics, "plots": [str(p) for p in result.plots]})
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


def register(app: typer.Typer) -> None:
    app.command("detect")(_with_method_options(detect_command))
    app.command("evaluate-detect")(evaluate_detect_command)
    app.command("crop-rooms")(crop_rooms_command)
