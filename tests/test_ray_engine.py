"""`--engine ray`: predict and detect on a local Ray instance (two CPUs) give the local
engine's output files byte for byte, in the same order, with the same failures."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from onnx_helpers import finished_run, register_tiny_plugin
from typer.testing import CliRunner

from artkit.cli.main import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def loud() -> None:
    from artkit.console import set_quiet

    set_quiet(False)


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance with two CPUs for the module (the engine joins it)."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def cam_model(synth_multiclass: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny exported network with scores and a 'cams' output."""
    pytest.importorskip("tf2onnx")
    from artkit.onnx_export.run_export import export_run

    register_tiny_plugin()
    folder = tmp_path_factory.mktemp("ray-model")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARTKIT_RUNS", str(folder / "runs"))
        export_run(finished_run("tiny-cnn", synth_multiclass), output=folder / "m.onnx",
                   check_images=2)
    return folder / "m.onnx"


def with_broken_files(folder: Path) -> Path:
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (folder / "empty.png").write_bytes(b"")
    return folder


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def failure_lines(output: str) -> list[str]:
    return sorted(part.split(":")[0].strip() for part in output.split("failed: ")[1:])


def test_predict_on_ray_equals_local(local_ray, cam_model: Path, synth_multiclass: Path,
                                     tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    for i, source in enumerate(sorted(synth_multiclass.rglob("*.jpg"))[:23]):
        shutil.copy(source, photos / ("sub" if i % 3 else ".") / f"p{i:02d}.jpg")
    with_broken_files(photos)
    outputs = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.jsonl"
        text = invoke("predict", str(photos), "-m", str(cam_model), "-o", str(out),
                      "--batch-size", "4", "--engine", engine)
        outputs[engine] = (out.read_bytes(), failure_lines(text))
        assert "23 images scored" in text and "2 failed" in text
    assert outputs["ray"] == outputs["local"]
    assert outputs["local"][1] == [str(photos / "corrupt.jpg"), str(photos / "empty.png")]


@pytest.mark.parametrize("method, extra", [
    ("cam+frames", ["--class", "landscape", "--save-vis"]),
    ("frames", []),
])
def test_detect_on_ray_equals_local(local_ray, cam_model: Path, synth_detection: Path,
                                    tmp_path: Path, method: str, extra: list[str]) -> None:
    photos = with_broken_files(Path(shutil.copytree(synth_detection / "images",
                                                    tmp_path / "rooms")))
    results = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        args = ["detect", str(photos), "--method", method, "-o", str(out / "boxes.json"),
                "--batch-size", "5", "--engine", engine, "--quiet"]
        if method != "frames":
            args += ["--model", str(cam_model)]
        args += [*extra, str(out / "vis")] if "--save-vis" in extra else extra
        text = invoke(*args)
        assert "skipped 2 file(s)" in text
        files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
        results[engine] = {f: (out / f).read_bytes() for f in files}
    assert results["ray"].keys() == results["local"].keys()
    assert results["ray"] == results["local"]
    if "--save-vis" in extra:
        assert sum(1 for f in results["ray"] if f.parts[0] == "vis") == 12


def test_missing_ray_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    image = tmp_path / "a.jpg"
    image.write_bytes(b"")
    result = runner.invoke(app, ["detect", str(image), "--method", "frames", "--engine", "ray",
                                 "-o", str(tmp_path / "b.json")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    flat = " ".join(result.output.split())
    assert "--engine ray needs Ray" in flat and "pip install 'artkit[ray]'" in flat
    assert not (tmp_path / "b.json").exists()


def test_unreachable_cluster_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    import socket

    ray = pytest.importorskip("ray")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # even beside local_ray
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    image = tmp_path / "a.jpg"
    image.write_bytes(b"")
    for address, message in ((f"127.0.0.1:{port}", "cannot reach the Ray cluster"),
                             ("nonsense", "expected auto, HOST:PORT")):
        result = runner.invoke(app, ["detect", str(image), "--method", "frames", "--engine",
                                     "ray", "--ray-address", address,
                                     "-o", str(tmp_path / "b.json")])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert message in " ".join(result.output.split())
