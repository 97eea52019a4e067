"""`artkit predict` from an ONNX file alone: inputs, broken files, output formats, order,
resume, multi-label decisions, errors, and no TensorFlow on the path."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from onnx_helpers import SIZE, exported_tiny_model
from typer.testing import CliRunner

from artkit.cli.common import ExitCode
from artkit.cli.main import app
from artkit.decisions.rule import DecisionRule

pytest.importorskip("tf2onnx")
runner = CliRunner()


@pytest.fixture(autouse=True)
def loud() -> None:
    """`--quiet` is process-wide state; an earlier invocation must not silence the next."""
    from artkit.console import set_quiet

    set_quiet(False)


@pytest.fixture(scope="module")
def multiclass_model(synth_multiclass: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported_tiny_model(synth_multiclass, tmp_path_factory.mktemp("predict-mc"),
                               "mc.onnx")


@pytest.fixture(scope="module")
def multilabel_model(synth_multilabel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported_tiny_model(synth_multilabel, tmp_path_factory.mktemp("predict-ml"),
                               "ml.onnx", decision=DecisionRule(0.3))


@pytest.fixture
def photos(synth_multiclass: Path, tmp_path: Path) -> Path:
    """A folder of 7 good images in two levels, plus broken files and a sidecar file."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    sources = sorted(synth_multiclass.rglob("*.jpg"))[:7]
    for i, src in enumerate(sources):
        shutil.copy(src, folder / ("sub" if i % 2 else ".") / f"img{i}.jpg")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.jpg").write_text("a text file with an image suffix")
    (folder / "readme.txt").write_text("sidecar, ignored")
    (folder / ".hidden.jpg").write_bytes(sources[0].read_bytes())
    return folder


def _ort_scores(model: Path, paths: list[Path]) -> np.ndarray:
    import onnxruntime as ort

    from artkit.data.decode import load_resized

    images = np.stack([load_resized(p, SIZE)[0] for p in paths]).astype(np.float32)
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return session.run(["scores"], {"images": images})[0]


def test_folder_with_broken_files_to_csv(multiclass_model: Path, photos: Path) -> None:
    from artkit.formats.model_card import ModelCard

    out = photos.parent / "results.csv"
    result = runner.invoke(app, ["predict", str(photos), "--model", str(multiclass_model),
                                 "--output", str(out), "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    expected = sorted(p for p in photos.rglob("*.jpg") if not p.name.startswith(".")) + \
        [photos / "empty.png"]
    assert [r["path"] for r in rows] == [str(p) for p in sorted(expected)]
    status = {Path(r["path"]).name: (r["status"], r["error"]) for r in rows}
    assert status["corrupt.jpg"][0] == "error" and status["corrupt.jpg"][1]  # decoder's reason
    assert status["empty.png"] == ("error", "empty file")
    assert status["notes.jpg"] == ("error", "not an image (unknown format)")
    good = [r for r in rows if r["status"] == "ok"]
    assert len(good) == 7
    labels = ModelCard.read(multiclass_model).labels
    scores = np.array([[float(r[x]) for x in labels] for r in good])
    want = _ort_scores(multiclass_model, [Path(r["path"]) for r in good])
    np.testing.assert_allclose(scores, want, atol=1e-5)
    assert [r["labels"] for r in good] == [labels[i] for i in want.argmax(axis=1)]
    flat = " ".join(result.output.split())  # rich wraps long lines
    assert "3 failed" in flat and "empty.png: empty file" in flat

    strict = runner.invoke(app, ["predict", str(photos), "-m", str(multiclass_model),
                                 "--strict", "--quiet"])
    assert strict.exit_code == ExitCode.PARTIAL == 3


def test_json_and_jsonl_keep_the_input_order(multiclass_model: Path, photos: Path) -> None:
    from artkit.formats.model_card import ModelCard

    labels = ModelCard.read(multiclass_model).labels
    listing = photos / "list.txt"
    listing.write_text("# chosen files\nsub/img3.jpg\n\nimg0.jpg\nempty.png\n")
    tail = photos.parent / "tail.txt"  # a listed path that does not exist: a skipped row
    tail.write_text("photos/missing.jpg\n")
    inputs = [str(photos / "sub" / "img1.jpg"), str(listing), str(photos / "img*.jpg"),
              str(tail)]
    expected = [photos / "sub" / "img1.jpg", photos / "sub" / "img3.jpg", photos / "img0.jpg",
                photos / "empty.png", photos / "img0.jpg", photos / "img2.jpg",
                photos / "img4.jpg", photos / "img6.jpg", photos / "missing.jpg"]
    for suffix in (".json", ".jsonl"):
        out = photos.parent / f"results{suffix}"
        result = runner.invoke(app, ["predict", *inputs, "-m", str(multiclass_model),
                                     "-o", str(out), "-b", "2", "--workers", "3"])
        assert result.exit_code == 0, result.output
        if suffix == ".json":
            document = json.loads(out.read_text())
            assert document["labels"] == labels and document["task"] == "multiclass"
            records = document["results"]
            assert not out.with_name(out.name + ".partial.jsonl").exists()
        else:
            records = [json.loads(line) for line in out.read_text().splitlines()]
        assert [r["path"] for r in records] == [str(p) for p in expected]
        assert records[-1] == {"path": str(photos / "missing.jpg"), "status": "error",
                               "error": "file not found"}
        ok = [r for r in records if r["status"] == "ok"]
        assert list(ok[0]["scores"]) == labels
        got = np.array([[r["scores"][x] for x in labels] for r in ok])
        np.testing.assert_allclose(got, _ort_scores(multiclass_model,
                                                    [Path(r["path"]) for r in ok]), atol=1e-5)


def test_resume_appends_only_what_is_missing(multiclass_model: Path, photos: Path) -> None:
    out = photos.parent / "r.jsonl"
    args = ["predict", str(photos), "-m", str(multiclass_model), "-o", str(out), "-b", "2"]
    assert runner.invoke(app, args).exit_code == 0
    complete = out.read_text().splitlines()
    # an interrupted run: three rows written, the fourth torn mid-line
    out.write_text("\n".join(complete[:3]) + "\n" + complete[3][:25])
    result = runner.invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    assert "3 files already in" in " ".join(result.output.split())
    assert out.read_text().splitlines() == complete

    csv_out = photos.parent / "r.csv"
    assert runner.invoke(app, [*args[:-4], "-o", str(csv_out)]).exit_code == 0
    full = csv_out.read_text()
    csv_out.write_text("".join(full.splitlines(keepends=True)[:5]))
    assert runner.invoke(app, [*args[:-4], "-o", str(csv_out), "--resume"]).exit_code == 0
    assert csv_out.read_text() == full


def test_multilabel_uses_stored_thresholds_and_overrides(multilabel_model: Path,
                                                         synth_multilabel: Path,
                                                         tmp_path: Path) -> None:
    from artkit.formats.model_card import ModelCard

    card = ModelCard.read(multilabel_model)
    assert card.decision == DecisionRule(0.3)
    images = sorted((synth_multilabel / "images").iterdir())[:10]
    folder = tmp_path / "ml"
    folder.mkdir()
    for p in images:
        shutil.copy(p, folder / p.name)
    paths = sorted(folder.iterdir())
    scores = _ort_scores(multilabel_model, paths)
    labels = card.labels
    per_label = tuple(np.linspace(0.2, 0.8, len(labels)).round(3))
    card.replace(decision=DecisionRule(per_label)).write(multilabel_model)

    def predicted(*extra: str) -> list[set[str]]:
        out = tmp_path / "ml.jsonl"
        result = runner.invoke(app, ["predict", str(folder), "-m", str(multilabel_model),
                                     "-o", str(out), *extra])
        assert result.exit_code == 0, result.output
        return [set(json.loads(x)["labels"]) for x in out.read_text().splitlines()]

    def expected(thresholds, **kwargs) -> list[set[str]]:
        on = DecisionRule(thresholds, **kwargs).apply(scores)
        return [{labels[j] for j in np.flatnonzero(row)} for row in on]

    assert predicted() == expected(per_label, min_labels=1)
    assert predicted("--threshold", "0.05") == expected(0.05, min_labels=1)
    assert predicted("--threshold", "0.05", "--max-labels", "2") == \
        expected(0.05, min_labels=1, max_labels=2)
    assert predicted("--threshold", "0.99", "--min-labels", "0") == \
        expected(0.99, min_labels=0)


def _one_message(output: str) -> bool:
    """One error message and nothing else (rich may wrap it over terminal lines)."""
    return output.startswith("error:") and output.count("error:") == 1 and \
        "Traceback" not in output


def test_model_errors_are_one_line(tmp_path: Path, photos: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    missing = runner.invoke(app, ["predict", str(photos), "-m", str(tmp_path / "nope.onnx")])
    assert missing.exit_code == 1
    assert "model file not found" in " ".join(missing.output.split())
    assert _one_message(missing.output)
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    plain = tmp_path / "plain.onnx"
    model = helper.make_model(graph, ir_version=9, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(plain))
    other = runner.invoke(app, ["predict", str(photos), "-m", str(plain)])
    assert other.exit_code == 1
    assert "not an artkit model" in " ".join(other.output.split())  # rich wraps lines
    assert _one_message(other.output)
    nothing = runner.invoke(app, ["predict", str(tmp_path / "none*.jpg"), "-m", str(plain)])
    assert nothing.exit_code == 1 and "Traceback" not in nothing.output


def test_predict_never_imports_tensorflow(multiclass_model: Path, photos: Path) -> None:
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom artkit.cli.main import app\n"
            f"r = CliRunner().invoke(app, ['predict', {str(photos)!r}, '-m', "
            f"{str(multiclass_model)!r}, '--device', 'auto'])\n"
            "print(r.exit_code, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.split()[-3:] == ["0", "False", "False"], done.stdout + done.stderr
    # --device auto on a machine without a usable GPU: no CUDA error spam
    assert "CUDA" not in done.stderr and "cuda" not in done.stderr.lower()


def test_pipeline_streams_in_order_with_bounded_memory(tmp_path: Path) -> None:
    from artkit.runtime.pipeline import iter_batches

    alive, peak, lock = [0], [0], threading.Lock()

    def load(path: Path):
        if path.name.startswith("bad"):
            raise ValueError("broken on purpose")
        with lock:
            alive[0] += 1
            peak[0] = max(peak[0], alive[0])
        return np.full((2, 2, 3), int(path.stem.split("-")[1]), np.uint8), (2, 2)

    paths = [Path(f"{'bad' if i % 7 == 3 else 'ok'}-{i}") for i in range(200)]
    seen, failed = [], []
    for batch in iter_batches(paths, load, batch_size=8, workers=3, prefetch=2):
        assert list(batch.span) == sorted(batch.indices + [f.index for f in batch.failures])
        seen += [int(v) for v in batch.items[:, 0, 0, 0]] if len(batch) else []
        failed += [(f.index, f.reason) for f in batch.failures]
        with lock:
            alive[0] -= len(batch)
    assert seen == [i for i in range(200) if i % 7 != 3]
    assert failed[0] == (3, "ValueError: broken on purpose") and len(failed) == 29
    assert peak[0] <= 3 * 8  # never more than (prefetch + 1) batches loaded at once


def test_session_device_choice() -> None:
    from artkit.errors import ArtkitError
    from artkit.runtime.session import cuda_status, providers_for, session_options

    assert providers_for("cpu") == ["CPUExecutionProvider"]
    import onnxruntime as ort

    assert session_options().graph_optimization_level == \
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    usable, reason = cuda_status()
    if usable:
        pytest.skip("a GPU is usable here")
    assert providers_for("auto") == ["CPUExecutionProvider"]
    with pytest.raises(ArtkitError, match="--device cuda"):
        providers_for("cuda")
    assert reason


def test_benchmark_measures_the_exported_file(multiclass_model: Path, tmp_path: Path) -> None:
    import onnx

    from artkit.onnx_export.run_export import float_path

    shutil.copy(multiclass_model, tmp_path / "m.onnx")  # stands in for an int8 export
    shutil.copy(multiclass_model, float_path(tmp_path / "m.onnx"))
    out = tmp_path / "bench.json"
    result = runner.invoke(app, ["benchmark", str(tmp_path / "m.onnx"), "--n-photos", "8",
                                 "--rounds", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["measure"]: r["value"] for r in json.loads(out.read_text())["rows"]}
    assert all(rows[f"onnxruntime images/s, batch {b} (cpu)"] > 0 for b in (1, 8, 32))
    assert rows["artkit predict images/s (8 JPEGs, batch 32)"] > 0
    assert 0 < rows["artkit predict / onnxruntime alone"] < 2
    decode, ort = rows["decode + resize alone images/s (D)"], rows[
        "onnxruntime alone images/s, batch 32 (R)"]
    assert rows["limit 1 / (1/D + 1/R)"] == pytest.approx(1 / (1 / decode + 1 / ort))
    assert rows["artkit predict / limit"] == pytest.approx(
        rows["artkit predict images/s (8 JPEGs, batch 32)"] / rows["limit 1 / (1/D + 1/R)"])
    assert 20 < rows["peak RSS MB, predict on 8 files"] < 4000
    assert rows["int8 / float file size"] == 1.0
    assert onnx.load(str(tmp_path / "m.onnx")).graph.input[0].name == "images"


def test_a_missing_input_is_one_line_before_any_work(multiclass_model: Path, photos: Path,
                                                     tmp_path: Path) -> None:
    import artkit

    out = tmp_path / "never.csv"
    result = runner.invoke(app, ["predict", str(photos), "missing/", "-m",
                                 str(multiclass_model), "-o", str(out)])
    assert result.exit_code == ExitCode.FAILED
    assert _one_message(result.output) and "missing/: no such file or folder" in \
        " ".join(result.output.split())
    assert not out.exists() and not out.with_name("never.csv.lock").exists()
    model = artkit.load(multiclass_model)
    with pytest.raises(artkit.ArtkitError, match="missing/: no such file or folder"):
        model.predict("missing/", output=out)  # raised by the call, not the first row
    assert not out.exists()
    # a pattern that matches nothing: nothing to do, and still no file
    result = runner.invoke(app, ["predict", str(tmp_path / "none*.jpg"), "-m",
                                 str(multiclass_model), "-o", str(out)])
    assert result.exit_code == ExitCode.FAILED and "no images found" in result.output
    assert not out.exists()


def test_exit_status_says_what_happened(multiclass_model: Path, photos: Path,
                                        tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("corrupt.jpg", "empty.png", "notes.jpg"):
        shutil.copy(photos / name, broken / name)
    out = tmp_path / "broken.jsonl"
    for extra in ([], ["--strict"]):  # nothing scored: FAILED, strict or not
        result = runner.invoke(app, ["predict", str(broken), "-m", str(multiclass_model),
                                     "-o", str(out), *extra])
        assert result.exit_code == ExitCode.FAILED, result.output
        flat = " ".join(result.output.split())
        assert "0 images scored" in flat and "3 failed" in flat and "empty.png: empty" in flat
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert [r["status"] for r in rows] == ["error"] * 3  # the file lists them
    partial = ["predict", str(photos), "-m", str(multiclass_model), "--quiet"]
    assert runner.invoke(app, partial).exit_code == ExitCode.OK
    assert runner.invoke(app, [*partial, "--strict"]).exit_code == ExitCode.PARTIAL
    whole = ["predict", str(photos / "img0.jpg"), "-m", str(multiclass_model), "--strict"]
    assert runner.invoke(app, whole).exit_code == ExitCode.OK


def test_the_api_writes_the_file_and_sums_up(multiclass_model: Path, photos: Path,
                                             tmp_path: Path) -> None:
    import artkit

    model = artkit.load(multiclass_model)
    out = tmp_path / "api.json"
    predictions = model.predict(photos, output=out, batch_size=3)
    assert not out.exists()  # nothing runs, nothing is opened, before the first row
    rows = list(predictions)
    done = predictions.summary
    assert done.finished and done.path == out and isinstance(done.path, Path)
    assert done.scored == 7 and [p.path.name for p in done.failed] == \
        ["corrupt.jpg", "empty.png", "notes.jpg"] and done.seconds > 0
    document = json.loads(out.read_text())
    assert {k: document[k] for k in ("model", "artkit_model", "task", "labels")} == {
        "model": str(multiclass_model), "artkit_model": "tiny-cnn", "task": "multiclass",
        "labels": model.labels}
    assert document["results"] == [p.to_dict() for p in rows]
    assert all(type(v) is float for r in document["results"] if r["status"] == "ok"
               for v in r["scores"].values())
    # resumed: nothing left to score, nothing rewritten
    again = model.predict(photos, output=out, resume=True)
    assert list(again) == [] and again.summary.resumed == 10
    assert json.loads(out.read_text()) == document
    with pytest.raises(artkit.ArtkitError, match="resume needs an output"):
        model.predict(photos, resume=True)
    with pytest.raises(artkit.ArtkitError, match="unknown output format"):
        model.predict(photos, output=tmp_path / "p.txt")


def test_stopping_early_keeps_the_rows_written(multiclass_model: Path, photos: Path,
                                               tmp_path: Path) -> None:
    import artkit

    out = tmp_path / "stopped.csv"
    predictions = artkit.load(multiclass_model).predict(photos, output=out, batch_size=2)
    with predictions:
        first = next(predictions)
    assert not predictions.summary.finished
    assert not out.with_name("stopped.csv.lock").exists()  # the lock is released
    lines = out.read_text().splitlines()
    assert lines[0].startswith("path,status,error,labels,") and len(lines) == 3
    assert lines[1].startswith(f"{first.path},")


def test_files_written_before_the_labels_rename_still_read_and_resume(
        multiclass_model: Path, photos: Path, tmp_path: Path) -> None:
    """`prediction` was the key and the csv column of the labels given."""
    from artkit.reports.predictions_report import read_predictions

    current = tmp_path / "now.csv"
    assert runner.invoke(app, ["predict", str(photos), "-m", str(multiclass_model),
                               "-o", str(current)]).exit_code == 0
    old = tmp_path / "old.csv"
    lines = current.read_text().splitlines(keepends=True)
    old.write_text(lines[0].replace(",labels,", ",prediction,", 1) + "".join(lines[1:4]))
    assert read_predictions(old).rows == read_predictions(current).rows[:3]
    assert runner.invoke(app, ["predict", str(photos), "-m", str(multiclass_model),
                               "-o", str(old), "--resume"]).exit_code == 0
    assert old.read_text().splitlines()[1:] == current.read_text().splitlines()[1:]
    jsonl = tmp_path / "old.jsonl"
    jsonl.write_text(json.dumps({"path": "a.jpg", "status": "ok", "prediction": ["x", "y"],
                                 "scores": {"x": 0.9, "y": 0.8}}) + "\n")
    (row,) = read_predictions(jsonl).rows
    assert row.labels == ["x", "y"] and row.listed
