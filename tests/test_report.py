"""`artkit report`: the three kinds of page, their content, and the pages in a real browser.

Made from tiny synthetic data: a bow-svm run (multi-class), a run of a test-only
multi-label model (colour features, no TensorFlow) tuned with tune-thresholds, prediction
files written by artkit's own writers, and a boxes file from `artkit detect --method
frames --gt`. The browser tests open each page in headless Chromium (Debian's chromium and
chromium-driver through Selenium) and skip, with the reason, where there is none.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from onnx_helpers import register_test_model
from typer.testing import CliRunner

import artkit
from artkit.data.decode import decode_image, resize_to
from artkit.errors import ArtkitError
from artkit.reports import build_report, kind_of
from artkit.training.evaluation import PREDICTIONS_FILE, load_predictions
from artkit.training.runs import Run

BOW = {"vocab": "12", "cv_folds": 2, "grid_c": "1", "grid_gamma": "scale"}


def invoke(*args: str):
    from artkit.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args])


def payload(page: Path, gallery: str) -> dict:
    """The items a gallery of `page` pages through (its embedded JSON)."""
    found = re.search(rf'<script type="application/json" id="{gallery}-data">(.*?)</script>',
                      page.read_text(encoding="utf-8"), re.S)
    assert found, f"no gallery {gallery} in {page}"
    return json.loads(found.group(1))


# -- a test-only multi-label model: per-label nearest mean of 4x4 colour thumbnails ---------
def _features(paths) -> np.ndarray:
    return np.stack([resize_to(decode_image(p), (4, 4)).ravel() / 255.0 for p in paths])


class TaggerPredictor:
    def __init__(self, means: np.ndarray):
        self.means = means

    def predict_paths(self, paths) -> np.ndarray:
        x = _features(paths)
        near = np.linalg.norm(x[:, None] - self.means[0][None], axis=2)
        far = np.linalg.norm(x[:, None] - self.means[1][None], axis=2)
        return 1.0 / (1.0 + np.exp(-8.0 * (far - near)))


class ToyTagger:
    name = "toy-tagger"
    description = "Test-only multi-label model (nearest mean per label)."
    tasks = ("multilabel",)
    options = ()

    def train(self, ctx) -> None:
        x = _features([ctx.dataset.paths[i] for i in ctx.train_idx])
        y = ctx.dataset.targets[ctx.train_idx].astype(np.float64)
        positive = (y.T @ x) / np.maximum(y.sum(axis=0), 1)[:, None]
        negative = ((1 - y).T @ x) / np.maximum((1 - y).sum(axis=0), 1)[:, None]
        np.save(ctx.run.path("means.npy"), np.stack([positive, negative]))
        for epoch in (1, 2, 3):
            ctx.run.append_history({"epoch": epoch, "loss": 1.0 / epoch,
                                    "val_loss": 1.2 / epoch})

    def load(self, run: Run) -> TaggerPredictor:
        return TaggerPredictor(np.load(run.path("means.npy")))


def register_tagger() -> None:
    register_test_model(ToyTagger(), "tests.test_report")


# -- what the reports are made from (built once for the module) ----------------------------
@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARTKIT_RUNS", str(folder / "runs"))
        patch.setenv("ARTKIT_CACHE", str(folder / "cache"))
        patch.chdir(folder)
        yield folder


@pytest.fixture(scope="module")
def bow_run(home: Path, synth_multiclass: Path) -> Run:
    """A bow-svm run trained through the CLI, which ends with the report pointer."""
    result = invoke("train", "bow-svm", "--data", synth_multiclass, "--name", "r",
                    "--vocab", "12", "--cv-folds", "2", "--grid-c", "1",
                    "--grid-gamma", "scale", "--quiet")
    assert result.exit_code == 0, result.output
    run = Run(home / "runs" / "bow-svm" / "r")
    assert f"report: artkit report {run.dir}" in result.output.splitlines()[-1]
    return run


@pytest.fixture(scope="module")
def tagger_run(home: Path, synth_multilabel: Path) -> Run:
    register_tagger()
    run = artkit.train("toy-tagger", data=synth_multilabel, name="t")
    artkit.tune_thresholds(run, strategy="group")
    run.evaluate()
    return run


@pytest.fixture(scope="module")
def prediction_files(home: Path, synth_multiclass: Path) -> dict[str, Path]:
    """The same predictions as csv, json and jsonl, written by artkit's writers; one file
    is not an image (skipped by predict), one is deleted after predicting (no thumbnail)."""
    from artkit.runtime.prediction import Prediction
    from artkit.runtime.writers import open_writer

    photos = home / "photos"
    shutil.copytree(synth_multiclass, photos)
    paths = sorted(photos.rglob("*.jpg"))[:40]
    labels = sorted({p.parent.name for p in paths})
    rng = np.random.default_rng(0)
    rows = []
    for index, path in enumerate(paths):
        scores = rng.dirichlet(np.full(len(labels), 0.6)).astype(np.float32)
        order = np.argsort(-scores)
        rows.append(Prediction(index, path, "ok", [labels[order[0]]], scores,
                               [(labels[k], float(scores[k])) for k in order[:3]],
                               model_labels=labels))
    broken = photos / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    rows.append(Prediction(len(rows), broken, "error", error="not an image (unknown format)"))
    header = {"model": "exported/test.onnx", "task": "multiclass", "labels": labels}
    files = {}
    for suffix in ("csv", "json", "jsonl"):
        writer = open_writer(home / f"predictions.{suffix}", labels, header)
        writer.write(rows)
        writer.close(finished=True)
        files[suffix] = home / f"predictions.{suffix}"
    rows[5].path.unlink()  # a photo that went away after predict: a placeholder tile
    return files


@pytest.fixture(scope="module")
def boxes_file(home: Path, synth_detection: Path) -> Path:
    result = invoke("detect", synth_detection / "images", "--method", "frames",
                    "--output", home / "boxes.json", "--gt",
                    synth_detection / "annotations_coco.json", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith(
        f"report: artkit report {home / 'boxes.json'} --gt ")
    return home / "boxes.json"


# -- what is recognised, and bad input --------------------------------------------------------
def test_targets_are_recognised_and_anything_else_is_one_line(bow_run, prediction_files,
                                                               boxes_file, home):
    assert kind_of(bow_run.dir) == "run"
    assert {kind_of(p) for p in prediction_files.values()} == {"predictions"}
    assert kind_of(boxes_file) == kind_of(boxes_file.with_suffix(".csv")) == "boxes"
    (home / "other.csv").write_text("a,b\n1,2\n")
    (home / "object.json").write_text('{"a": 1}')
    (home / "text.json").write_text("no json")
    for bad in (home / "other.csv", home / "object.json", home / "text.json",
                home / "photos", home / "missing.csv", bow_run.path("config.json")):
        with pytest.raises(ArtkitError) as caught:
            build_report(bad)
        message = str(caught.value)
        assert str(bad) in message and "\n" not in message
        assert "run folder" in message or "not found" in message
    result = invoke("report", home / "other.csv")
    assert result.exit_code == 1 and "other.csv" in result.output
    with pytest.raises(ArtkitError, match="--gt"):
        build_report(prediction_files["csv"], gt=boxes_file)
    with pytest.raises(ArtkitError, match="html"):
        build_report(boxes_file, home / "page.txt")


# -- run folders -------------------------------------------------------------------------------
def test_evaluation_saves_the_per_image_scores(bow_run):
    saved = load_predictions(bow_run.path("eval", PREDICTIONS_FILE))
    assert saved["scores"].shape == (len(saved["paths"]), len(bow_run.config.labels))
    assert list(saved["labels"]) == bow_run.config.labels
    accuracy = float((saved["scores"].argmax(axis=1) == saved["targets"]).mean())
    assert accuracy == pytest.approx(bow_run.metrics["metrics"]["accuracy"])


def test_run_report_shows_the_mistakes_most_confident_first(bow_run):
    result = invoke("report", bow_run.dir)
    assert result.exit_code == 0, result.output
    page = bow_run.path("report.html")
    assert f"report -> {page}" in result.output
    text = html.unescape(page.read_text(encoding="utf-8"))
    saved = load_predictions(bow_run.path("eval", PREDICTIONS_FILE))
    predicted = saved["scores"].argmax(axis=1)
    wrong = np.flatnonzero(predicted != saved["targets"])
    items = payload(page, "mistakes")["items"]
    assert len(items) == len(wrong) > 0
    confidence = [item["score"] for item in items]
    assert confidence == sorted(confidence, reverse=True)
    assert all(item["src"].startswith("data:image/jpeg;base64,") for item in items)
    labels = bow_run.config.labels
    first = wrong[np.argmax(saved["scores"][wrong, predicted[wrong]])]
    assert items[0]["f"] == {"truth": [labels[saved["targets"][first]]],
                             "pred": [labels[predicted[first]]]}
    for needle in ("Confusion matrix", 'id="confusion-raw"', 'id="confusion-normalised"',
                   'id="per-class"', 'id="distribution"', "accuracy", '"model": "bow-svm"'):
        assert needle in text, needle
    # the raw matrix counts every test image once
    raw = re.search(r'id="confusion-raw".*?</table>', text, re.S).group(0)
    cells = [int(v) for v in re.findall(r"<td[^>]*>(\d+)</td>", raw)]
    assert sum(cells) == len(saved["paths"])
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text


def test_multilabel_run_report_has_thresholds_and_f2(tagger_run):
    page = artkit.report(tagger_run)
    assert page == tagger_run.path("report.html")
    text = page.read_text(encoding="utf-8")
    for needle in ("F2 against the threshold", "Thresholds per group", "validation (tune",
                   "Candidates compared by tune-thresholds", "Threshold of each label",
                   "f2@tuned", 'id="per-class"', "Training curves"):
        assert needle in text, needle
    items = payload(page, "mistakes")["items"]
    assert items and [i["score"] for i in items] == sorted(i["score"] for i in items)
    assert all(i["score"] < 1 for i in items)


def test_a_run_without_saved_scores_is_scored_with_its_model(tagger_run, tmp_path):
    copy = Run(shutil.copytree(tagger_run.dir, tmp_path / "old-run"))
    copy.path("eval", PREDICTIONS_FILE).unlink()
    register_tagger()
    page = artkit.report(copy, tmp_path / "old.html")
    assert len(payload(page, "mistakes")["items"]) == \
        len(payload(tagger_run.path("report.html"), "mistakes")["items"])


def test_the_api_writes_the_run_folder_the_cli_does(bow_run, synth_multiclass):
    """`artkit train` adds no file to a run folder that `artkit.train` does not write, so
    the report of a run trained from Python is the page of one trained on the command line."""
    run = artkit.train("bow-svm", data=synth_multiclass, name="r", **BOW)

    def files(trained: Run) -> list[str]:
        return sorted(str(p.relative_to(trained.dir)) for p in trained.dir.rglob("*")
                      if p.is_file() and not p.name.startswith("report"))

    assert files(run) == files(bow_run)
    assert run.result().metrics == bow_run.result().metrics
    assert payload(artkit.report(run), "mistakes") == \
        payload(artkit.report(bow_run, bow_run.path("report-cli.html")), "mistakes")


def test_an_unfinished_run_shows_what_it_has(bow_run, tmp_path):
    folder = tmp_path / "unfinished"
    folder.mkdir()
    for name in ("config.json", "split.json"):
        shutil.copy(bow_run.path(name), folder / name)
    text = artkit.report(folder).read_text(encoding="utf-8")
    assert "did not finish" in text and 'id="distribution"' in text
    assert 'id="mistakes"' not in text and ">None<" not in text


# -- predictions files -------------------------------------------------------------------------
def test_multilabel_predictions_show_the_labels_given(home, synth_multilabel):
    from artkit.runtime.prediction import Prediction
    from artkit.runtime.writers import open_writer

    labels = ["a", "b", "c"]
    paths = sorted((synth_multilabel / "images").iterdir())[:4]
    rows = []
    for index, path in enumerate(paths):
        scores = np.array([0.9, 0.7, 0.1] if index % 2 else [0.3, 0.2, 0.1], np.float32)
        rows.append(Prediction(index, path, "ok", [x for x, s in zip(labels, scores,
                                                                    strict=True) if s > 0.5],
                               scores, multilabel=True, model_labels=labels))
    for suffix in ("csv", "jsonl"):
        writer = open_writer(home / f"tags.{suffix}", labels, {"task": "multilabel"})
        writer.write(rows)
        writer.close(finished=True)
        items = payload(artkit.report(home / f"tags.{suffix}", home / f"tags-{suffix}.html"),
                        "predictions")["items"]
        assert [i["f"]["pred"] for i in items] == [[], [], ["a", "b"], ["a", "b"]]
        assert items[0]["lines"][0] == ["missed", "no label above its threshold"]
        assert items[-1]["lines"] == [["pred", "a (0.90), b (0.70)"]]



def test_predictions_report_reads_csv_json_and_jsonl_alike(prediction_files, home):
    galleries = {}
    for suffix, path in prediction_files.items():
        page = artkit.report(path)
        assert page == home / "predictions.report.html"
        galleries[suffix] = payload(page, "predictions")["items"]
        text = page.read_text(encoding="utf-8")
        assert "broken.jpg" in text and "not an image (unknown format)" in text
    assert len(galleries["csv"]) == 40
    names = {s: [(i["name"], i["f"]["pred"]) for i in g] for s, g in galleries.items()}
    assert names["csv"] == names["json"] == names["jsonl"]
    scores = [i["score"] for i in galleries["jsonl"]]
    assert scores == sorted(scores)  # the least confident first
    gone = [i for i in galleries["csv"] if i["src"] is None]
    assert len(gone) == 1 and gone[0]["err"] == "file not found"


def test_large_galleries_keep_thumbnails_in_a_folder(prediction_files, home):
    page = home / "folder.html"
    artkit.report(prediction_files["csv"], page, thumbnails="folder")
    folder = home / "folder_files"
    thumbs = sorted(folder.glob("*.jpg"))
    assert len(thumbs) == 39  # 40 photos, one deleted
    assert all(max(decode_image(t).shape[:2]) <= 256 for t in thumbs)
    items = payload(page, "predictions")["items"]
    assert all((home / i["src"]).is_file() for i in items if i["src"])
    stamps = {t.name: t.stat().st_mtime_ns for t in thumbs}
    (folder / "stale.jpg").write_bytes(b"x")
    artkit.report(prediction_files["csv"], page, thumbnails="folder")
    assert {t.name: t.stat().st_mtime_ns for t in folder.glob("*.jpg")} == stamps


# -- boxes files -------------------------------------------------------------------------------
def test_boxes_report_scores_like_detect_and_puts_misses_first(boxes_file):
    page = artkit.report(boxes_file)  # the annotations detect --gt recorded are used
    stored = json.loads(boxes_file.with_name("boxes.metrics.json").read_text())["metrics"]
    text = page.read_text(encoding="utf-8")
    assert f"{stored['ap50']:.4f}" in text and f"{stored['recall50']:.4f}" in text
    data = payload(page, "photos")
    items = data["items"]
    assert data["boxes"] and len(items) == int(stored["n_images"])
    missed = [sum(b[4] == "miss" for b in i["boxes"]) for i in items]
    assert missed == sorted(missed, reverse=True) and missed[0] > 0
    truth = sum(b[4] in ("gt", "miss") for i in items for b in i["boxes"])
    assert truth == int(stored["n_paintings"])
    # the page draws the reported paintings; the metrics count every candidate
    reported = sum(r.get("reported", True) for r in json.loads(boxes_file.read_text()))
    assert sum(b[4] in ("pred", "false") for i in items for b in i["boxes"]) == reported
    assert reported <= int(stored["n_boxes"])
    # the csv written beside it makes the same gallery
    same = artkit.report(boxes_file.with_suffix(".csv"), boxes_file.with_name("csv.html"))
    assert payload(same, "photos")["items"] == items


def test_boxes_report_cuts_out_the_confident_false_boxes(home: Path, synth_detection: Path):
    """With annotations, the boxes page lists each reported box scoring >= 0.5 that matches
    no painting, best first, as its crop with its kind; a found painting and a doubtful
    false box (under 0.5) are not in it."""
    coco = json.loads((synth_detection / "annotations_coco.json").read_text())
    image = coco["images"][0]
    x, y, w, h = next(a["bbox"] for a in coco["annotations"] if a["image_id"] == image["id"])
    photo = str(synth_detection / image["file_name"])
    inside = [x + w * 0.3, y + h * 0.3, w * 0.2, h * 0.2]  # a detail of the painting
    rows = [{"image_id": image["id"], "file_name": photo, "category_id": 1, "bbox": box,
             "score": score} for box, score in (([x, y, w, h], 0.97), (inside, 0.9),
                                                ([0, 0, 4, 4], 0.3))]
    boxes = home / "false-boxes.json"
    boxes.write_text(json.dumps(rows))
    page = artkit.report(boxes, home / "false-boxes.html",
                         gt=synth_detection / "annotations_coco.json")
    items = payload(page, "false-boxes")["items"]
    assert [(i["name"], i["score"], i["f"]["kind"]) for i in items] == \
        [(Path(photo).name, 0.9, ["inside"])]
    assert items[0]["src"].startswith("data:image/jpeg;base64,")


def test_boxes_report_of_a_run_on_some_annotated_photos_scores_those(home: Path,
                                                                      synth_detection: Path):
    """detect over 2 of the annotated photos: the report scores those 2, as detect did, not
    the other annotated photos as misses."""
    listing = home / "two.txt"
    listing.write_text("\n".join(map(str, sorted((synth_detection / "images").iterdir())[:2])))
    out = home / "two.json"
    result = invoke("detect", listing, "--method", "frames", "--output", out, "--gt",
                    synth_detection / "annotations_coco.json", "--quiet")
    assert result.exit_code == 0, result.output
    stored = json.loads(out.with_name("two.metrics.json").read_text())
    assert len(stored["photos"]) == 2 == int(stored["metrics"]["n_images"])
    page = artkit.report(out)
    text = page.read_text(encoding="utf-8")
    assert len(payload(page, "photos")["items"]) == 2
    assert f"{stored['metrics']['ap50']:.4f}" in text
    assert f"{stored['metrics']['recall50']:.4f}" in text


# -- in a real browser -------------------------------------------------------------------------
def _browser_reason() -> str | None:
    from browser import unavailable

    return unavailable()


@pytest.fixture(scope="module")
def chromium():
    reason = _browser_reason()
    if reason:
        pytest.skip(f"no headless browser: {reason}")
    from browser import headless

    with headless(1280, 900) as driver:
        yield driver


def _count(driver, gallery: str) -> int:
    return int(driver.find_element("css selector", f"#{gallery} .gallery-count")
               .get_attribute("data-count"))


def _choose(driver, gallery: str, key: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("css selector", f"#{gallery} select[data-filter='{key}']")
           ).select_by_value(value)


def _set_number(driver, selector: str, value: float) -> None:
    driver.execute_script("const e = document.querySelector(arguments[0]); e.value = "
                          "arguments[1]; e.dispatchEvent(new Event('input'));", selector,
                          str(value))


def _column(driver, table: str, column: int) -> list[str]:
    return [row.text for row in driver.find_elements(
        "css selector", f"#{table} tbody tr td:nth-child({column})")]


def _check_page(driver, page: Path, gallery: str, shots: Path) -> dict:
    from browser import console_errors, open_page, screenshot

    console_errors(driver)  # forget the previous page's messages
    open_page(driver, page)
    items = payload(page, gallery)["items"]
    assert _count(driver, gallery) == len(items)
    tiles = driver.find_elements("css selector", f"#{gallery} .tile")
    assert len(tiles) == min(len(items), payload(page, gallery)["pageSize"])
    shot = screenshot(driver, shots / f"{page.parent.name}-{page.stem}.png", height=1400)
    assert shot.stat().st_size > 20_000
    assert console_errors(driver) == []
    return {"items": items}


@pytest.fixture(scope="module")
def shots(home: Path) -> Path:
    """Screenshots go to $ARTKIT_REPORT_SHOTS when set (to look at them), else a tmp folder."""
    folder = Path(os.environ.get("ARTKIT_REPORT_SHOTS") or home / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_run_report_in_chromium(chromium, bow_run, shots):
    page = artkit.report(bow_run)
    items = _check_page(chromium, page, "mistakes", shots)["items"]
    label = items[0]["f"]["truth"][0]
    _choose(chromium, "mistakes", "truth", label)
    expected = sum(label in i["f"]["truth"] for i in items)
    assert _count(chromium, "mistakes") == expected < len(items)
    _choose(chromium, "mistakes", "truth", "")
    _set_number(chromium, "#mistakes [data-score='min']", 0.5)
    assert _count(chromium, "mistakes") == sum(i["score"] >= 0.5 for i in items)
    # sorting the per-class table by support, both ways
    header = chromium.find_element("css selector", "#per-class thead th:nth-child(5)")
    assert header.text.startswith("support")
    chromium.execute_script("arguments[0].scrollIntoView()", header)
    header.click()
    up = [int(v) for v in _column(chromium, "per-class", 5)]
    assert up == sorted(up) and header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert [int(v) for v in _column(chromium, "per-class", 5)] == sorted(up, reverse=True)
    from browser import console_errors

    assert console_errors(chromium) == []


def test_multilabel_report_in_chromium(chromium, tagger_run, shots):
    page = artkit.report(tagger_run)
    items = _check_page(chromium, page, "mistakes", shots)["items"]
    label = items[0]["f"]["pred"][0]
    _choose(chromium, "mistakes", "pred", label)
    assert _count(chromium, "mistakes") == sum(label in i["f"]["pred"] for i in items)


def test_predictions_report_in_chromium(chromium, prediction_files, shots, home):
    page = artkit.report(prediction_files["json"], home / "browse.html", thumbnails="folder")
    items = _check_page(chromium, page, "predictions", shots)["items"]
    broken = chromium.find_elements("css selector", "#predictions .tile.broken")
    assert len(broken) == 1 and "file not found" in broken[0].text
    label = items[-1]["f"]["pred"][0]
    _choose(chromium, "predictions", "pred", label)
    assert _count(chromium, "predictions") == sum(label in i["f"]["pred"] for i in items)
    _set_number(chromium, "#predictions [data-score='max']", 0.5)
    assert _count(chromium, "predictions") == sum(
        label in i["f"]["pred"] and i["score"] <= 0.5 for i in items)
    images = chromium.execute_script(
        "return Array.from(document.querySelectorAll('#predictions img'))"
        ".map(i => [i.complete, i.naturalWidth])")
    assert images and all(done and width > 0 for done, width in images)


def test_boxes_report_in_chromium(chromium, boxes_file, shots):
    page = artkit.report(boxes_file)
    items = _check_page(chromium, page, "photos", shots)["items"]
    drawn = chromium.find_elements("css selector", "#photos svg.boxes rect")
    assert len(drawn) == sum(len(i["boxes"]) for i in items)
    _choose(chromium, "photos", "kind", "missed a painting")
    assert _count(chromium, "photos") == sum("missed a painting" in i["f"]["kind"]
                                             for i in items) < len(items)
    _set_number(chromium, "#photos [data-box-min]", 0.5)
    shown = chromium.find_elements("css selector", "#photos svg.boxes rect.pred, "
                                   "#photos svg.boxes rect.false")
    assert all(float(r.get_attribute("height")) > 0 for r in shown)
    assert len(shown) < sum(b[4] in ("pred", "false") for i in items for b in i["boxes"])
