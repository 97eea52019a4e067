"""Keras model plugins end to end on tiny synthetic data, and their building blocks.

Every training here is tiny (32-75 px, one or two epochs, width 0.25) so the whole file fits
the CI budget; one trained MobileNet run is shared by the tests that only read a run.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("tensorflow")

TINY_MOBILENET = ["--input-size", "32", "--alpha", "0.25", "--batch-size", "16"]
MULTICLASS_HISTORY = {"epoch", "loss", "val_loss", "top1", "top5", "precision", "recall", "auc",
                      "val_top1", "val_top5", "val_precision", "val_recall", "val_auc"}


def train(args: list[str]) -> tuple[int, str]:
    from artkit.cli.main import app

    result = CliRunner().invoke(app, ["train", *args, "--quiet"])
    return result.exit_code, " ".join(result.output.split())  # undo the console's wrapping


def only_run(model: str, runs: Path | None = None) -> Path:
    found = sorted((runs or Path("runs")).joinpath(model).iterdir())
    assert len(found) == 1, found
    return found[0]


def history(run: Path) -> list[dict[str, str]]:
    with (run / "history.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def check_run_folder(run: Path, epochs: int, evaluator: str) -> dict:
    """The files every finished Keras run must hold."""
    import json

    rows = history(run)
    assert [int(r["epoch"]) for r in rows] == list(range(1, epochs + 1))
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("checkpoint.keras", "model.weights.h5", "train_state.json", "split.json"):
        assert (run / name).stat().st_size > 0, name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["evaluator"] == evaluator and metrics["split"] == "test"
    assert not list(run.glob(".*part*")), "a temporary file was left behind"
    return json.loads((run / "config.json").read_text())


@dataclass
class InterruptedAndResumed:
    interrupted: Path
    interrupted_code: int
    interrupted_output: str
    resumed: Path


@pytest.fixture(scope="session")
def mobilenet_runs(synth_multiclass: Path, tmp_path_factory: pytest.TempPathFactory
                   ) -> InterruptedAndResumed:
    """One tiny MobileNet training, interrupted (Ctrl-C) after its first epoch, then resumed
    to its second: shared by every test that only reads a run folder."""
    from artkit_plugins.lib.keras_base import callbacks

    def interrupt_after_first_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        raise KeyboardInterrupt

    original = callbacks.EpochRecorder.on_epoch_end
    runs = tmp_path_factory.mktemp("shared-runs")
    data = ["--data", str(synth_multiclass)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARTKIT_RUNS", str(runs))
        patch.setattr(callbacks.EpochRecorder, "on_epoch_end", interrupt_after_first_epoch)
        code, output = train(["mobilenet", *data, *TINY_MOBILENET, "--epochs", "2",
                              "--name", "interrupted"])
        patch.setattr(callbacks.EpochRecorder, "on_epoch_end", original)
        interrupted = runs / "mobilenet" / "interrupted"
        resumed_code, resumed_output = train(["mobilenet", *data, "--resume", str(interrupted),
                                              "--name", "resumed"])
    assert resumed_code == 0, resumed_output
    return InterruptedAndResumed(interrupted, code, output, runs / "mobilenet" / "resumed")


@pytest.mark.slow
def test_interrupt_saves_and_says_how_to_resume(mobilenet_runs: InterruptedAndResumed) -> None:
    import keras

    run, output = mobilenet_runs.interrupted, mobilenet_runs.interrupted_output
    assert mobilenet_runs.interrupted_code == 130, output
    assert "Resume with" in output and f"--resume {run}" in output
    assert len(history(run)) == 1 and not (run / "metrics.json").exists()
    assert isinstance(keras.saving.load_model(run / "checkpoint.keras"), keras.Model)


@pytest.mark.slow
def test_resume_continues_the_history(mobilenet_runs: InterruptedAndResumed) -> None:
    resumed = mobilenet_runs.resumed
    config = check_run_folder(resumed, epochs=2, evaluator="multiclass")
    assert config["resumed_from"] == str(mobilenet_runs.interrupted)
    assert config["options"]["alpha"] == 0.25  # the interrupted run's options
    assert history(resumed)[0] == history(mobilenet_runs.interrupted)[0]
    assert MULTICLASS_HISTORY <= set(history(resumed)[0])
    assert config["input_size"] == 32
    assert config["cam_layers"] == ["conv_pw_13_relu", "predictions"]
    assert config["options"]["lr"] == 1e-3 and config["options"]["batch_size"] == 16


@pytest.mark.slow
def test_resume_refuses_other_images(mobilenet_runs: InterruptedAndResumed,
                                     synth_multiclass: Path) -> None:
    code, output = train(["mobilenet", "--data", str(synth_multiclass), "--seed", "3",
                          "--resume", str(mobilenet_runs.interrupted)])
    assert code == 1
    assert "same images" in output and "--resume" in output and "Traceback" not in output


@pytest.mark.slow
def test_onnx_export_matches_keras(mobilenet_runs: InterruptedAndResumed) -> None:
    import onnxruntime as ort

    from artkit import registry
    from artkit.training.runs import Run

    graph = registry.get("model", "mobilenet").export_onnx(Run(mobilenet_runs.resumed), 17)
    images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    session = ort.InferenceSession(graph.model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    scores, cams = session.run(["scores", "cams"], {"images": images})
    want = graph.reference(images)
    np.testing.assert_allclose(scores, want["scores"], atol=1e-4)
    np.testing.assert_allclose(cams, want["cams"], atol=1e-3)
    assert cams.shape == (3, 1, 1, scores.shape[1])
    assert graph.preprocessing["size"] == [32, 32]


@pytest.mark.slow
def test_embedding_export_is_what_the_classifier_reads(mobilenet_runs: InterruptedAndResumed,
                                                       tmp_path: Path) -> None:
    """The embedding model's output, put through the run's own dense layer, gives the run's
    scores: it is the pooled feature vector the classifier was trained on."""
    import onnxruntime as ort

    import artkit
    from artkit import registry
    from artkit.training.runs import Run

    run = Run(mobilenet_runs.resumed)
    path = tmp_path / "features.onnx"
    artkit.export(run, path, embedding=True)
    card = artkit.load(path).card
    assert card.task == "embedding" and card.labels == []
    images = np.random.default_rng(1).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (embedding,) = session.run(["embedding"], {"images": images})
    network = registry.get("model", "mobilenet").trained_network(run)
    kernel, bias = (np.asarray(w) for w in network.get_layer("predictions").weights)
    assert embedding.shape == (4, kernel.shape[0]) == (4, card.embedding_dim)
    logits = embedding @ kernel + bias
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax, np.asarray(network(images, training=False)), atol=1e-4)


@pytest.mark.slow
def test_multilabel_with_class_weights(synth_multilabel: Path) -> None:
    code, output = train(["mobilenet", "--data", str(synth_multilabel), *TINY_MOBILENET,
                          "--epochs", "1", "--class-weight", "balanced"])
    assert code == 0, output
    run = only_run("mobilenet")
    config = check_run_folder(run, epochs=1, evaluator="multilabel")
    assert config["task"] == "multilabel"
    assert {"f2", "auc", "val_f2", "val_auc"} <= set(history(run)[0])
    import json

    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    assert {"f2@0.2", "f2@0.3", "f2@0.4", "f2@0.5", "roc_auc_micro"} <= set(metrics)


@pytest.mark.slow
def test_alexnet(synth_multiclass: Path) -> None:
    code, output = train(["alexnet", "--data", str(synth_multiclass), "--input-size", "67",
                          "--epochs", "1", "--batch-size", "16"])
    assert code == 0, output
    config = check_run_folder(only_run("alexnet"), epochs=1, evaluator="multiclass")
    assert config["cam_layers"] is None


def test_alexnet_input_too_small(synth_multiclass: Path) -> None:
    code, output = train(["alexnet", "--data", str(synth_multiclass), "--input-size", "40"])
    assert code == 1 and "at least 67" in output and "Traceback" not in output


@pytest.mark.slow
def test_vgg19_cam_gives_a_sixteenth_size_map(synth_multiclass: Path) -> None:
    code, output = train(["vgg19-cam", "--data", str(synth_multiclass), "--input-size", "32",
                          "--epochs", "1", "--batch-size", "16", "--cam-filters", "32"])
    assert code == 0, output
    run = only_run("vgg19-cam")
    config = check_run_folder(run, epochs=1, evaluator="multiclass")
    from artkit import registry
    from artkit.training.runs import Run

    network = registry.get("model", "vgg19-cam").trained_network(Run(run))
    feature, dense = config["cam_layers"]
    assert network.get_layer(feature).output.shape[1:] == (2, 2, 32)  # 32 px / 16
    assert network.get_layer(dense).kernel.shape == (32, len(config["labels"]))


@pytest.mark.slow
def test_inception_frozen_on_given_weights_with_augmentation(
        synth_multiclass: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The paper's transfer-learning set-up: a weights file (written here), a frozen base,
    balanced augmentation; the base must still hold the file's weights afterwards, and the
    copies must be transformed inside the training pipeline, not only in the pictures."""
    import keras
    import tensorflow as tf

    from artkit_plugins.lib.keras_base import augment

    in_pipeline: list[bool] = []
    transform = augment.random_augment

    def recorded(image, seed=None):
        in_pipeline.append(not tf.executing_eagerly())  # tf.data traces it in a graph
        return transform(image, seed)

    monkeypatch.setattr(augment, "random_augment", recorded)

    keras.utils.set_random_seed(7)
    source = keras.applications.InceptionV3(include_top=False, weights=None,
                                            input_shape=(75, 75, 3))
    weights = tmp_path / "inception.weights.h5"
    source.save_weights(weights)
    shown = tmp_path / "augmented"
    code, output = train(["inception-v3", "--data", str(synth_multiclass), "--input-size", "75",
                          "--weights", str(weights), "--freeze-base", "--augment-to", "20",
                          "--save-augmented", str(shown), "--epochs", "1"])
    assert code == 0, output
    run = only_run("inception-v3")
    config = check_run_folder(run, epochs=1, evaluator="multiclass")
    assert config["training"]["augmented_copies"] > 0
    assert len(list(shown.glob("*.png"))) == config["training"]["augmented_copies"]
    assert any(in_pipeline), "the training pipeline never transformed a copy"

    from artkit import registry
    from artkit.training.runs import Run

    trained = registry.get("model", "inception-v3").trained_network(Run(run))
    convs = [layer for layer in trained.layers if isinstance(layer, keras.layers.Conv2D)]
    source_convs = [layer for layer in source.layers if isinstance(layer, keras.layers.Conv2D)]
    for mine, theirs in ((convs[0], source_convs[0]), (convs[-1], source_convs[-1])):
        np.testing.assert_array_equal(np.asarray(mine.kernel), np.asarray(theirs.kernel))


def test_imagenet_offline_is_one_clear_line(synth_multiclass: Path, monkeypatch) -> None:
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/x.h5: None -- "
                        "[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "get_file", offline)
    code, output = train(["mobilenet", "--data", str(synth_multiclass), *TINY_MOBILENET,
                          "--weights", "imagenet"])
    assert code == 1
    assert "cannot get the ImageNet weights of MobileNet" in output
    assert "--weights PATH" in output and "Traceback" not in output


def test_missing_weights_file(synth_multiclass: Path, tmp_path: Path) -> None:
    code, output = train(["mobilenet", "--data", str(synth_multiclass), *TINY_MOBILENET,
                          "--weights", str(tmp_path / "nope.h5")])
    assert code == 1 and "weights file not found" in output


@pytest.mark.parametrize("model", ["mobilenet", "linear-probe"])
def test_weights_made_for_another_alpha_say_which(model: str, synth_multiclass: Path,
                                                  tmp_path: Path) -> None:
    """MobileNet weights of width 0.25 with the default --alpha 1: one line naming the file
    and the alpha it was made for; the failed run is marked so; --alpha 0.25 loads them."""
    import keras

    from artkit.training.runs import Run
    from artkit_plugins.lib.keras_base.networks import application_base, unit_range_input

    weights = tmp_path / "mobilenet-quarter.weights.h5"
    keras.applications.MobileNet(alpha=0.25, weights=None, include_top=False,
                                 input_shape=(32, 32, 3)).save_weights(weights)
    code, output = train([model, "--data", str(synth_multiclass), "--input-size", "32",
                          "--weights", str(weights)])
    assert code == 1 and "Traceback" not in output
    assert (f"{weights}: these weights were made for MobileNet with alpha 0.25, not 1 "
            "(add --alpha 0.25)") in output
    assert Run(only_run(model)).status == "failed"
    _, x = unit_range_input(32)
    base = application_base(keras.applications.MobileNet, "MobileNet", x, 32, str(weights),
                            False, alpha=0.25)
    assert base.get_layer("conv1").kernel.shape == (3, 3, 3, 8)


# -- building blocks ------------------------------------------------------------------------
def test_pipeline_decodes_like_artkit_and_skips_broken(synth_multiclass: Path,
                                                        tmp_path: Path) -> None:
    from artkit.data.decode import load_resized
    from artkit_plugins.lib.keras_base.pipeline import SkippedImages, make_dataset

    images = sorted(p for p in synth_multiclass.rglob("*") if p.suffix in (".png", ".jpg"))[:3]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    skipped = SkippedImages()
    targets = np.eye(4, dtype=np.float32)
    data = make_dataset([images[0], broken, images[1], images[2]], targets, 24, 8,
                        skipped=skipped)
    (batch, got_targets, weights), = list(data)
    want = np.stack([load_resized(p, (24, 24))[0] for p in images])
    np.testing.assert_array_equal(batch.numpy(), want.astype(np.float32))
    np.testing.assert_array_equal(got_targets.numpy(), targets[[0, 2, 3]])
    assert list(skipped.reasons) == [str(broken)] and weights.numpy().tolist() == [1, 1, 1]
    # training keeps it, blank and weightless, so Keras knows how many batches there are
    training = make_dataset([images[0], broken, images[1], images[2]], targets, 24, 8,
                            shuffle_seed=0, skipped=SkippedImages())
    assert int(training.cardinality()) == 1
    (batch, _, weights), = list(training)
    assert sorted(weights.numpy().tolist()) == [0, 1, 1, 1]
    assert not batch.numpy()[weights.numpy() == 0].any()


def test_balance_plan_raises_every_class() -> None:
    from artkit_plugins.lib.keras_base.augment import balance_plan

    rng = np.random.default_rng(0)
    targets = np.array([0] * 30 + [1] * 5 + [2] * 12)
    extras = balance_plan(targets, "multiclass", 20, rng)
    counts = np.bincount(np.concatenate([targets, targets[extras]]))
    assert counts.tolist() == [30, 20, 20]
    assert np.bincount(extras[targets[extras] == 1]).max() <= 3  # copies spread evenly

    labels = (rng.random((40, 6)) < [0.6, 0.3, 0.1, 0.05, 0.5, 0.2]).astype(np.uint8)
    labels[0, 3] = 1
    extras = balance_plan(labels, "multilabel", 15, rng)
    assert (np.concatenate([labels, labels[extras]]).sum(axis=0) >= 15).all()
    assert len(balance_plan(labels, "multilabel", 0, rng)) == 0


def test_random_augment_is_fresh_and_in_range() -> None:
    import tensorflow as tf

    from artkit_plugins.lib.keras_base.augment import random_augment

    image = tf.constant(np.random.default_rng(0).uniform(0, 255, (40, 40, 3)), tf.float32)
    first, second = random_augment(image).numpy(), random_augment(image).numpy()
    assert first.shape == (40, 40, 3) and 0 <= first.min() and first.max() <= 255
    assert not np.allclose(first, second)


def test_balanced_weights_match_sklearn() -> None:
    from sklearn.utils.class_weight import compute_class_weight

    from artkit_plugins.lib.keras_base.trainer import balanced_weights

    targets = np.array([0, 0, 0, 1, 2, 2, 0, 1])
    per_class = compute_class_weight("balanced", classes=np.arange(3), y=targets)
    np.testing.assert_allclose(balanced_weights(targets, "multiclass", 3), per_class[targets],
                               rtol=1e-6)
    multi = np.array([[1, 0], [1, 1], [1, 0], [0, 0]], dtype=np.uint8)
    # label weights 4 / (2 * 3) and 4 / (2 * 1); an image without labels keeps 1
    np.testing.assert_allclose(balanced_weights(multi, "multilabel", 2),
                               [2 / 3, (2 / 3 + 2) / 2, 2 / 3, 1.0], rtol=1e-6)


def test_sample_f2_metric_matches_sklearn() -> None:
    from sklearn.metrics import fbeta_score

    from artkit_plugins.lib.keras_base.metrics import SampleFBeta

    rng = np.random.default_rng(1)
    truth = (rng.random((50, 7)) < 0.3).astype(np.float32)
    truth[0] = 0
    scores = rng.random((50, 7)).astype(np.float32)
    metric = SampleFBeta(beta=2.0, threshold=0.5)
    metric.update_state(truth[:20], scores[:20])
    metric.update_state(truth[20:], scores[20:])
    want = fbeta_score(truth, scores >= 0.5, beta=2, average="samples", zero_division=0)
    assert float(metric.result()) == pytest.approx(want, abs=1e-6)


def test_training_top_k_is_that_of_the_scores(tmp_path: Path) -> None:
    """history.csv's top1, top5 and loss are those of the network's own scores on the
    epoch's images (scikit-learn on the same predictions): Keras once ran a step past the
    end of the training stream and scaled them by steps / (steps + 1)."""
    import keras
    from PIL import Image
    from sklearn.metrics import log_loss, top_k_accuracy_score

    from artkit_plugins.lib.keras_base.metrics import compile_model
    from artkit_plugins.lib.keras_base.pipeline import make_dataset
    from artkit_plugins.lib.keras_base.trainer import fit, one_hot

    rng = np.random.default_rng(0)
    n, size, batch, classes = 24, 8, 8, 6
    paths = [tmp_path / f"{i}.png" for i in range(n)]
    for path in paths:
        Image.fromarray(rng.integers(0, 255, (size, size, 3), np.uint8)).save(path)
    truth = rng.integers(0, classes, n)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(pooled))
    # learning rate 0: the weights, hence the scores, stay those of the first step
    compile_model(model, "multiclass", classes, {"lr": 0.0, "beta1": 0.9, "beta2": 0.999,
                                                 "eps": 1e-7})
    data = make_dataset(paths, one_hot(truth, "multiclass", classes), size, batch,
                        shuffle_seed=0)
    recorded = keras.callbacks.History()
    fit(model, data, None, epochs=2, initial_epoch=0, callbacks=[recorded])
    from artkit.data.decode import load_resized

    images = np.stack([load_resized(p, (size, size))[0] for p in paths]).astype(np.float32)
    scores = np.asarray(model(images))
    want = {"top1": top_k_accuracy_score(truth, scores, k=1, labels=range(classes)),
            "top5": top_k_accuracy_score(truth, scores, k=5, labels=range(classes)),
            "loss": log_loss(truth, scores, labels=range(classes))}
    assert 0 < want["top1"] < want["top5"] < 1  # the comparison can tell a scaling apart
    for name, value in want.items():
        assert recorded.history[name] == pytest.approx([value, value], abs=1e-5), name
