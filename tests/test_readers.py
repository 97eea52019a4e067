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


def test_format_forces_a_reader_and_unknown_layout_is_explained(tmp_path: Path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(DataError, match="no reader recognises"):
        load_dataset(tmp_path)
    with pytest.raises(Exception, match="unknown dataset-reader 'nope'"):
        load_dataset(tmp_path, format="nope")
