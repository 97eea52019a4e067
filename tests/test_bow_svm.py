"""bow-svm end to end: CLI training, run folder, descriptor cache, bad input, ONNX graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from artkit.errors import ArtkitError
from artkit.training.runs import Run

# Small vocabularies and grid: the fixture has 120 images of 64 px.
FAST = ["--cv-folds", "2", "--grid-c", "1,10", "--grid-gamma", "scale"]


def _train(args: list[str]):
    from artkit.cli.main import app

    return CliRunner().invoke(app, ["train", "bow-svm", *args, *FAST])


@pytest.fixture(scope="module")
def trained(synth_multiclass: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One run with two vocabulary sizes, trained once for the tests that only read it."""
    home = tmp_path_factory.mktemp("bow-trained")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARTKIT_RUNS", str(home / "runs"))
        patch.setenv("ARTKIT_CACHE", str(home / "cache"))
        result = _train(["--data", str(synth_multiclass), "--vocab", "12,24", "--name", "a"])
    assert result.exit_code == 0, result.output
    assert "vocabulary comparison" in result.output and "accuracy" in result.output
    return Run(home / "runs" / "bow-svm" / "a")


def test_run_folder_holds_model_metrics_and_plots(trained: Run) -> None:
    comparison = trained.read_json("vocab_comparison.json")
    rows = comparison["rows"]
    assert [r["vocab"] for r in rows] == [12, 24]
    # the kept size is the best on validation (ties: val macro F1, then the smaller size)
    best = max(rows, key=lambda r: (r["val_accuracy"], r["val_macro_f1"], -r["vocab"]))
    assert comparison["chosen_vocab"] == best["vocab"] and best["chosen"]
    assert sum(r["chosen"] for r in rows) == 1
    assert np.load(trained.path("vocabulary.npy")).shape == (best["vocab"], 128)
    assert trained.path("svm.skops").stat().st_size > 0
    assert not trained.path("svm.joblib").exists()  # no pickle: loading runs no code
    metrics = trained.metrics
    assert metrics["evaluator"] == "multiclass"
    assert 0.0 <= metrics["metrics"]["accuracy"] <= 1.0
    assert len(metrics["per_class"]) == len(trained.config.labels)
    assert trained.path("eval", "confusion_matrix.png").exists()
    assert trained.path("eval", "confusion_matrix_normalised.png").exists()
    assert len(trained.history()) == 2


def test_evaluate_command_reproduces_the_test_metrics(trained: Run) -> None:
    from artkit.cli.main import app

    before = trained.metrics["metrics"]
    result = CliRunner().invoke(app, ["evaluate", str(trained.dir)])
    assert result.exit_code == 0, result.output
    assert trained.metrics["metrics"] == pytest.approx(before)


def test_predictions_follow_one_decision_rule(trained: Run) -> None:
    """Scores are calibrated probabilities and the test accuracy in metrics.json is the
    accuracy of their argmax: the rule used in training, evaluation and export."""
    from artkit.data.dataset import load_dataset
    from artkit.data.splits import Split
    from artkit_plugins.bow_svm import BowSvm

    dataset = load_dataset(trained.config.data)
    test = Split.from_json(trained.read_json("split.json"), dataset).test
    scores = BowSvm().load(trained).predict_paths([dataset.paths[i] for i in test])
    assert scores.shape == (len(test), len(dataset.labels))
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    accuracy = float((scores.argmax(axis=1) == dataset.targets[test]).mean())
    assert accuracy == pytest.approx(trained.metrics["metrics"]["accuracy"])


def test_second_run_reads_the_descriptor_cache(synth_multiclass: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from artkit_plugins import features

    first = _train(["--data", str(synth_multiclass), "--vocab", "12", "--name", "one"])
    assert first.exit_code == 0, first.output
    cached = list(Path("cache", "descriptors").rglob("*.npz"))
    assert len(cached) == 120

    def no_extraction(*args, **kwargs):
        raise AssertionError("descriptors were extracted again")

    monkeypatch.setattr(features.SiftExtractor, "extract", no_extraction)
    second = _train(["--data", str(synth_multiclass), "--vocab", "16", "--name", "two"])
    assert second.exit_code == 0, second.output
    assert len(list(Path("cache", "descriptors").rglob("*.npz"))) == 120


def test_vocabulary_larger_than_the_descriptors_is_a_clear_error(
        synth_multiclass: Path) -> None:
    result = _train(["--data", str(synth_multiclass), "--vocab", "100000"])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "--vocab 100000 needs at least 100000 descriptors" in message
    assert "training images have only" in message and "Traceback" not in result.output


def test_blank_image_gets_an_all_zero_histogram_and_a_prediction(trained: Run,
                                                                 tmp_path: Path) -> None:
    import onnxruntime as ort
    from PIL import Image

    from artkit_plugins.bow_svm import BowSvm

    blank = tmp_path / "blank.png"
    Image.new("RGB", (64, 64), (240, 240, 240)).save(blank)
    predictor = BowSvm().load(trained)
    empty = np.zeros((0, 128), np.float32)
    assert not predictor.features(np.zeros((0, 2), np.float32), empty).any()
    scores = predictor.predict_paths([blank])
    assert scores.shape == (1, len(predictor.labels)) and np.isfinite(scores).all()
    graph = BowSvm().export_onnx(trained, 17)
    session = ort.InferenceSession(graph.model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(["scores"], {"descriptors": empty})[0], scores,
                               atol=1e-4)


def test_onnx_graph_matches_the_predictor(trained: Run, synth_multiclass: Path) -> None:
    import onnxruntime as ort

    from artkit.data.decode import decode_image
    from artkit_plugins.bow_svm import BowSvm
    from artkit_plugins.lib.bow.descriptors import describe_image

    graph = BowSvm().export_onnx(trained, 17)
    assert graph.input_kind == "descriptors" and not graph.quantizable
    assert graph.preprocessing["extractor"] == "sift"
    session = ort.InferenceSession(graph.model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    predictor = BowSvm().load(trained)
    images = sorted(synth_multiclass.rglob("*.png"))[:6] + sorted(
        synth_multiclass.rglob("*.jpg"))[:2]
    assert images
    for path in images:
        _, descriptors = describe_image(predictor.extractor, predictor.extractor_options,
                                        decode_image(path))
        onnx_scores = session.run(["scores"], {"descriptors": descriptors})[0]
        np.testing.assert_allclose(onnx_scores, predictor.predict_paths([path]), atol=1e-4)
        np.testing.assert_allclose(onnx_scores, graph.reference(descriptors)["scores"],
                                   atol=1e-4)


@pytest.mark.parametrize(("encoding", "pyramid"), [("tfidf", True), ("l1", True),
                                                   ("tfidf", False)])
def test_onnx_encoding_variants_match_numpy(encoding: str, pyramid: bool) -> None:
    """The graph's pyramid and TF-IDF arithmetic against the numpy encoding, on a small
    SVM fitted here (no images needed)."""
    import onnxruntime as ort

    from artkit_plugins.lib.bow.encoding import Normaliser, assign_words, histogram
    from artkit_plugins.lib.bow.onnx_graph import build_graph
    from artkit_plugins.lib.bow.svm import class_scores, fit_svm

    rng = np.random.default_rng(0)
    words, dim, labels = 7, 16, ["a", "b", "c"]
    centres = rng.normal(size=(words, dim)).astype(np.float32)
    images = [(rng.random((n, 2), dtype=np.float32), rng.normal(size=(n, dim)).astype(np.float32))
              for n in rng.integers(0, 40, 30)]
    counts = np.stack([histogram(assign_words(d, centres), xy, words, pyramid)
                       for xy, d in images])
    normaliser = Normaliser(encoding).fit(counts)
    y = np.arange(30) % 3
    model, _ = fit_svm(normaliser.transform(counts), y, labels, [1.0], ["scale"], 2, None, 0, 1)

    class Fake:
        pass

    fake = Fake()
    fake.centres, fake.pyramid, fake.normaliser, fake.model, fake.labels = (
        centres, pyramid, normaliser, model, labels)
    session = ort.InferenceSession(build_graph(fake, 17).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    for xy, descriptors in images[:8]:
        columns = np.hstack([descriptors, xy]) if pyramid else descriptors
        expected = class_scores(model, normaliser.transform(
            histogram(assign_words(descriptors, centres), xy, words, pyramid)[None, :]))
        got = session.run(["scores"], {"descriptors": columns})[0]
        np.testing.assert_allclose(got, expected, atol=1e-4)


def test_fold_count_reduces_or_refuses() -> None:
    from artkit_plugins.lib.bow.svm import fold_count

    assert fold_count(np.array([0] * 6 + [1] * 6), ["a", "b"], 5) == 5
    assert fold_count(np.array([0] * 6 + [1] * 3), ["a", "b"], 5) == 3
    with pytest.raises(ArtkitError, match="'b'.*fewer than 2 training images"):
        fold_count(np.array([0] * 6 + [1]), ["a", "b"], 5)


def test_feature_options_parse_against_the_extractor() -> None:
    from artkit_plugins.features import DenseSiftExtractor
    from artkit_plugins.lib.bow.descriptors import resolve_options

    options = resolve_options(DenseSiftExtractor(), "step=6,scales=8,16,24")
    assert options == {"step": 6, "scales": "8,16,24", "max_descriptors": 1500,
                       "max_side": 640}
    with pytest.raises(ArtkitError, match="has no option 'stride'"):
        resolve_options(DenseSiftExtractor(), "stride=4")
    with pytest.raises(ArtkitError, match="not a valid int"):
        resolve_options(DenseSiftExtractor(), "step=big")


@pytest.mark.parametrize("name", ["sift", "dense-sift", "orb"])
def test_extractors_place_descriptors_in_the_input_image(name: str) -> None:
    from artkit import registry

    rng = np.random.default_rng(1)
    image = np.kron(rng.integers(0, 256, (24, 32, 3)), np.ones((10, 10, 1))).astype(np.uint8)
    extractor = registry.get("feature-extractor", name)
    xy, descriptors = extractor.extract(image, max_side=160)  # shrinks 320 -> 160 px
    assert len(xy) == len(descriptors) > 10
    assert descriptors.dtype == np.float32 and descriptors.shape[1] in (128, 256)
    assert xy[:, 0].max() > 160 and xy[:, 0].max() <= 320  # full-size coordinates
    blank_xy, blank = extractor.extract(np.zeros((64, 64, 3), np.uint8))
    if name != "dense-sift":  # a grid describes even a flat image
        assert len(blank) == 0 and blank.shape[1] == descriptors.shape[1]


def test_min_class_images_drops_small_classes(synth_multiclass: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    from artkit.data.dataset import load_dataset
    from artkit.training.trainer import drop_small_classes

    dataset = load_dataset(synth_multiclass)
    counts = dict(zip(dataset.labels, dataset.counts(), strict=True))
    kept = drop_small_classes(dataset, 10)
    assert kept.labels == [c for c in dataset.labels if counts[c] >= 10]
    assert len(kept) == sum(n for n in counts.values() if n >= 10)
    assert [kept.labels[t] for t in kept.targets] == [
        dataset.labels[t] for t in dataset.targets if counts[dataset.labels[t]] >= 10]
    warning = " ".join(capsys.readouterr().err.split())
    small = [c for c in dataset.labels if counts[c] < 10]
    assert small and all(c in warning for c in small)
    assert drop_small_classes(dataset, 0) is dataset


def test_unreadable_vocab_option_is_refused() -> None:
    from artkit_plugins.bow_svm import parse_vocab_sizes

    assert parse_vocab_sizes("2500,500,1000") == [500, 1000, 2500]
    with pytest.raises(ArtkitError, match="whole numbers"):
        parse_vocab_sizes("1k")


def test_comparison_json_is_valid(trained: Run) -> None:
    text = trained.path("vocab_comparison.json").read_text()
    assert json.loads(text)["chosen_by"] == "val_accuracy"


def test_min_class_images_run_evaluates_on_its_own_classes(synth_multiclass: Path) -> None:
    """Classes left out at training stay out when `artkit evaluate` re-reads the data set."""
    from artkit.cli.main import app

    result = _train(["--data", str(synth_multiclass), "--vocab", "8", "--name", "big",
                     "--min-class-images", "10"])
    assert result.exit_code == 0, result.output
    assert "left out" in " ".join(result.output.split())
    run = Run(Path("runs", "bow-svm", "big"))
    assert len(run.config.labels) == 2
    before = run.metrics["metrics"]
    again = CliRunner().invoke(app, ["evaluate", str(run.dir)])
    assert again.exit_code == 0, again.output
    assert run.metrics["metrics"] == pytest.approx(before)
    assert run.metrics["n_images"] == len(run.read_json("split.json")["test"])


# -- the model file: skops, never an unasked-for pickle ----------------------------------------
def _copy_run(trained: Run, tmp_path: Path) -> Run:
    import shutil

    return Run(shutil.copytree(trained.dir, tmp_path / "copy"))


def _scores(run: Run) -> np.ndarray:
    from artkit_plugins.bow_svm import BowSvm

    rng = np.random.default_rng(3)
    return BowSvm().load(run).scores_from_columns(rng.normal(size=(40, 128)) * 20 + 20)


def test_model_file_is_skops_and_holds_only_expected_types(trained: Run) -> None:
    import zipfile

    import skops.io as sio
    from sklearn.pipeline import Pipeline

    from artkit_plugins.lib.bow.model_file import expected_types, load_model

    path = trained.path("svm.skops")
    assert zipfile.is_zipfile(path) and "schema.json" in zipfile.ZipFile(path).namelist()
    assert set(sio.get_untrusted_types(file=path)) <= expected_types()
    model = load_model(trained.dir)
    assert isinstance(model, Pipeline)
    assert model.n_features_in_ == trained.read_json("bow.json")["vocab"]  # one word each
    scores = _scores(trained)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)


def test_model_file_with_an_unexpected_type_is_refused(trained: Run, tmp_path: Path) -> None:
    import os

    import skops.io as sio

    from artkit_plugins.bow_svm import BowSvm
    from artkit_plugins.lib.bow.model_file import load_model

    run = _copy_run(trained, tmp_path)
    model = load_model(run.dir)
    model.memory = os.system  # a Pipeline parameter: the file now names a callable
    sio.dump(model, run.path("svm.skops"))
    with pytest.raises(ArtkitError) as caught:
        BowSvm().load(run)
    message = str(caught.value)
    assert "\n" not in message
    assert str(run.path("svm.skops")) in message
    assert f"{os.system.__module__}.system" in message and "refused" in message
    assert "sklearn" not in message  # artkit's own types are not the problem


def test_artkit_0_1_pickle_is_not_loaded_unless_trusted(trained: Run, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import joblib

    from artkit_plugins.bow_svm import BowSvm
    from artkit_plugins.lib.bow.model_file import load_model

    run = _copy_run(trained, tmp_path)
    joblib.dump(load_model(run.dir), run.path("svm.joblib"))
    run.path("svm.skops").unlink()  # an artkit 0.1 run folder
    expected = _scores(trained)

    def no_unpickling(*args, **kwargs):
        raise AssertionError("the pickle was loaded")

    monkeypatch.delenv("ARTKIT_TRUST_PICKLES", raising=False)
    with monkeypatch.context() as patch:
        patch.setattr(joblib, "load", no_unpickling)
        with pytest.raises(ArtkitError) as caught:
            BowSvm().load(run)
        patch.setenv("ARTKIT_TRUST_PICKLES", "yes")  # only 1 opts in
        with pytest.raises(ArtkitError):
            BowSvm().load(run)
    message = str(caught.value)
    assert "\n" not in message and str(run.path("svm.joblib")) in message
    assert "pickle" in message and "run any code" in message
    assert "artkit train bow-svm" in message and "ARTKIT_TRUST_PICKLES=1" in message

    monkeypatch.setenv("ARTKIT_TRUST_PICKLES", "1")
    np.testing.assert_allclose(_scores(run), expected, atol=1e-6)
