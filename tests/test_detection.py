"""Painting detection: CAM -> boxes, frame proposals, the detection metrics (against
pycocotools), and `artkit detect` / `artkit evaluate-detect` end to end."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from artkit.cli.main import app
from artkit.contracts import Detections
from artkit.detection.boxes import iou_matrix
from artkit.detection.cam import boxes_from_cam, upsample
from artkit_plugins.detection_methods import (
    FRAMES_CNN_MIN_ASPECT,
    MIN_ASPECT,
    CamFramesMethod,
    FramesMethod,
    frame_proposals,
)
from artkit_plugins.eval_detection import detection_metrics

runner = CliRunner()


# -- CAM -> boxes -----------------------------------------------------------------------------
def _two_blob_map() -> np.ndarray:
    cam = np.zeros((14, 14), np.float32)
    cam[2:5, 2:6] = 1.0  # strong blob
    cam[8:12, 9:13] = 0.5  # weaker blob
    cam[12, 1] = 0.15  # a speck below 20% of the peak
    return cam


def test_two_blobs_give_two_boxes_in_photo_pixels():
    full = upsample(_two_blob_map(), 140, 280)  # photo 280 wide, 140 high: x scaled by 20
    assert full.shape == (140, 280)
    found = boxes_from_cam(full, threshold=0.2, min_area=0.001)
    assert len(found.boxes) == 2
    expected = np.array([[40, 20, 120, 50], [180, 80, 260, 120]], float)
    assert (iou_matrix(found.boxes, expected).max(axis=1) > 0.7).all()
    assert found.scores[0] > found.scores[1]  # the strong blob ranks first


def test_threshold_rule_is_relative_to_the_peak():
    cam = _two_blob_map()
    assert len(boxes_from_cam(cam, threshold=0.2, min_area=0.0).boxes) == 2
    assert len(boxes_from_cam(cam, threshold=0.1, min_area=0.0).boxes) == 3  # speck included
    assert len(boxes_from_cam(cam, threshold=0.6, min_area=0.0).boxes) == 1  # weak blob gone
    assert len(boxes_from_cam(cam * 7, threshold=0.6, min_area=0.0).boxes) == 1  # scale-free
    assert len(boxes_from_cam(-np.ones((7, 7)), threshold=0.2).boxes) == 0  # no evidence


# -- frame proposals ----------------------------------------------------------------------------
PAINTINGS = np.array([[40, 50, 150, 190], [230, 70, 380, 170]], float)


def draw_room(seed: int = 0, red: bool = False) -> np.ndarray:
    """A plain wall with two framed, textured paintings and a small wall label."""
    rng = np.random.default_rng(seed)
    room = np.full((260, 440, 3), (200, 192, 175), np.uint8)
    room[220:] = (120, 100, 80)  # floor
    for x1, y1, x2, y2 in PAINTINGS.astype(int):
        cv2.rectangle(room, (x1, y1), (x2, y2), (150, 110, 30), -1)  # gilded frame
        inner = room[y1 + 8:y2 - 8, x1 + 8:x2 - 8]
        inner[:] = rng.integers(0, 120, inner.shape, dtype=np.uint8)
        if red:
            inner[..., 0] = 230
    cv2.rectangle(room, (170, 120), (185, 135), (250, 250, 250), -1)  # wall label
    return room


def test_frames_find_the_drawn_paintings():
    found = FramesMethod().detect(draw_room(), None, 0.2)
    ranked = found.boxes[np.argsort(-found.scores)]
    # Both paintings within the top three (the third is the wall's own outline: frames
    # alone cannot tell a wall from a picture, which is what the CAM adds); the wall
    # label is a rectangle too, but small and plain, so it ranks below them.
    assert (iou_matrix(PAINTINGS, ranked[:3]).max(axis=1) > 0.85).all()
    label = np.array([[170, 120, 185, 135]], float)
    assert iou_matrix(label, ranked[:3]).max() < 0.5


def test_cam_frames_prefers_the_box_the_cam_lights_up():
    room = draw_room()
    cam = np.zeros(room.shape[:2], np.float32)
    cam[70:170, 230:380] = 1.0  # only the second painting has evidence
    found = CamFramesMethod().detect(room, cam, 0.2)
    best = found.boxes[np.argmax(found.scores)]
    assert iou_matrix(best[None], PAINTINGS[1:])[0, 0] > 0.85
    assert (iou_matrix(found.boxes, PAINTINGS[:1])[:, 0] < 0.5).all()  # no CAM, no box


# -- metrics against pycocotools ------------------------------------------------------------------
def _random_case(rng: np.random.Generator, n_images: int = 25):
    truth, predictions = [], []
    for _ in range(n_images):
        k = int(rng.integers(0, 4))
        xy = rng.uniform(0, 200, (k, 2))
        gt = np.c_[xy, xy + rng.uniform(20, 100, (k, 2))]
        boxes = []
        for _ in range(int(rng.integers(0, 6))):
            if len(gt) and rng.random() < 0.7:
                box = gt[rng.integers(len(gt))] + rng.normal(0, 6, 4)
            else:
                start = rng.uniform(0, 250, 2)
                box = np.r_[start, start + rng.uniform(10, 100, 2)]
            box[2:] = np.maximum(box[2:], box[:2] + 1)
            boxes.append(box)
        truth.append(gt)
        predictions.append(Detections(np.array(boxes).reshape(-1, 4), rng.random(len(boxes))))
    return truth, predictions


def _coco_files(truth, predictions, folder: Path) -> tuple[Path, Path]:
    images, annotations, results = [], [], []
    for i, (gt, found) in enumerate(zip(truth, predictions, strict=True), start=1):
        images.append({"id": i, "file_name": f"images/{i}.jpg", "width": 400, "height": 400})
        for x1, y1, x2, y2 in gt:
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": 1,
                                "bbox": [x1, y1, x2 - x1, y2 - y1],
                                "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
        for (x1, y1, x2, y2), score in zip(found.boxes, found.scores, strict=True):
            results.append({"image_id": i, "category_id": 1, "score": float(score),
                            "bbox": [x1, y1, x2 - x1, y2 - y1]})
    gt_path, pred_path = folder / "gt.json", folder / "pred.json"
    gt_path.write_text(json.dumps({"images": images, "annotations": annotations,
                                   "categories": [{"id": 1, "name": "painting"}]}))
    pred_path.write_text(json.dumps(results))
    return gt_path, pred_path


def _pycocotools(gt_path: Path, pred_path: Path) -> tuple[float, float, float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        evaluation = COCOeval(gt, gt.loadRes(str(pred_path)), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return (evaluation.stats[0], evaluation.stats[1],
            float(evaluation.eval["recall"][0, 0, 0, 2]))  # recall at IoU 0.5, 100 boxes


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ap_matches_pycocotools(seed: int, tmp_path: Path):
    truth, predictions = _random_case(np.random.default_rng(seed))
    ap, ap50, recall50 = _pycocotools(*_coco_files(truth, predictions, tmp_path))
    metrics, _ = detection_metrics(truth, predictions)
    assert 0.05 < ap50 < 0.95  # a case where ranking matters
    assert metrics["ap50"] == pytest.approx(ap50, abs=1e-9)
    assert metrics["ap"] == pytest.approx(ap, abs=1e-9)
    assert metrics["recall50"] == pytest.approx(recall50, abs=1e-9)


def test_corloc_and_best_iou_by_hand():
    truth = [np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [20, 20, 30, 30]]),
             np.zeros((0, 4))]
    predictions = [Detections(np.array([[0, 0, 10, 4], [0, 0, 10, 10]]), np.array([0.9, 0.1])),
                   Detections(np.array([[20, 20, 30, 30]]), np.array([0.5])),
                   Detections(np.array([[0, 0, 5, 5]]), np.array([0.7]))]
    metrics, _ = detection_metrics(truth, predictions)
    # photo 1: the top box has IoU 0.4 (a CorLoc miss) though a lower box is exact;
    # photo 2: the top box is exact; photo 3 has no painting and does not count for CorLoc.
    assert metrics["corloc"] == pytest.approx(0.5)
    assert metrics["mean_best_iou"] == pytest.approx((1.0 + 0.0 + 1.0) / 3)
    assert metrics["recall50"] == pytest.approx(2 / 3)


def test_results_rows_keep_the_order_of_float32_scores():
    """A confident classifier's rejections (1e-7 vs 3e-9) and near-certain paintings
    (float32 0.9999994 vs 0.99999976, both 1.0 at 6 digits) keep their order in the file,
    so AP from the file equals AP in memory; corners are written at 0.1 px."""
    from artkit.detection.coco import coco_results, pixels

    boxes = np.array([[0, 0, 10, 10], [5, 5, 20, 20], [1, 1, 3, 3], [0, 0, 9, 9],
                      [0, 0, 8, 8]], float)
    scores = np.array([0.9, 1.234567e-7, 3.1e-9, 0.9999994, 0.99999976], np.float32)
    rows = coco_results([(1, "a.jpg", Detections(boxes, scores))], 1)
    written = [r["score"] for r in json.loads(json.dumps(rows))]
    assert written[1] > written[2] > 0 and written[4] > written[3] > written[0]
    assert np.array_equal(np.array(written, np.float32), scores)
    assert pixels(np.array([[-9.7, 128.3]], np.float32)) == [[-9.7, 128.3]]


def test_contained_boxes_go_only_inside_a_confident_container():
    from artkit.detection.boxes import suppress_contained

    wall = [0, 0, 100, 100]  # an outline around a painting, and the painting inside it
    painting = [20, 20, 50, 50]
    boxes = np.array([wall, painting], float)
    assert suppress_contained(boxes, np.array([0.3, 0.2])).tolist() == [0]
    assert suppress_contained(boxes, np.array([0.3, 0.2]), min_container=0.5).tolist() == [0, 1]
    assert suppress_contained(boxes, np.array([0.9, 0.2]), min_container=0.5).tolist() == [0]
    # a better-scored box inside a worse one is never dropped
    assert suppress_contained(boxes, np.array([0.2, 0.9])).tolist() == [1, 0]


def test_resampled_photos_score_as_detection_metrics_on_those_photos():
    """The bootstrap's statistic on a resample of photos (repeats included) is exactly
    detection_metrics on that list of photos (itself checked against pycocotools), and the
    intervals hold the point values."""
    from artkit_plugins.eval_detection import detection_intervals, photo_hits

    truth, predictions = _random_case(np.random.default_rng(3), n_images=30)
    per_photo = photo_hits(truth, predictions)
    rng = np.random.default_rng(0)
    for row in rng.integers(0, len(truth), (5, len(truth))):
        metrics, _ = detection_metrics([truth[i] for i in row], [predictions[i] for i in row])
        assert per_photo.ap50(row) == pytest.approx(metrics["ap50"], abs=1e-12)
    metrics, _ = detection_metrics(truth, predictions)
    intervals = detection_intervals(per_photo)
    for name in ("ap50", "recall50", "corloc"):
        low, high = intervals[name]
        assert low <= metrics[name] <= high and high - low > 0.02, (name, low, high)
    # a perfect detector: every resample scores 1
    perfect = [Detections(t, np.linspace(1, 0.5, len(t))) for t in truth]
    assert detection_intervals(photo_hits(truth, perfect))["ap50"] == (1.0, 1.0)


# -- evaluate-detect CLI ---------------------------------------------------------------------------
def test_evaluate_detect_cli(tmp_path: Path):
    truth, predictions = _random_case(np.random.default_rng(5))
    gt_path, pred_path = _coco_files(truth, predictions, tmp_path)
    result = runner.invoke(app, ["evaluate-detect", str(pred_path), "--gt", str(gt_path),
                                 "--out", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["metrics"]["ap50"] == pytest.approx(_pycocotools(gt_path, pred_path)[1])
    assert (tmp_path / "eval" / "pr_curve.png").stat().st_size > 1000

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"image_id": 999, "category_id": 1, "bbox": [0, 0, 1, 1],
                                "score": 1.0}]))
    result = runner.invoke(app, ["evaluate-detect", str(bad), "--gt", str(gt_path)])
    assert result.exit_code == 1
    assert "image 999" in result.output and "Traceback" not in result.output


# -- detect CLI end to end ---------------------------------------------------------------------
def _photo_folder(tmp_path: Path, red: bool = False) -> tuple[Path, Path]:
    """Three drawn rooms, a broken file, and their COCO annotations."""
    photos = tmp_path / "photos"
    photos.mkdir()
    images, annotations = [], []
    for i in range(3):
        cv2.imwrite(str(photos / f"room{i}.png"),
                    cv2.cvtColor(draw_room(i, red=red), cv2.COLOR_RGB2BGR))
        images.append({"id": 10 + i, "file_name": f"room{i}.png", "width": 440, "height": 260})
        for x1, y1, x2, y2 in PAINTINGS:
            annotations.append({"id": len(annotations) + 1, "image_id": 10 + i,
                                "category_id": 3, "bbox": [x1, y1, x2 - x1, y2 - y1],
                                "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": images, "annotations": annotations,
                              "categories": [{"id": 3, "name": "painting"}]}))
    return photos, gt


def test_detect_frames_end_to_end(tmp_path: Path):
    photos, gt = _photo_folder(tmp_path)
    out = tmp_path / "out" / "boxes.json"
    result = runner.invoke(app, ["detect", "photos", "--method", "frames", "--output",
                                 str(out), "--save-vis", str(tmp_path / "vis"), "--gt", str(gt)])
    assert result.exit_code == 0, result.output
    flat = "".join(result.output.split())  # rich wraps long paths
    assert "skipped1file" in flat and "broken.jpg" in flat
    rows = json.loads(out.read_text())
    assert {r["image_id"] for r in rows} == {10, 11, 12}  # ids from the annotations
    assert all(r["category_id"] == 3 and len(r["bbox"]) == 4 for r in rows)
    with out.with_suffix(".csv").open() as handle:  # the csv: the reported paintings only
        assert len(list(csv.DictReader(handle))) == sum(r["reported"] for r in rows)
    assert sorted(p.name for p in (tmp_path / "vis").iterdir()) == \
        ["room0.jpg", "room1.jpg", "room2.jpg"]
    metrics = json.loads((tmp_path / "out" / "boxes.metrics.json").read_text())["metrics"]
    # Every painting found; the wall's outline outranks them (see the frames test), so
    # 3 false positives come first and AP@0.5 is 6 / 9.
    assert metrics["recall50"] == 1.0
    assert metrics["ap50"] == pytest.approx(6 / 9)


def test_detect_needs_a_model_for_cam_methods(tmp_path: Path, monkeypatch):
    import artkit.bundled

    # an installation without the bundled detector, and no model anywhere
    monkeypatch.setattr(artkit.bundled, "PAINTING_DETECTOR", tmp_path / "none.onnx")
    photos, _ = _photo_folder(tmp_path)
    result = runner.invoke(app, ["detect", str(photos), "--method", "cam"])
    assert result.exit_code == 1
    assert "--method frames" in result.output and "Traceback" not in result.output
    # Without --method and without any model, detect runs the method that needs none.
    result = runner.invoke(app, ["detect", str(photos), "-o", "default.json"])
    assert result.exit_code == 0, result.output
    assert "method frames" in result.output
    assert json.loads(Path("default.json").read_text())


def test_a_missing_input_is_one_line_before_any_work(tmp_path: Path):
    """A typo in an input: exit 1, one line naming it, no file written; the API raises
    at the call, before any photo is read."""
    import artkit

    result = runner.invoke(app, ["detect", "missing/", "--method", "frames", "-o",
                                 str(tmp_path / "boxes.json")])
    assert result.exit_code == 1
    assert "missing" in result.output and "no such file or folder" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not list(tmp_path.glob("boxes*"))
    with pytest.raises(artkit.ArtkitError, match="missing"):
        artkit.detect("missing/", method="frames")


def test_exit_status_says_whether_photos_were_skipped(tmp_path: Path):
    """Every photo broken: exit 1 and no boxes file. Some broken: 0, or 3 with --strict."""
    photos, _ = _photo_folder(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("a.jpg", "b.png"):
        (broken / name).write_bytes(b"not an image at all")
    result = runner.invoke(app, ["detect", str(broken), "--method", "frames", "-o",
                                 "none.json"])
    assert result.exit_code == 1, result.output
    assert "none of the 2 photo(s) could be read" in result.output
    assert "a.jpg" in result.output and not list(Path().glob("none*"))
    for extra, status in (([], 0), (["--strict"], 3)):
        result = runner.invoke(app, ["detect", str(photos), "--method", "frames", "-o",
                                     "some.json", *extra])
        assert result.exit_code == status, result.output
        assert "skipped 1 file(s)" in result.output
        assert len(json.loads(Path("some.json").read_text())) > 0


def test_the_reported_score_must_be_a_share(tmp_path: Path):
    import artkit

    photos, _ = _photo_folder(tmp_path)
    result = runner.invoke(app, ["detect", str(photos), "--method", "frames",
                                 "--threshold", "2"])
    assert result.exit_code == 2 and "--threshold" in result.output
    assert "less than or equal to 1" in " ".join(result.output.split())
    assert not Path("boxes.json").exists()
    # the alias names the same option
    result = runner.invoke(app, ["detect", str(photos), "--method", "frames",
                                 "--min-score", "1", "-o", "strict.json"])
    assert result.exit_code == 0, result.output
    assert Path("strict.json").is_file() and not Path("strict.csv").read_text().count("\n") - 1
    with pytest.raises(artkit.ArtkitError, match=r"min_score must be within \[0, 1\]"):
        artkit.detect(photos, method="frames", min_score=2)


def test_the_bundled_detector_finds_paintings_in_synthetic_rooms(tmp_path: Path):
    from artkit.bundled import painting_detector
    from artkit.data.synth import generate
    from artkit.formats.model_card import ModelCard

    bundled = painting_detector()
    assert bundled is not None and bundled.stat().st_size <= 5 * 2**20
    provenance = ModelCard.read(bundled).extra["provenance"]
    assert provenance["paintings"].startswith("procedural") and "Apache-2.0" in \
        provenance["weights"]
    rooms = generate(tmp_path / "rooms", "detection", 6, seed=123, size=640)
    out = tmp_path / "boxes.json"
    result = runner.invoke(app, ["detect", str(rooms / "images"), "-o", str(out), "--gt",
                                 str(rooms / "annotations_coco.json")])
    assert result.exit_code == 0, result.output
    assert "bundled painting detector" in result.output and "frames+cnn" in result.output
    metrics = json.loads(out.with_name("boxes.metrics.json").read_text())["metrics"]
    assert metrics["recall50"] >= 0.8 and metrics["corloc"] >= 0.8 and metrics["ap50"] >= 0.6


def _red_cam_model(path: Path, with_cams: bool = True,
                   labels: tuple[str, ...] = ("painting", "green", "blue")) -> Path:
    """A tiny artkit-exported-like ONNX model whose 'painting' CAM is the red channel,
    pooled 8x8 (red paintings light up) and whose scores are the softmax of the maps' means.
    Built with onnx.helper (no TensorFlow). Without `with_cams`, a classifier only: the
    maps stay inside the graph and the outputs are the scores (as a linear-probe's)."""
    import onnx
    from onnx import TensorProto, helper

    from artkit.formats.model_card import ModelCard

    size = 64
    nodes = [
        helper.make_node("Transpose", ["images"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("AveragePool", ["nchw"], ["pooled"], kernel_shape=[8, 8],
                         strides=[8, 8]),
        helper.make_node("Transpose", ["pooled"], ["nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Sub", ["nhwc", "offset"], ["cams"]),
        helper.make_node("ReduceMean", ["cams"], ["logits"], axes=[1, 2], keepdims=0),
        helper.make_node("Softmax", ["logits"], ["scores"], axis=-1),
    ]
    # The wall's red is 200 and its green and blue 192 and 175: the offsets make the
    # painting map negative on the wall and the 'painting' score win only on red crops.
    offset = helper.make_tensor("offset", TensorProto.FLOAT, [3], [210.0, 150.0, 150.0])
    graph = helper.make_graph(
        nodes, "red_cam",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [None, size, size, 3])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, 3]),
         *([helper.make_tensor_value_info("cams", TensorProto.FLOAT, [None, 8, 8, 3])]
           if with_cams else [])],
        initializer=[offset])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    ModelCard(model="vgg19-cam" if with_cams else "linear-probe", task="multiclass",
              labels=list(labels), input_kind="image",
              input_size=(size, size), outputs=["cams", "scores"] if with_cams else ["scores"],
              exported_at="2026-01-01T00:00:00+00:00").embed(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("method", ["cam", "cam+frames", "frames+cnn"])
def test_detect_with_a_cam_model(method: str, tmp_path: Path):
    photos, gt = _photo_folder(tmp_path, red=True)
    model = _red_cam_model(Path("exported") / "tiny.onnx")
    out = tmp_path / f"{method}.json"
    sweep = ["--sweep-threshold"] if method.startswith("cam") else []
    result = runner.invoke(app, ["detect", str(photos), "--method", method, "--output",
                                 str(out), "--gt", str(gt), "--save-vis", str(tmp_path / "vis"),
                                 "--model", str(model), *sweep])
    assert result.exit_code == 0, result.output
    assert "exported/tiny.onnx" in "".join(result.output.split())  # says which model
    saved = json.loads(out.with_name(f"{method}.metrics.json").read_text())
    rows = json.loads(out.read_text())
    found = np.array([[x, y, x + w, y + h] for x, y, w, h in (r["bbox"] for r in rows)])
    if method == "cam":
        # The 8x8 map lights the middle of each red canvas: one box per painting, inside
        # it but smaller (the CAM's known weakness), in the photo's own pixels.
        assert len(rows) == 6
        assert (iou_matrix(found, PAINTINGS).max(axis=1) > 0.25).all()
        assert ((found[:, :2] >= PAINTINGS.min(axis=0)[:2] - 1).all()
                and (found[:, 2:] <= PAINTINGS.max(axis=0)[2:] + 1).all())
    else:
        # The frames give the exact outlines; the CAM (or the model's probability on each
        # crop) ranks the paintings above the wall's outline: every painting found, the
        # top box of each photo a painting.
        assert saved["metrics"]["recall50"] == 1.0
        assert saved["metrics"]["corloc"] == 1.0
    if sweep:
        rows = saved["sweep"]["rows"]
        assert [r["threshold"] for r in rows][:2] == [0.05, 0.1]
        assert saved["sweep"]["max_box_acc"]["corloc"] == max(r["corloc"] for r in rows)
        assert Path(saved["sweep"]["plots"][0]).stat().st_size > 1000
    assert len(list((tmp_path / "vis").glob("*.jpg"))) == 3


def test_frames_cnn_ranks_with_any_classifier_and_cam_methods_say_what_is_missing(
        tmp_path: Path):
    """frames+cnn needs only class scores (a linear-probe, an attribute model); the CAM
    methods refuse a model without maps in one line."""
    photos, gt = _photo_folder(tmp_path, red=True)
    model = _red_cam_model(tmp_path / "classifier.onnx", with_cams=False)
    out = tmp_path / "boxes.json"
    result = runner.invoke(app, ["detect", str(photos), "--model", str(model), "--output",
                                 str(out), "--gt", str(gt)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.with_name("boxes.metrics.json").read_text())["metrics"]
    assert metrics["recall50"] == 1.0 and metrics["corloc"] == 1.0
    refused = runner.invoke(app, ["detect", str(photos), "--model", str(model),
                                  "--method", "cam"])
    assert refused.exit_code == 1 and "no 'cams' output" in refused.output
    assert "Traceback" not in refused.output
    # a classifier without the class that finds paintings says so, and lists its classes
    other = runner.invoke(app, ["detect", str(photos), "--model", str(model), "--class",
                                "sculpture"])
    assert other.exit_code == 1, other.output
    assert "has no class 'sculpture' (its classes: painting, green, blue)" in other.output


def test_a_model_without_a_painting_class_names_painting(tmp_path: Path):
    photos, _ = _photo_folder(tmp_path, red=True)
    path = _red_cam_model(tmp_path / "colours.onnx", with_cams=False,
                          labels=("red", "green", "blue"))
    result = runner.invoke(app, ["detect", str(photos), "--model", str(path)])
    assert result.exit_code == 1, result.output
    assert "has no class 'painting' (its classes: red, green, blue)" in result.output
    assert "None" not in result.output and not Path("boxes.json").exists()


@pytest.mark.parametrize("proposals", [None, "frames"])
def test_crop_rooms_makes_a_painting_vs_background_set(proposals: str | None, tmp_path: Path):
    photos, gt = _photo_folder(tmp_path, red=True)
    (photos / "broken.jpg").unlink()
    gt.rename(photos / "annotations.json")  # a COCO set: json beside its images
    extra = ["--proposals", proposals] if proposals else []
    result = runner.invoke(app, ["crop-rooms", str(photos), "--out", "crops", "--size", "32",
                                 "--per-photo", "2", *extra])
    assert result.exit_code == 0, result.output
    paintings = sorted(Path("crops/painting").glob("*.jpg"))
    backgrounds = sorted(Path("crops/background").glob("*.jpg"))
    assert len(paintings) == 6 and 3 <= len(backgrounds) <= 6
    red = [cv2.imread(str(p))[..., 2].mean() - cv2.imread(str(p))[..., 1].mean()
           for p in paintings]
    plain = [cv2.imread(str(p))[..., 2].mean() - cv2.imread(str(p))[..., 1].mean()
             for p in backgrounds]
    assert min(red) > max(plain)  # painting crops hold the red canvases, background none


# -- what is reported: --threshold, --max-det, the csv vs the COCO json ----------------------
def test_threshold_and_max_det_choose_the_reported_paintings(tmp_path: Path):
    import artkit

    photos, _ = _photo_folder(tmp_path, red=True)
    model = _red_cam_model(tmp_path / "tiny.onnx")
    every = [d for d in artkit.detect(photos, model=model, method="frames+cnn", min_score=0)
             if d.ok]
    strict = [d for d in artkit.detect(photos, model=model, method="frames+cnn",
                                       min_score=0.5) if d.ok]
    one = [d for d in artkit.detect(photos, model=model, method="frames+cnn", min_score=0,
                                    max_det=1) if d.ok]
    for low, high, top in zip(every, strict, one, strict=True):
        # threshold 0 reports every candidate, best first; the json keeps them all anyway
        assert len(low.boxes) == len(low.candidates.scores) == len(high.candidates.scores)
        assert (np.diff(low.scores) <= 0).all()
        # the classifier's threshold: the minimum score of a reported painting
        assert (high.scores >= 0.5).all() and len(high.boxes) < len(low.boxes)
        assert (iou_matrix(high.boxes, PAINTINGS).max(axis=1) > 0.85).all()  # only paintings
        assert len(top.boxes) == 1 and top.scores[0] == low.scores[0]
        assert high.quads is not None and high.quads.shape == (len(high.boxes), 4, 2)
    # the CLI: --help gives each method's default; csv = reported, json = every candidate
    result = runner.invoke(app, ["detect", "--help"], env={"COLUMNS": "250"})
    assert "frames+cnn 0.001" in " ".join(result.output.split())
    out = tmp_path / "boxes.json"
    result = runner.invoke(app, ["detect", str(photos), "--model", str(model), "--method",
                                 "frames+cnn", "--threshold", "0.5", "--max-det", "5",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    assert len(rows) == sum(len(d.candidates.scores) for d in every)
    with out.with_suffix(".csv").open() as handle:
        reported = list(csv.DictReader(handle))
    assert len(reported) == sum(len(d.boxes) for d in strict) == sum(r["reported"]
                                                                       for r in rows)
    assert all(float(r["score"]) >= 0.5 for r in reported)


def test_cam_threshold_is_the_cam_papers_rule(tmp_path: Path):
    import artkit

    photos, _ = _photo_folder(tmp_path, red=True)
    model = _red_cam_model(tmp_path / "tiny.onnx")
    counts = {}
    for cam_threshold in (0.2, 0.99):
        found = [d for d in artkit.detect(photos, model=model, method="cam",
                                          cam_threshold=cam_threshold) if d.ok]
        counts[cam_threshold] = sum(len(d.boxes) for d in found)
    assert counts[0.2] == 6 and counts[0.99] < counts[0.2]


# -- crops: rectified by the outline's corners, and classified -------------------------------
def _oblique_photo() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A framed, textured painting (240 x 160) seen at an angle: warped into a photo by a
    known homography. Returns the photo, the frontal painting and its corners in the photo."""
    rng = np.random.default_rng(3)
    painting = np.full((160, 240, 3), (150, 110, 30), np.uint8)  # the frame
    painting[10:-10, 10:-10] = cv2.resize(rng.integers(0, 255, (8, 12, 3), dtype=np.uint8),
                                          (220, 140), interpolation=cv2.INTER_NEAREST)
    corners = np.array([[120, 60], [380, 90], [370, 250], [130, 300]], np.float32)
    frontal = np.array([[0, 0], [240, 0], [240, 160], [0, 160]], np.float32)
    homography = cv2.getPerspectiveTransform(frontal, corners)
    photo = np.full((360, 520, 3), (205, 200, 190), np.uint8)
    warped = cv2.warpPerspective(painting, homography, (520, 360))
    inside = cv2.warpPerspective(np.ones((160, 240), np.uint8), homography, (520, 360)) > 0
    photo[inside] = warped[inside]
    return photo, painting, corners


def test_frames_give_the_corners_and_the_crop_is_rectified():
    from artkit.detection.crops import crop_painting, rectified_size

    photo, painting, corners = _oblique_photo()
    found = FramesMethod().detect(photo, None, 0.2)
    best = int(np.argmax(iou_matrix(found.boxes, np.array([[120, 60, 380, 300]])).ravel()))
    assert found.quads is not None
    assert np.abs(found.quads[best] - corners).max() < 6  # the four corners, in order
    crop = crop_painting(photo, found.boxes[best], found.quads[best])
    width, height = rectified_size(corners)
    assert crop.shape[:2] == pytest.approx((height, width), abs=8)  # dilated outline
    # back to the frontal painting: the same picture up to the resampling
    frontal = cv2.resize(crop, (240, 160), interpolation=cv2.INTER_AREA).astype(float)
    assert np.abs(frontal[12:-12, 12:-12] - painting[12:-12, 12:-12]).mean() < 25
    unrectified = cv2.resize(crop_painting(photo, found.boxes[best]), (240, 160)).astype(float)
    assert np.abs(unrectified[12:-12, 12:-12] - painting[12:-12, 12:-12]).mean() > 40


def test_detect_crops_and_classify_end_to_end(tmp_path: Path):
    photos, _ = _photo_folder(tmp_path, red=True)
    model = _red_cam_model(tmp_path / "tiny.onnx")
    out = tmp_path / "boxes.json"
    result = runner.invoke(app, ["detect", str(photos), "--method", "frames", "--threshold",
                                 "0", "--max-det", "3", "--crops", str(tmp_path / "crops"),
                                 "--classify", str(model), "-o", str(out)],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "labels" in result.output and "painting; painting" in result.output
    with out.with_suffix(".csv").open() as handle:
        reported = list(csv.DictReader(handle))
    assert len(reported) == 9  # 3 photos x --max-det 3
    assert sorted(Path(r["crop"]).name for r in reported) == sorted(
        p.name for p in (tmp_path / "crops").iterdir())
    for row in reported:
        box = np.array([[float(row[k]) for k in ("x1", "y1", "x2", "y2")]])
        crop = cv2.imread(row["crop"])
        assert crop.shape[:2] == pytest.approx((box[0, 3] - box[0, 1], box[0, 2] - box[0, 0]),
                                               abs=3)
        if iou_matrix(box, PAINTINGS).max() > 0.85:  # the red canvases: 'painting'
            assert row["label"] == "painting" and float(row["label_score"]) > 0.34
    rows = [r for r in json.loads(out.read_text()) if r["reported"]]
    assert all(r["label"] and r["crop"] and len(r["quad"]) == 4 for r in rows)


def test_build_painting_detector_records_its_recipe(tmp_path: Path):
    """The one command that rebuilds the bundled detector, at toy size (`--weights none`:
    random initialisation, as the ImageNet file is not part of the test data)."""
    import artkit
    from artkit.formats.model_card import ModelCard

    out = tmp_path / "detector.onnx"
    result = runner.invoke(app, ["build-painting-detector", "--weights", "none", "--rooms",
                                 "12", "--epochs", "1", "--seed", "3", "--members", "2",
                                 "--output", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    card = ModelCard.read(out)
    provenance = card.extra["provenance"]
    assert card.labels == ["background", "painting"] and "cams" in card.outputs
    assert provenance["recipe"]["rooms"] == 12 and provenance["room_seeds"] == [3, 4]
    assert len(card.extra["ensemble"]["members"]) == len(provenance["crops"]) == 2
    assert provenance["paintings"].startswith("procedural")
    assert "build-painting-detector" in provenance["command"]
    photos, _ = _photo_folder(tmp_path, red=True)
    found = [d for d in artkit.detect(photos, model=out) if d.ok]
    assert len(found) == 3 and all(len(d.candidates.scores) for d in found)


def test_min_aspect_decides_whether_a_thin_painting_is_an_outline():
    """A 1:5 canvas (a predella panel, or a painting cut to a strip by the photo's edge) is
    dropped at frames' 1:4 floor and found at frames+cnn's 0.15."""
    photo = np.full((360, 640, 3), 200, np.uint8)
    painting = np.array([200, 150, 450, 200])  # 250 x 50
    rng = np.random.default_rng(0)
    photo[150:200, 200:450] = rng.integers(0, 120, (50, 250, 3))
    cv2.rectangle(photo, (198, 148), (451, 201), (90, 70, 30), 2)

    def best_iou(min_aspect: float) -> float:
        boxes = frame_proposals(photo, 0.001, 0.5, min_aspect=min_aspect)[0]
        return float(iou_matrix(boxes, painting[None]).max()) if len(boxes) else 0.0

    assert best_iou(MIN_ASPECT.default) < 0.5
    assert best_iou(FRAMES_CNN_MIN_ASPECT.default) > 0.8


def test_overlays_keep_the_photos_colours_and_labels_apart():
    """Without a CAM (frames, frames+cnn) the photo is shown as it is; the labels of boxes
    sharing a corner are stacked, not drawn over each other."""
    from artkit.detection.overlays import draw_label, overlay

    room = draw_room()
    found = Detections(PAINTINGS.astype(np.float32), np.array([0.9, 0.5], np.float32))
    picture = overlay(room, found)
    assert np.array_equal(picture[230:, 200:], room[230:, 200:])  # the floor, untinted
    tinted = overlay(room, found, cam=np.ones(room.shape[:2], np.float32))
    assert not np.array_equal(tinted[230:, 200:], room[230:, 200:])
    placed: list[tuple[int, int, int, int]] = []
    for _ in range(3):
        draw_label(room.copy(), "1: 0.99", np.array([40, 50, 150, 190]), placed)
    for k, a in enumerate(placed):
        for b in placed[k + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
