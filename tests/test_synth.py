"""The built-in synthetic data sets: deterministic, read by artkit's own readers, with the
class balance, attributes and boxes they promise, and not separable by mean colour."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from artkit.cli.main import app
from artkit.data.dataset import load_dataset
from artkit.data.decode import decode_image
from artkit.data.synth import (
    ARTWORK_CLASSES,
    GENERATOR_VERSION,
    default_dataset,
    generate,
    render_artwork,
)
from artkit.errors import ArtkitError

SMALL = {"multiclass": (24, 40), "multilabel": (12, 40), "painting-sculpture": (10, 40),
         "detection": (4, 96)}


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("task", list(SMALL))
def test_same_seed_same_bytes_other_seed_other_images(tmp_path: Path, task: str) -> None:
    n, size = SMALL[task]
    first = _files(generate(tmp_path / "a", task, n, seed=3, size=size))
    again = _files(generate(tmp_path / "b", task, n, seed=3, size=size))
    other = _files(generate(tmp_path / "c", task, n, seed=4, size=size))
    assert first == again
    images = [k for k in first if k.endswith((".png", ".jpg"))]
    assert len(images) == n
    assert sum(first[k] != other.get(k) for k in images) >= n - 1


def test_multiclass_has_ten_classes_and_the_papers_imbalance(synth_multiclass: Path) -> None:
    dataset = load_dataset(synth_multiclass)
    assert dataset.task == "multiclass" and dataset.reader == "folder"
    assert len(dataset) == 120 and len(dataset.labels) >= 10
    counts = np.sort(dataset.counts())[::-1]
    assert 0.6 <= counts[:2].sum() / counts.sum() <= 0.72
    assert counts.min() >= 3
    image = decode_image(dataset.paths[0])
    assert image.shape == (64, 64, 3)


def _orientation_histogram(image: np.ndarray) -> np.ndarray:
    """Gradient-orientation histograms at two scales: a crude measure of form and texture."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    features = []
    for scale in (1, 2):
        small = cv2.resize(gray, (gray.shape[1] // scale, gray.shape[0] // scale),
                           interpolation=cv2.INTER_AREA)
        magnitude, angle = cv2.cartToPolar(cv2.Sobel(small, cv2.CV_32F, 1, 0),
                                           cv2.Sobel(small, cv2.CV_32F, 0, 1))
        hist = np.histogram(angle % np.pi, bins=8, range=(0, np.pi), weights=magnitude)[0]
        features += [*(hist / (hist.sum() + 1e-6)), np.log1p(magnitude.mean())]
    return np.array(features)


def test_classes_differ_in_form_not_in_mean_colour(synth_multiclass: Path) -> None:
    """Nearest class mean, fitted on half the images and scored on the other half: on the
    mean RGB colour it is near chance (1/12 balanced), on crude texture features far above."""
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import cross_val_predict
    from sklearn.neighbors import NearestCentroid

    dataset = load_dataset(synth_multiclass)
    images = [decode_image(p) for p in dataset.paths]

    def score(features: np.ndarray) -> float:
        predicted = cross_val_predict(NearestCentroid(), features, dataset.targets, cv=2)
        return balanced_accuracy_score(dataset.targets, predicted)

    by_colour = score(np.array([image.reshape(-1, 3).mean(0) for image in images]))
    by_form = score(np.array([_orientation_histogram(image) for image in images]))
    assert by_colour < 0.2
    assert by_form > 0.25 and by_form > 2 * by_colour


def test_multilabel_is_imet_with_culture_and_tag_groups(synth_multilabel: Path) -> None:
    dataset = load_dataset(synth_multilabel)
    assert dataset.task == "multilabel" and dataset.reader == "imet"
    assert (synth_multilabel / "train.csv").read_text().startswith("id,attribute_ids\n")
    cultures = [i for i, n in enumerate(dataset.labels) if n.startswith("culture::")]
    tags = [i for i, n in enumerate(dataset.labels) if n.startswith("tag::")]
    assert len(dataset.labels) >= 30 and len(cultures) >= 10 and len(tags) >= 15
    assert len(cultures) + len(tags) == len(dataset.labels)
    per_image = dataset.targets.sum(1)
    assert per_image.min() >= 3 and per_image.mean() >= 3.3
    assert (dataset.targets[:, cultures].sum(1) == 1).all()  # one culture per object
    assert dataset.targets.sum(0).max() < len(dataset)  # no attribute on every image


def test_painting_sculpture_is_two_class_folders(synth_painting_sculpture: Path) -> None:
    dataset = load_dataset(synth_painting_sculpture)
    assert dataset.task == "multiclass" and dataset.labels == ["painting", "sculpture"]
    assert dataset.counts().tolist() == [33, 27]


def test_detection_boxes_are_coco_inside_the_photo(synth_detection: Path) -> None:
    from pycocotools.coco import COCO

    dataset = load_dataset(synth_detection)
    assert dataset.task == "detection" and dataset.labels == ["painting"]
    coco = COCO(str(synth_detection / "annotations_coco.json"))
    assert len(coco.getImgIds()) == len(dataset) == 12
    for path, boxes, info in zip(dataset.paths, dataset.boxes, coco.loadImgs(coco.getImgIds()),
                                 strict=True):
        h, w = decode_image(path).shape[:2]
        assert (w, h) == (info["width"], info["height"]) == (160, 120)
        assert 0 <= len(boxes) <= 6
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
        assert ((boxes[:, 2:] - boxes[:, :2]) >= 8).all()
    assert sum(len(b) for b in dataset.boxes) >= 12


def test_real_paintings_hang_exactly_inside_their_boxes(tmp_path: Path) -> None:
    """With --paintings, a pure magenta 'painting' shows up inside the boxes and nowhere
    else, and nearly every box shows it; an unreadable file in the folder is skipped."""
    folder = tmp_path / "paintings" / "nested"
    folder.mkdir(parents=True)
    magenta = np.zeros((40, 30, 3), np.uint8)
    magenta[:] = (255, 0, 255)
    cv2.imwrite(str(folder / "magenta.png"), magenta)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    out = generate(tmp_path / "rooms", "detection", 6, seed=1, size=200,
                   paintings=tmp_path / "paintings")
    dataset = load_dataset(out)
    assert sum(len(b) for b in dataset.boxes) > 0
    shown = []
    for path, boxes in zip(dataset.paths, dataset.boxes, strict=True):
        image = decode_image(path).astype(int)
        is_magenta = (image[..., 0] > 100) & (image[..., 2] > 100) & \
            (image[..., 1] < 0.3 * np.minimum(image[..., 0], image[..., 2]))
        inside = np.zeros(is_magenta.shape, bool)
        for x0, y0, x1, y1 in boxes.astype(int):
            inside[y0:y1, x0:x1] = True
            shown.append(is_magenta[y0:y1, x0:x1].mean() > 0.1)
        # outside the boxes only slivers of paintings cut by the photo's edge are left
        outside = (is_magenta & ~inside).astype(np.uint8)
        stats = cv2.connectedComponentsWithStats(outside)[2]
        for x, y, w, h, n in stats[1:]:
            assert n < 20 or x == 0 or y == 0 or x + w == image.shape[1] \
                or y + h == image.shape[0], f"{path}: unannotated painting at {x},{y}"
    # a painting cut by the photo's edge down to its frame shows no picture; nearly every
    # box shows it
    assert np.mean(shown) >= 0.8


@pytest.mark.parametrize("strength", [0.1, 0.35])
def test_wide_angle_boxes_follow_the_bowed_outline(strength: float) -> None:
    """Barrel distortion bends a painting's edges; its box is the bounding box of the bent
    outline (within a pixel), and a painting near the corner moves towards the centre."""
    from artkit.data.synth.rooms import _barrel

    image = np.zeros((360, 640, 3), np.uint8)
    cv2.rectangle(image, (400, 40), (600, 200), (255, 255, 255), -1)
    bent, boxes = _barrel(image, [(400, 40, 601, 201)], strength)
    ys, xs = np.nonzero(bent[..., 0] > 127)
    drawn = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    assert len(boxes) == 1 and np.abs(np.array(boxes[0]) - drawn).max() <= 1
    assert boxes[0] != (400, 40, 601, 201)


def test_a_closer_photo_cuts_paintings_at_its_edge_and_drops_slivers() -> None:
    """The window of a closer photo keeps what the photo shows: a painting inside it moves
    with it, one cut by its edge keeps its visible part, and one left as a sliver (under
    30% of it) is no longer annotated."""
    from artkit.data.synth.rooms import _window

    room = np.zeros((400, 800, 3), np.uint8)  # each pixel holds its own x // 4 and y // 2
    room[..., 0] = np.arange(800)[None, :] // 4
    room[..., 1] = np.arange(400)[:, None] // 2
    photo, _ = _window(np.random.default_rng(0), room, [], 400, 200)
    x0, y0 = int(photo[0, 0, 0]) * 4, int(photo[0, 0, 1]) * 2  # where this seed's window is
    inside = (x0 + 50, y0 + 50, x0 + 150, y0 + 150)
    cut = (x0 + 300, y0 + 20, x0 + 500, y0 + 120)  # half of it in the photo
    sliver = (x0 - 180, y0 + 20, x0 + 20, y0 + 120)  # a tenth of it in the photo
    photo, boxes = _window(np.random.default_rng(0), room, [inside, cut, sliver], 400, 200)
    assert photo.shape == (200, 400, 3)
    assert np.array(boxes) == pytest.approx(np.array([(50, 50, 150, 150), (300, 20, 400, 120)]),
                                            abs=4)


def test_gallery_paintings_and_frames_render_any_shape() -> None:
    from artkit.data.synth.old_masters import gilt_frame, old_master

    rng = np.random.default_rng(0)
    for h, w in ((12, 12), (40, 90), (200, 130)):
        art = old_master(rng, h, w)
        assert art.shape == (h, w, 3) and art.dtype == np.uint8
        assert art.mean() < 140  # a dark canvas
        for oval in (False, True):
            framed = gilt_frame(rng, art, oval=oval)
            border = (framed.shape[0] - h) // 2
            assert framed.shape[0] - h == framed.shape[1] - w == 2 * border > 0


def test_every_artwork_class_renders_any_shape() -> None:
    rng = np.random.default_rng(0)
    assert len(ARTWORK_CLASSES) >= 10
    for name in ARTWORK_CLASSES:
        image = render_artwork(rng, name, 37, 61)
        assert image.shape == (37, 61, 3) and image.dtype == np.uint8 and image.std() > 5


def test_generate_refuses_bad_arguments_and_leaves_nothing_half_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(ArtkitError, match="not empty"):
        generate(tmp_path / "full", "multiclass", 10, size=32)
    with pytest.raises(ArtkitError, match="unknown synthetic task"):
        generate(tmp_path / "x", "segmentation", 10)
    with pytest.raises(ArtkitError, match="--seed must be 0 or more"):
        generate(tmp_path / "x", "multiclass", 10, seed=-1)
    with pytest.raises(ArtkitError, match="only applies to --task detection"):
        generate(tmp_path / "x", "multiclass", 10, paintings=tmp_path)

    import artkit.data.synth.artworks as artworks

    calls = []

    def failing(rng, class_name, height, width, photographed=True):
        calls.append(class_name)
        if len(calls) == 5:
            raise RuntimeError("disk full")
        return np.zeros((height, width, 3), np.uint8)

    monkeypatch.setattr(artworks, "render_artwork", failing)
    with pytest.raises(RuntimeError):
        generate(tmp_path / "half", "multiclass", 20, size=32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


def test_default_dataset_is_generated_once_then_reused(monkeypatch: pytest.MonkeyPatch,
                                                       isolated_folders: Path) -> None:
    import artkit.data.synth.api as api

    monkeypatch.setitem(api.DEFAULTS, "multiclass", (24, 32))
    path = default_dataset("multiclass")
    assert path == (isolated_folders / "cache" / "synth" /
                    f"multiclass-n24-s0-px32-v{GENERATOR_VERSION}")
    assert len(load_dataset(path)) == 24

    def no_second_generation(*args, **kwargs):
        raise AssertionError("the cached set should have been reused")

    monkeypatch.setattr(api, "generate", no_second_generation)
    assert default_dataset("multiclass") == path
    with pytest.raises(ArtkitError, match="no built-in synthetic data set"):
        default_dataset("segmentation")


def test_cli_synth_writes_the_set_and_a_contact_sheet(tmp_path: Path) -> None:
    runner = CliRunner()
    out, sheet = tmp_path / "rooms", tmp_path / "sheet.png"
    result = runner.invoke(app, ["data", "synth", str(out), "--task", "detection", "--n", "3",
                                 "--size", "96", "--seed", "2", "--contact-sheet", str(sheet)])
    assert result.exit_code == 0, result.output
    assert "detection: 3 images" in result.output and "reader: coco" in result.output
    coco = json.loads((out / "annotations_coco.json").read_text())
    assert [i["file_name"] for i in coco["images"]] == [f"images/{i:05d}.jpg" for i in range(3)]
    assert all((out / i["file_name"]).is_file() for i in coco["images"])
    assert decode_image(sheet).shape[1] > 200

    labelled = tmp_path / "objects"
    result = runner.invoke(app, ["data", "synth", str(labelled), "--task", "multilabel",
                                 "--n", "8", "--size", "32", "--contact-sheet",
                                 str(tmp_path / "objects.png")])
    assert result.exit_code == 0, result.output
    assert len((labelled / "train.csv").read_text().splitlines()) == 9
    assert decode_image(tmp_path / "objects.png").shape[0] > 64

    again = runner.invoke(app, ["data", "synth", str(out), "--n", "3"])
    assert again.exit_code == 1
    assert "output folder exists and is not empty" in again.output
    assert "Traceback" not in again.output


def test_docs_state_the_defaults_and_cache_key_the_code_uses() -> None:
    import re

    from artkit.data.synth import DEFAULTS

    text = (Path(__file__).resolve().parents[1] / "docs" / "data.md").read_text()
    for task, (n, size) in DEFAULTS.items():
        assert re.search(rf"\| {task} \| {n} \| {size}\b", text), task
        assert f"--task {task} --n {n} --size {size} --contact-sheet" in text
        assert (Path(__file__).resolve().parents[1] / "docs" / "images" /
                f"synth-{task}.png").stat().st_size < 300_000
    assert f"multiclass-n600-s0-px128-v{GENERATOR_VERSION}`" in text
