"""`artkit detect` and `artkit evaluate-detect` against the API calls with the same
arguments, each in its own folder: the same files (the boxes json and csv byte for byte,
the metrics parsed equal, the same overlays, crops and plots), and the report of a boxes
file that the API alone wrote."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import artkit
from artkit.cli.main import build_app

runner = CliRunner()


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def rooms(synth_detection: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The synthetic rooms (and one broken file: skipped alike), and their annotations."""
    photos = Path(shutil.copytree(synth_detection / "images", tmp_path / "rooms"))
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    return photos, synth_detection / "annotations_coco.json"


@pytest.mark.parametrize("method, cli_extra, api_extra", [
    # the defaults: the bundled detector, frames+cnn, its min_score
    (None, ["--crops", "crops", "--max-det", "3"], {"crops": "crops", "max_det": 3}),
    # a CAM method with a threshold sweep and a reported score of its own
    ("cam", ["--sweep-threshold", "--threshold", "0.1"], {"sweep": True, "min_score": 0.1}),
])
def test_detect_command_and_api_write_the_same_files(
        rooms: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        method: str | None, cli_extra: list[str], api_extra: dict) -> None:
    photos, gt = rooms
    chosen = ["--method", method] if method else []
    folders = {"cli": tmp_path / "cli", "api": tmp_path / "api"}
    for folder in folders.values():
        folder.mkdir()
    monkeypatch.chdir(folders["cli"])
    result = runner.invoke(build_app(), ["detect", str(photos), *chosen, "--output",
                                         "boxes.json", "--gt", str(gt), "--save-vis", "vis",
                                         "--quiet", *cli_extra])
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(folders["api"])
    found = artkit.detect(str(photos), method=method, output="boxes.json", gt=gt,
                          save_vis="vis", **api_extra)
    assert len(list(found)) == 13 and [d.path.name for d in found.skipped] == ["broken.jpg"]

    cli, api = folders["cli"], folders["api"]
    assert _files(cli) == _files(api)
    assert "boxes.metrics.json" in _files(api) and len(found.paths.overlays) == 12
    for name in ("boxes.json", "boxes.csv"):
        assert (cli / name).read_bytes() == (api / name).read_bytes(), name
    stored = json.loads((api / "boxes.metrics.json").read_text())
    assert json.loads((cli / "boxes.metrics.json").read_text()) == stored
    assert stored["metrics"] == pytest.approx(found.metrics, nan_ok=True)
    assert stored["method"] == found.method.name and stored["min_score"] == found.min_score
    assert len(stored["photos"]) == 12 and stored["gt"] == str(gt)
    if method == "cam":
        assert stored["min_score"] == 0.1 and len(stored["sweep"]["rows"]) >= 19
        assert "boxes-eval/threshold_sweep.png" in _files(api)
    else:
        assert found.paths.crops and all(isinstance(p, Path) for p in found.paths.crops)
        assert _files(api / "crops") == sorted(p.name for p in found.paths.crops)

    # evaluate-detect and evaluate_boxes on each folder's own boxes file
    monkeypatch.chdir(cli)
    result = runner.invoke(build_app(), ["evaluate-detect", "boxes.json", "--gt", str(gt),
                                         "--out", "eval"])
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(api)
    scored = artkit.evaluate_boxes("boxes.json", gt, out="eval")
    assert scored.path == Path("eval/metrics.json")
    assert _files(cli / "eval") == _files(api / "eval") == ["metrics.json", "pr_curve.png"]
    evaluated = json.loads((api / "eval" / "metrics.json").read_text())
    assert json.loads((cli / "eval" / "metrics.json").read_text()) == evaluated
    # the same shape as detect's, every annotated photo counted (12: the photos detect read)
    assert evaluated.keys() == stored.keys() and evaluated["photos"] is None
    assert evaluated["metrics"]["ap50"] == pytest.approx(stored["metrics"]["ap50"])


def test_the_report_opens_a_boxes_file_the_api_wrote(rooms: tuple[Path, Path]) -> None:
    photos, gt = rooms
    found = artkit.detect(photos, method="frames", output="api/boxes.json", gt=gt)
    paths = found.paths  # runs every photo, then writes
    assert paths.boxes == Path("api/boxes.json") and paths.csv == Path("api/boxes.csv")
    assert paths.metrics == Path("api/boxes.metrics.json")
    page = artkit.report(paths.boxes)  # the annotations recorded in the metrics file
    text = page.read_text(encoding="utf-8")
    assert f"{found.metrics['ap50']:.4f}" in text and "frames" in text
    assert str(gt) in text
