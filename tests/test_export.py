"""`artkit export onnx`: self-checked files with artkit metadata, atomic writes, int8, and
Keras-vs-onnxruntime agreement for every model plugin that can export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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

    from artkit.data.decode import load_resized
    from artkit.formats.model_card import ModelCard

    out = tmp_path / "models" / "tiny.onnx"
    result = runner.invoke(app, ["export", "onnx", str(tiny_run.dir), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "self-check on 16 test images: passed" in result.output
    card = ModelCard.read(out)
    config = tiny_run.config
    assert card.labels == config.labels and card.task == "multiclass"
    assert card.model == "tiny-cnn" and card.input_kind == "image"
    assert card.input_size == tuple(SIZE) and card.colour_order == "RGB"
    assert card.preprocessing["std"] == [0.25, 0.25, 0.25]
    assert card.outputs == ["cams", "scores"] and card.decision is None
    assert card.test_metrics == {"accuracy": 0.5} and card.run == tiny_run.name
    assert card.schema_version == 2
    assert 0 <= card.self_check["max_abs_diff"]["scores"] < 1e-4

    # independent of the self-check: onnxruntime on raw pixels vs the trained Keras model
    test_paths = [Path(config.data) / p for p in tiny_run.read_json("split.json")["test"]]
    images = np.stack([load_resized(p, SIZE)[0] for p in test_paths[:6]])
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    scores, cams = session.run(["scores", "cams"], {"images": images.astype(np.float32)})
    from artkit import registry

    keras_scores = registry.get("model", "tiny-cnn").load(tiny_run).predict_paths(test_paths[:6])
    np.testing.assert_allclose(scores, keras_scores, atol=1e-5)
    assert cams.shape == (6, 10, 10, len(config.labels))


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


def _stored_metadata(path: Path) -> dict:
    """The artkit JSON in the file's metadata_props, read without artkit."""
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    return json.loads(props["artkit"])


def test_int8_quantization_reports_and_keeps_metadata(tiny_run, tmp_path: Path) -> None:
    """With --quantize int8 the file the user names is the int8 model; the float model it
    was quantized from is kept beside it as X.float.onnx."""
    import onnx
    import onnxruntime as ort

    out = tmp_path / "q" / "tiny.onnx"
    result = runner.invoke(app, ["export", "onnx", str(tiny_run.dir), "-o", str(out),
                                 "--quantize", "int8", "--calibration-images", "16"])
    assert result.exit_code == 0, result.output
    float_model = tmp_path / "q" / "tiny.float.onnx"
    assert _onnx_files(tmp_path / "q") == [float_model, out]  # no temporaries, no .int8.onnx
    assert "file size int8 / float" in result.output and "change in test accuracy" in result.output
    printed = " ".join(result.output.split())
    assert f"wrote {out} (int8," in printed and f"wrote {float_model} (the float" in printed

    int8_meta, float_meta = _stored_metadata(out), _stored_metadata(float_model)
    assert int8_meta["quantization"]["calibration_images"] == 16
    assert int8_meta["quantization"]["float_model"] == "tiny.float.onnx"
    assert "quantization" not in float_meta
    assert int8_meta["labels"] == float_meta["labels"] == tiny_run.config.labels
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    float_ops = {node.op_type for node in onnx.load(str(float_model)).graph.node}
    assert "QuantizeLinear" not in float_ops
    images = np.random.default_rng(0).uniform(0, 255, (4, *SIZE, 3)).astype(np.float32)
    run = {k: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
           .run(["scores"], {"images": images})[0] for k, p in (("f", float_model), ("q", out))}
    np.testing.assert_allclose(run["q"].sum(axis=1), 1.0, atol=0.02)  # uint8 output steps
    assert np.abs(run["q"] - run["f"]).max() < 0.2  # int8 approximates, it does not invent


def test_int8_default_name_is_the_int8_model(tiny_run, tmp_path: Path) -> None:
    """Without --output, exported/<run>.onnx is the int8 model too."""
    result = runner.invoke(app, ["export", "onnx", str(tiny_run.dir), "--quantize", "int8",
                                 "--calibration-images", "8", "--check-images", "2"])
    assert result.exit_code == 0, result.output
    named = Path("exported") / f"{tiny_run.name}.onnx"
    beside = Path("exported") / f"{tiny_run.name}.float.onnx"
    assert _onnx_files(Path("exported")) == sorted([named, beside])
    assert "quantization" in _stored_metadata(named)
    assert "quantization" not in _stored_metadata(beside)


def test_failed_quantization_writes_neither_file(tiny_run, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from artkit.onnx_export import quantize

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(quantize, "quantize_file", broken)
    out = tmp_path / "q" / "tiny.onnx"
    result = runner.invoke(app, ["export", "onnx", str(tiny_run.dir), "-o", str(out),
                                 "--quantize", "int8", "--check-images", "2"])
    assert result.exit_code == 130
    assert _onnx_files(tmp_path / "q") == []


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


def test_model_card_round_trip_and_atomic_update(tiny_run, tmp_path: Path) -> None:
    from artkit.decisions.rule import DecisionRule
    from artkit.formats.model_card import ModelCard, NotArtkitModelError

    out = tmp_path / "m.onnx"
    assert runner.invoke(app, ["export", "onnx", str(tiny_run.dir), "-o", str(out),
                               "--check-images", "2"]).exit_code == 0
    card = ModelCard.read(out)
    per_label = tuple(round(0.1 + 0.05 * i, 2) for i in range(len(card.labels)))
    card.replace(decision=DecisionRule(per_label, max_labels=3)).write(out)
    again = ModelCard.read(out)
    assert again.decision == DecisionRule(per_label, min_labels=1, max_labels=3)
    assert again.labels == tiny_run.config.labels  # the rest is untouched
    assert again.self_check == card.self_check
    # a rule that does not fit the labels never reaches the file
    before = out.read_bytes()
    broken = again.replace(decision=DecisionRule((0.5,)))
    import onnx

    model = onnx.load(str(out))
    broken.embed(model)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(model.SerializeToString())
    with pytest.raises(NotArtkitModelError, match="1 thresholds for"):
        ModelCard.read(bad)
    assert out.read_bytes() == before


def test_metadata_errors_are_one_line(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    from artkit.errors import ArtkitError
    from artkit.formats.model_card import ModelCard, NotArtkitModelError

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    plain = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph), str(plain))
    with pytest.raises(NotArtkitModelError, match="no artkit metadata"):
        ModelCard.read(plain)
    (tmp_path / "text.onnx").write_text("hello")
    with pytest.raises(NotArtkitModelError, match="not a readable ONNX file"):
        ModelCard.read(tmp_path / "text.onnx")
    with pytest.raises(ArtkitError, match="model file not found"):
        ModelCard.read(tmp_path / "missing.onnx")


def test_unfinished_run_and_model_without_export(tiny_run, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "runs" / "tiny-cnn" / "7"
    shutil.copytree(tiny_run.dir, copy)
    (copy / "metrics.json").unlink()
    result = runner.invoke(app, ["export", "onnx", str(copy)])
    assert result.exit_code == 1 and "did not finish" in " ".join(result.output.split())


# Tiny values for the options model plugins commonly declare; each plugin gets the ones it
# has. Networks take their smallest input size (`min_input_size`).
TINY_OPTIONS = {"epochs": 1, "batch_size": 16, "patience": 0, "alpha": 0.25, "weights": "none",
                "cam_filters": 16, "vocab": "8", "grid_c": "1", "grid_gamma": "scale",
                "cv_folds": 2, "kmeans_sample": 2000, "workers": 1}


def _exportable_plugins() -> list[str]:
    """Every model plugin that exports (about 2.5 min for all five on 2 idle cores, most of
    it tracing InceptionV3); a new plugin is covered without touching this test."""
    from artkit import registry

    return sorted(name for name, info in registry.of_kind("model").items()
                  if callable(getattr(info.obj, "export_onnx", None)) and name != "tiny-cnn")


@pytest.mark.slow
@pytest.mark.parametrize("model_name", _exportable_plugins())
def test_every_model_plugin_exports_and_agrees(model_name: str, synth_multiclass: Path,
                                               tmp_path: Path) -> None:
    """The original framework and onnxruntime agree on test images for each model plugin
    (the export's own self-check, then an independent check of the written file)."""
    from artkit import registry
    from artkit.formats.model_card import ModelCard

    plugin = registry.get("model", model_name)
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
    card = ModelCard.read(out)
    assert card.model == model_name and card.labels == run.config.labels
    assert max(card.self_check["max_abs_diff"].values()) < 1e-4

    # `artkit predict` from the file alone agrees with the plugin's own predictor
    dataset_root = Path(run.config.data)
    paths = [dataset_root / p for p in run.read_json("split.json")["test"]][:8]
    listing = tmp_path / "images.txt"
    listing.write_text("\n".join(map(str, paths)) + "\n")
    result = runner.invoke(app, ["predict", str(listing), "-m", str(out), "-o",
                                 str(tmp_path / "p.jsonl"), "--strict", "--quiet"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [r["path"] for r in rows] == [str(p) for p in paths]
    got = np.array([[r["scores"][label] for label in card.labels] for r in rows])
    want = plugin.load(run).predict_paths(paths)
    np.testing.assert_allclose(got, want, atol=1e-4)


QUIET_EXPORTS = """
import sys

import artkit
from artkit import registry

registry.get_registry()  # what every call does first: load the plugins
import tensorflow  # its start-up lines (C++, before absl::InitializeLog) precede any setting

print("--- exports ---", file=sys.stderr, flush=True)
run, out = sys.argv[1], sys.argv[2]
artkit.export(run, f"{out}/embedding.onnx", embedding=True, check_images=4)
artkit.export(run, f"{out}/model.onnx", check_images=4)
"""


@pytest.mark.slow
def test_the_api_exports_without_a_word(synth_multiclass: Path, tmp_path: Path) -> None:
    """Nothing on stdout or stderr from API exports: no Keras warning naming site-packages,
    no TensorFlow or absl log line. In a fresh process, so that TensorFlow starts as an
    artkit user's would, not with whatever settings this test process gave it."""
    import artkit

    run = artkit.train("linear-probe", data=synth_multiclass, weights="none", alpha=0.25,
                       input_size=32, stages=1)
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "ARTKIT_DEBUG")}
    done = subprocess.run([sys.executable, "-c", QUIET_EXPORTS, str(run.dir), str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.split("--- exports ---\n", 1)[1] == ""
    assert (tmp_path / "embedding.onnx").is_file() and (tmp_path / "model.onnx").is_file()
