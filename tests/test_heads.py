"""linear-probe and knn on frozen backbone embeddings: the cache, the heads against
scikit-learn / plain numpy, and the exported ONNX graph against the numpy head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import artkit
from artkit_plugins.lib.heads import fit
from artkit_plugins.lib.heads.embeddings import STATS

TINY = {"weights": "none", "alpha": 0.25, "input_size": 32}


def test_linear_head_equals_sklearn_on_standardised_features():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 12)) + np.repeat(np.eye(3, 12) * 3, 30, axis=0)
    y = np.repeat(np.arange(3), 30)
    head = fit.fit_linear(x, y, "multiclass", 4, c=0.5)  # class 3 never seen
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=3000))
    reference.fit(x, y)
    scores = head.scores(x)
    assert scores[:, 3].max() < 1e-9
    np.testing.assert_allclose(scores[:, :3], reference.predict_proba(x), atol=2e-3)

    labels = (rng.random((90, 3)) < 0.4).astype(np.uint8)
    labels[:, 2] = 0  # a label with no positive image
    tagger = fit.fit_linear(x, labels, "multilabel", 3, c=1.0)
    one = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))
    np.testing.assert_allclose(tagger.scores(x)[:, 0],
                               one.fit(x, labels[:, 0]).predict_proba(x)[:, 1], atol=2e-3)
    assert tagger.scores(x)[:, 2].max() < 1e-9
    # along the C path each fit is warm-started from the previous one: same optimum
    for c, warm in fit.fit_linear_path(x, labels, "multilabel", 3, (0.1, 1.0, 10.0)):
        reference = LogisticRegression(C=c, max_iter=3000)
        scaled = StandardScaler().fit_transform(x)
        np.testing.assert_allclose(
            warm.scores(x)[:, 1], reference.fit(scaled, labels[:, 1]).predict_proba(scaled)[:, 1],
            atol=2e-3)


def test_knn_head_equals_a_brute_force_vote():
    rng = np.random.default_rng(1)
    bank_x, query = rng.normal(size=(40, 8)), rng.normal(size=(15, 8))
    y = rng.integers(0, 5, 40)
    head = fit.KnnHead(fit.l2_normalise(bank_x), fit.knn_votes(y, "multiclass", 5), 7,
                       "similarity", "multiclass")
    scores = head.scores(query)
    for row, q in zip(scores, query, strict=True):
        cosine = bank_x @ q / np.linalg.norm(bank_x, axis=1) / np.linalg.norm(q)
        nearest = np.argsort(-cosine)[:7]
        expected = np.zeros(5)
        for i in nearest:
            expected[y[i]] += max(cosine[i], 1e-6)
        np.testing.assert_allclose(row, expected / expected.sum(), rtol=1e-5, atol=1e-6)


def test_linear_probe_then_knn_reuse_the_cached_embeddings(synth_multiclass: Path):
    before = STATS["extracted"]
    run = artkit.train("linear-probe", data=synth_multiclass, **TINY)
    extracted = STATS["extracted"] - before
    assert extracted == sum(run.config.n_images.values())  # train, val and test, once each
    knn = artkit.train("knn", data=synth_multiclass, **TINY)
    assert STATS["extracted"] - before == extracted  # the second head extracted nothing
    assert run.config.extra["head"]["c"] in fit.C_GRID
    assert knn.config.extra["head"]["k"] in fit.K_GRID

    exported = artkit.export(knn, "exported/knn.onnx")
    graph = onnx.load(exported.path).graph
    kinds = {node.op_type for node in graph.node}
    assert {"MatMul", "TopK"} <= kinds
    model = artkit.load(exported.path)
    paths = sorted(synth_multiclass.rglob("*.jpg"))[:16]
    onnx_scores = np.stack([p.scores for p in model.predict(paths)])
    from artkit import registry

    predictor = registry.get(registry.Kind.MODEL, "knn").load(knn)
    np.testing.assert_allclose(onnx_scores, predictor.predict_paths(paths), atol=1e-4)
    assert STATS["extracted"] - before == extracted  # predict_paths read the cache too


def test_multilabel_probe_from_a_weights_file_exports_and_tunes(synth_multilabel: Path,
                                                                tmp_path: Path):
    import keras

    from artkit import registry

    source = keras.applications.MobileNet(include_top=False, weights=None, alpha=0.25,
                                          input_shape=(32, 32, 3))
    weights = tmp_path / "mobilenet_no_top.weights.h5"
    source.save_weights(weights)
    run = artkit.train("linear-probe", data=synth_multilabel, c="1", tta=True,
                       **(TINY | {"weights": str(weights)}))
    paths = sorted((synth_multilabel / "images").iterdir())[:8]
    predictor = registry.get(registry.Kind.MODEL, "linear-probe").load(run)
    # the embeddings are the file's MobileNet's last three stages (the last layers at
    # each resolution), each pooled and scaled to unit length, joined, over sqrt(3), and
    # averaged with the mirror image's
    from artkit.data.decode import load_resized

    stages = keras.Model(source.input, [source.get_layer(name).output for name in
                                        ("conv_pw_13_relu", "conv_pw_11_relu",
                                         "conv_pw_5_relu")])

    def embedding(view: np.ndarray) -> np.ndarray:
        pooled = [np.asarray(f).mean(axis=(1, 2)) for f in stages(view / 127.5 - 1.0)]
        return np.hstack([p / np.linalg.norm(p, axis=1, keepdims=True)
                          for p in pooled]) / np.sqrt(3)

    images = np.stack([load_resized(p, (32, 32))[0] for p in paths]).astype(np.float32)
    np.testing.assert_allclose(predictor.embedder.embed_images(images),
                               (embedding(images) + embedding(images[:, :, ::-1])) / 2,
                               atol=1e-4)

    report = artkit.tune_thresholds(run, strategy="global")
    assert run.config.decision == report.rule
    model = artkit.load(artkit.export(run, "exported/tags.onnx").path)
    onnx_scores = np.stack([p.scores for p in model.predict(paths)])
    np.testing.assert_allclose(onnx_scores, predictor.predict_paths(paths), atol=1e-4)
    assert model.card.decision == report.rule


def test_unknown_backbone_is_refused():
    with pytest.raises(artkit.PluginError):
        artkit.train("knn", backbone="resnet-9000", **TINY)
