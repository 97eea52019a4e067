"""`artkit export onnx`: self-checked files with artkit metadata, atomic writes, int8, and
Keras-vs-onnxruntime agreement for every model plugin that can export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from onnx_helpers import SIZE, finished_run, register_tiny_plugin
from typer.testing import CliRunner

from artkit.cli.main import app

pytest.importorskip("tf2onnx")
runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_run(synth_multiclass: Path, tmp_path_factory: pytest.TempPathFactory):
    register_tiny_plugin()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARTKIT_RUNS", str(tmp_path_factory.mktemp("export-runs")))
        yield finished_run("tiny-cnn", synth_multiclass)


def _onnx_files(folder: Path) -> list[Path]:
    """Every ONNX file, hidden temporaries included (pathlib's glob matches dot files)."""
    return sorted(folder.rglob("*.onnx")) if folder.exists() else []


def test_export_writes_a_checked_self_describing_model(tiny_run, tmp_path: Path) -> None:
    import onnxruntime as ort

    from artkit.data.decode import decode_image, resize_to
    from artkit.runtime.metadata import read_metadata

    out = tmp_path / "models" / "tiny.onnx"
    result = runner.invoke(app, ["export", "onnx", str(tiny_run.dir), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "self-check on 16 test images: passed" in result.output
    meta = read_metadata(out)
    config = tiny_run.config
    assert meta["labels"] == config["labels"] and meta["task"] == "multiclass"
    assert meta["model"] == "tiny-cnn" and meta["input_kind"] == "image"
    assert meta["input_size"] == list(SIZE) and meta["colour_order"] == "RGB"
    assert meta["preprocessing"]["std"] == [0.25, 0.25, 0.25]
    assert meta["outputs"] == ["cams", "scores"]
    assert meta["test_metrics"] == {"accuracy": 0.5} and meta["run"] == tiny_run.name
    assert 0 <= meta["self_check"]["max_abs_diff"]["scores"] < 1e-4

    # independent of the self-check: onnxruntime on raw pixels vs the trained Keras model
    test_paths = [Path(config["data"]) / p for p in tiny_run.read_json("split.json")["test"]]
    images = np.stack([resize_to(decode_image(p), SIZE) for p in test_paths[:6]])
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    scores, cams = session.run(["scores", "cams"], {"images": images.astype(np.float32)})
    from artkit import plugins

    keras_scores = plugins.get("model", "tiny-cnn").load(tiny_run).predict_paths(test_paths[:6])
    np.testing.assert_allclose(scores, keras_scores, atol=1e-5)
    assert cams.shape == (6, 10, 10, len(config["labels"]))


def test_default_run_and_name(tiny_run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTKIT_RUNS", str(tiny_run.dir.parent.parent))
    result = runner.invoke(app, ["export", "onnx", "--check-images", "4"])
    assert result.exit_code == 0, result.output
    assert Path("exported", f"{tiny_run.name}.onnx").is_file()


def test_failed_self_check_leaves_no_file(tiny_run, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from onnx_helpers import TinyCnn

    real = TinyCnn.export_onnx

    def drifting(self, run, opset):
        graph = real(self, run, opset)
        reference = graph.reference
        graph.reference = lambda x: {k: v + 3e-4 for k, v in reference(x).items()}
        return graph

    monkeypatch.setattr(TinyCnn, "export_onnx", drifting)
    result = runner.invoke(app, ["export", "onnx", str(tiny_run.dir), "-o",
                                 str(tmp_path / "out" / "m.onnx")])
    assert result.exit_code == 1
    flat = " ".join(result.output.split())  # rich wraps long lines
    assert "self-check failed" in flat and "0.0003" in flat
    assert "Traceback" not in result.output
    assert _onnx_files(tmp_path / "out") == []


def test_interrupted_write_leaves_no_onnx(tiny_run, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import onnx

    def torn_save(model, path, *args, **kwargs):
        Path(path).write_bytes(model.SerializeToString()[:100])
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx, "save", torn_save)
    result = runner.invoke(app, ["export", "onnx", str(tiny_run.dir), "-o",
                                 str(tmp_path / "out" / "m.onnx")])
    assert result.exit_code == 130
    assert _onnx_files(tmp_path / "out") == []


def test_int8_quantization_reports_and_keeps_metadata(tiny_run, tmp_path: Path) -> None:
    import onnxruntime as ort

    from artkit.runtime.metadata import read_metadata

    out = tmp_path / "q" / "tiny.onnx"
    result = runner.invoke(app, ["export", "onnx", str(tiny_run.dir), "-o", str(out),
                                 "--quantize", "int8", "--calibration-images", "16"])
    assert result.exit_code == 0, result.output
    int8 = tmp_path / "q" / "tiny.int8.onnx"
    assert "file size int8 / float" in result.output and "change in test accuracy" in result.output
    meta = read_metadata(int8)
    assert meta["labels"] == read_metadata(out)["labels"]
    assert meta["quantization"]["calibration_images"] == 16
    ops = {node.op_type for node in __import__("onnx").load(str(int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    images = np.random.default_rng(0).uniform(0, 255, (4, *SIZE, 3)).astype(np.float32)
    run = {k: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
           .run(["scores"], {"images": images})[0] for k, p in (("f", out), ("q", int8))}
    np.testing.assert_allclose(run["q"].sum(axis=1), 1.0, atol=0.02)  # uint8 output steps
    assert np.abs(run["q"] - run["f"]).max() < 0.2  # int8 approximates, it does not invent


def test_quantize_refused_for_unquantizable_graph(tiny_run, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from onnx_helpers import TinyCnn

    real = TinyCnn.export_onnx

    def svm_like(self, run, opset):
        graph = real(self, run, opset)
        graph.quantizable = False
        return graph

    monkeypatch.setattr(TinyCnn, "export_onnx", svm_like)
    result = runner.invoke(app, ["export", "onnx", str(tiny_run.dir), "-o",
                                 str(tmp_path / "m.onnx"), "--quantize", "int8"])
    assert result.exit_code == 1 and "not offered" in " ".join(result.output.split())
    assert _onnx_files(tmp_path) == []


def test_metadata_round_trip_and_atomic_update(tiny_run, tmp_path: Path) -> None:
    from artkit.errors import ArtkitError
    from artkit.runtime.metadata import read_metadata, write_metadata

    out = tmp_path / "m.onnx"
    assert runner.invoke(app, ["export", "onnx", str(tiny_run.dir), "-o", str(out),
                               "--check-images", "2"]).exit_code == 0
    n = len(read_metadata(out)["labels"])
    per_label = [round(0.1 + 0.05 * i, 2) for i in range(n)]
    write_metadata(out, {"thresholds": {"per_label": per_label}, "max_labels": 3})
    meta = read_metadata(out)
    assert meta["thresholds"] == {"per_label": per_label} and meta["max_labels"] == 3
    assert meta["labels"] == tiny_run.config["labels"]  # the rest is untouched
    before = out.read_bytes()
    with pytest.raises(ArtkitError, match="per-label thresholds"):
        write_metadata(out, {"thresholds": {"per_label": [0.5]}})
    assert out.read_bytes() == before
    write_metadata(out, {"max_labels": None})
    assert "max_labels" not in read_metadata(out)


def test_metadata_errors_are_one_line(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    from artkit.errors import ArtkitError
    from artkit.runtime.metadata import NotArtkitModelError, read_metadata

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    plain = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph), str(plain))
    with pytest.raises(NotArtkitModelError, match="no artkit metadata"):
        read_metadata(plain)
    (tmp_path / "text.onnx").write_text("hello")
    with pytest.raises(NotArtkitModelError, match="not a readable ONNX file"):
        read_metadata(tmp_path / "text.onnx")
    with pytest.raises(ArtkitError, match="model file not found"):
        read_metadata(tmp_path / "missing.onnx")


def test_unfinished_run_and_model_without_export(tiny_run, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "runs" / "tiny-cnn" / "7"
    shutil.copytree(tiny_run.dir, copy)
    (copy / "metrics.json").unlink()
    result = runner.invoke(app, ["export", "onnx", str(copy)])
    assert result.exit_code == 1 and "did not finish" in " ".join(result.output.split())


# Tiny values for the options model plugins commonly declare; each plugin gets the ones it
# has. Networks take their smallest input size (`min_input_size`).
TINY_OPTIONS = {"epochs": 1, "batch_size": 16, "patience": 0, "alpha": 0.25,
                "cam_filters": 16, "vocab": "8", "grid_c": "1", "grid_gamma": "scale",
                "cv_folds": 2, "kmeans_sample": 2000, "workers": 1}


def _exportable_plugins() -> list[str]:
    """Every model plugin that exports (about 2.5 min for all five on 2 idle cores, most of
    it tracing InceptionV3); a new plugin is covered without touching this test."""
    from artkit import plugins

    return sorted(name for name, info in plugins.of_kind("model").items()
                  if callable(getattr(info.obj, "export_onnx", None)) and name != "tiny-cnn")


@pytest.mark.slow
@pytest.mark.parametrize("model_name", _exportable_plugins())
def test_every_model_plugin_exports_and_agrees(model_name: str, synth_multiclass: Path,
                                               tmp_path: Path) -> None:
    """The original framework and onnxruntime agree on test images for each model plugin
    (the export's own self-check, then an independent check of the written file)."""
    from artkit import plugins
    from artkit.runtime.metadata import read_metadata

    plugin = plugins.get("model", model_name)
    declared = {spec.name: spec for spec in plugin.options}
    options = {name: spec.default for name, spec in declared.items()}
    options.update({k: v for k, v in TINY_OPTIONS.items() if k in declared})
    if "input_size" in declared:
        options["input_size"] = getattr(plugin, "min_input_size", 32)
    run = finished_run(model_name, synth_multiclass, options=options)
    out = tmp_path / f"{model_name}.onnx"
    result = runner.invoke(app, ["export", "onnx", str(run.dir), "-o", str(out),
                                 "--check-images", "8"])
    assert result.exit_code == 0, result.output
    meta = read_metadata(out)
    assert meta["model"] == model_name and meta["labels"] == run.config["labels"]
    assert max(meta["self_check"]["max_abs_diff"].values()) < 1e-4

    # `artkit predict` from the file alone agrees with the plugin's own predictor
    dataset_root = Path(run.config["data"])
    paths = [dataset_root / p for p in run.read_json("split.json")["test"]][:8]
    listing = tmp_path / "images.txt"
    listing.write_text("\n".join(map(str, paths)) + "\n")
    result = runner.invoke(app, ["predict", str(listing), "-m", str(out), "-o",
                                 str(tmp_path / "p.jsonl"), "--strict", "--quiet"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [r["path"] for r in rows] == [str(p) for p in paths]
    got = np.array([[r["scores"][label] for label in meta["labels"]] for r in rows])
    want = plugin.load(run).predict_paths(paths)
    np.testing.assert_allclose(got, want, atol=1e-4)
