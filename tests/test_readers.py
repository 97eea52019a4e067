"""Data set readers: each layout, auto-detection, and clear errors on bad layouts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artkit.data.dataset import load_dataset
from artkit.errors import DataError


def image(path: Path, colour=(200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)
    return path


def test_class_folders(tmp_path: Path):
    for name, count in (("vase", 3), ("portrait", 2)):
        for i in range(count):
            image(tmp_path / name / f"{i}.png")
    image(tmp_path / ".hidden" / "x.png")
    (tmp_path / "empty").mkdir()
    data = load_dataset(tmp_path)
    assert data.reader == "folder" and data.task == "multiclass"
    assert data.labels == ["portrait", "vase"]
    assert data.targets.tolist() == [0, 0, 1, 1, 1]


def test_class_folders_need_two_classes(tmp_path: Path):
    image(tmp_path / "only" / "a.png")
    with pytest.raises(DataError, match="only one class"):
        load_dataset(tmp_path)


def write_imet(root: Path, rows: list[str], labels=("0,culture::a", "1,tag::b", "2,tag::c")):
    (root / "labels.csv").write_text("attribute_id,attribute_name\n" + "\n".join(labels) + "\n")
    (root / "train.csv").write_text("id,attribute_ids\n" + "\n".join(rows) + "\n")


def test_imet_layout_png_and_jpg(tmp_path: Path):
    image(tmp_path / "images" / "x1.png")
    image(tmp_path / "images" / "x2.jpg")
    write_imet(tmp_path, ["x1,0 2", "x2,1"])
    data = load_dataset(tmp_path)
    assert data.reader == "imet" and data.task == "multilabel"
    assert data.labels == ["culture::a", "tag::b", "tag::c"]
    assert data.targets.tolist() == [[1, 0, 1], [0, 1, 0]]
    assert [p.name for p in data.paths] == ["x1.png", "x2.jpg"]


def test_imet_rejects_ids_outside_the_images_folder(tmp_path: Path):
    image(tmp_path / "secret.png")
    (tmp_path / "images").mkdir()
    write_imet(tmp_path, ["../secret,0"])
    with pytest.raises(DataError, match="outside the images folder"):
        load_dataset(tmp_path)


def test_imet_unknown_attribute_and_missing_image(tmp_path: Path):
    image(tmp_path / "images" / "x1.png")
    write_imet(tmp_path, ["x1,7"])
    with pytest.raises(DataError, match="attribute id 7"):
        load_dataset(tmp_path)
    write_imet(tmp_path, ["x9,0"])
    with pytest.raises(DataError, match="no image for id 'x9'") as info:
        load_dataset(tmp_path)
    assert "train.csv" in str(info.value)


def test_imet_missing_column(tmp_path: Path):
    (tmp_path / "labels.csv").write_text("id,name\n0,a\n")
    (tmp_path / "train.csv").write_text("id,attribute_ids\n")
    with pytest.raises(DataError, match="missing column"):
        load_dataset(tmp_path)


def test_single_label_csv(tmp_path: Path):
    for i in range(3):
        image(tmp_path / "images" / f"{i}.jpg")
    csv = tmp_path / "department.csv"
    csv.write_text("id,department\n0,Prints\n1,Textiles\n2,Prints\n")
    data = load_dataset(csv)
    assert data.reader == "csv" and data.labels == ["Prints", "Textiles"]
    assert data.targets.tolist() == [0, 1, 0]


def test_coco_boxes(tmp_path: Path):
    image(tmp_path / "images" / "room.jpg")
    image(tmp_path / "images" / "empty.jpg")
    coco = {"images": [{"id": 1, "file_name": "images/room.jpg", "width": 8, "height": 8},
                       {"id": 2, "file_name": "empty.jpg", "width": 8, "height": 8}],
            "annotations": [{"id": 1, "image_id": 1, "bbox": [1, 2, 3, 4], "category_id": 1}],
            "categories": [{"id": 1, "name": "painting"}]}
    (tmp_path / "gt.json").write_text(json.dumps(coco))
    data = load_dataset(tmp_path)
    assert data.reader == "coco" and data.task == "detection" and data.labels == ["painting"]
    np.testing.assert_array_equal(data.boxes[0], [[1, 2, 4, 6]])
    assert data.boxes[1].shape == (0, 4)


def _odd_coco(tmp_path: Path, **changes) -> Path:
    """Two categories (ids out of order), a crowd box, an image without boxes."""
    image(tmp_path / "images" / "a.jpg")
    image(tmp_path / "images" / "b.jpg")
    coco = {"images": [{"id": 7, "file_name": "a.jpg"}, {"id": 3, "file_name": "b.jpg"}],
            "annotations": [
                {"id": 1, "image_id": 7, "category_id": 5, "bbox": [1, 1, 2, 2]},
                {"id": 2, "image_id": 7, "category_id": 2, "bbox": [0, 0, 8, 8]},
                {"id": 3, "image_id": 7, "category_id": 5, "bbox": [4, 4, 3, 1.5]},
                {"id": 4, "image_id": 7, "category_id": 5, "bbox": [0, 0, 4, 4],
                 "iscrowd": 1}],
            "categories": [{"id": 5, "name": "painting"}, {"id": 2, "name": "frame"}]}
    for index, annotation in changes.items():
        coco["annotations"][int(index[1:])] = annotation
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(coco))
    return path


def test_coco_reader_and_detection_truth_agree(tmp_path: Path):
    """The dataset reader and `detect --gt` / `evaluate-detect` read COCO with one parser."""
    from artkit.detection.coco import read_coco_truth

    gt = _odd_coco(tmp_path)
    data = load_dataset(gt)
    assert data.labels == ["frame", "painting"]  # by category id
    assert data.extra["image_ids"] == [7, 3]
    painting, frame = read_coco_truth(gt, "painting"), read_coco_truth(gt, "frame")
    assert painting.category_id == 5 and frame.category_id == 2
    for index, image_id in enumerate(data.extra["image_ids"]):
        # the reader keeps every category's boxes, the truth one category's; neither
        # the crowd box
        both = np.concatenate([painting.boxes[image_id], frame.boxes[image_id]])
        np.testing.assert_array_equal(np.unique(data.boxes[index], axis=0),
                                      np.unique(both, axis=0))
    np.testing.assert_array_equal(painting.boxes[7], [[1, 1, 3, 3], [4, 4, 7, 5.5]])
    assert painting.boxes[3].shape == (0, 4)
    with pytest.raises(DataError, match="2 categories: choose one"):
        read_coco_truth(gt)


@pytest.mark.parametrize(("change", "message"), [
    ({"a0": {"id": 1, "image_id": 7, "category_id": 5, "bbox": [1, 1, 0, 2]}},
     "annotation 1: bbox .* has no area"),
    ({"a0": {"id": 1, "image_id": 7, "category_id": 5, "bbox": [1, 1, 2]}},
     "annotation 1: bbox .* is not four numbers"),
    ({"a0": {"id": 1, "image_id": 7, "category_id": 5}}, "annotation 1 lacks bbox"),
    # unknown image in a category other than the one asked for: refused all the same
    ({"a1": {"id": 2, "image_id": 99, "category_id": 2, "bbox": [0, 0, 8, 8]}},
     "annotation 2 names unknown image 99"),
    ({"a1": {"id": 2, "image_id": 7, "category_id": 9, "bbox": [0, 0, 8, 8]}},
     "annotation 2 names unknown category 9"),
])
def test_coco_reader_and_detection_truth_refuse_the_same_files(tmp_path: Path, change,
                                                               message):
    from artkit.detection.coco import read_coco_truth

    gt = _odd_coco(tmp_path, **change)
    errors = []
    for read in (load_dataset, lambda path: read_coco_truth(path, "painting")):
        with pytest.raises(DataError, match=message) as info:
            read(gt)
        assert "gt.json" in str(info.value) and "\n" not in str(info.value)
        errors.append(str(info.value))
    assert errors[0] == errors[1]


def test_coco_file_that_is_not_coco(tmp_path: Path):
    from artkit.detection.coco import read_coco_truth

    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [], "annotations": []}))
    with pytest.raises(DataError, match="no 'categories' key"):
        load_dataset(gt, format="coco")
    with pytest.raises(DataError, match="no 'categories' key"):
        read_coco_truth(gt)
    gt.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}] * 2,
                              "annotations": [], "categories": []}))
    with pytest.raises(DataError, match="image id 1 is repeated"):
        read_coco_truth(gt)


def test_format_forces_a_reader_and_unknown_layout_is_explained(tmp_path: Path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(DataError, match="no reader recognises"):
        load_dataset(tmp_path)
    with pytest.raises(Exception, match="unknown dataset-reader 'nope'"):
        load_dataset(tmp_path, format="nope")
