"""The CLI is the API: each command and the API call it stands for, given the same arguments,
write the same files. Files are compared byte for byte, except the embedding files (.npz),
which are zip archives stamped with the time they were written: those are compared by
their contents (paths, vectors, failures and the model record, which holds absolute paths
that are the same for both here), and the HNSW graph, which several threads build in no
fixed order: the two graphs must give the same neighbours.

The models are hand-built ONNX graphs with artkit model cards (no TensorFlow), the photos a
tiny synthetic set, so the whole file runs in seconds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import artkit
from artkit.api.data import data_info, synth
from artkit.cli.main import build_app
from artkit.embeddings.ann import graph_top_k, open_graph
from artkit.embeddings.vectors import EmbeddingSet
from artkit.formats.model_card import ModelCard

SIDE = 8
LABELS = ["blue", "green", "red"]


def _save(graph, card: ModelCard, path: Path) -> Path:
    from onnx import helper

    model = helper.make_model(graph, ir_version=9, opset_imports=[helper.make_opsetid("", 17)])
    card.embed(model)
    path.write_bytes(model.SerializeToString())
    return path


def classifier(path: Path) -> Path:
    """Mean colour -> softmax over three labels: a real, if simple, artkit image model."""
    from onnx import TensorProto, helper, numpy_helper

    weights = np.array([[0.0, 0.0, 0.05], [0.0, 0.05, 0.0], [0.05, 0.0, 0.0]], np.float32)
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2], keepdims=0),
         helper.make_node("MatMul", ["mean", "w"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["scores"], axis=1)],
        "colour", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                 ["n", SIDE, SIDE, 3])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", len(LABELS)])],
        [numpy_helper.from_array(weights, "w")])
    card = ModelCard(model="parity", task="multiclass", labels=LABELS, input_kind="image",
                     input_size=(SIDE, SIDE), outputs=["scores"])
    return _save(graph, card, path)


def embedder(path: Path) -> Path:
    """The resized pixels as the embedding (artkit L2-normalises it)."""
    from onnx import TensorProto, helper, numpy_helper

    dim = SIDE * SIDE * 3
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["images", "shape"], ["embedding"])],
        "pixels", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                 ["n", SIDE, SIDE, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", dim])],
        [numpy_helper.from_array(np.array([-1, dim], np.int64), "shape")])
    card = ModelCard(model="parity", task="embedding", labels=[], input_kind="image",
                     input_size=(SIDE, SIDE), outputs=["embedding"], embedding_dim=dim)
    return _save(graph, card, path)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Models, and photos: ten synthetic images, two exact copies and one broken file."""
    root = tmp_path_factory.mktemp("parity")
    classifier(root / "colour.onnx")
    embedder(root / "pixels.onnx")
    photos = synth(root / "set", "multiclass", n=10, size=32).path
    flat = root / "photos"
    flat.mkdir()
    for k, source in enumerate(sorted(photos.rglob("*.jpg"))):
        shutil.copy(source, flat / f"p{k:02d}.jpg")
    shutil.copy(flat / "p00.jpg", flat / "p00-copy.jpg")
    shutil.copy(flat / "p03.jpg", flat / "p03-copy.jpg")
    (flat / "broken.jpg").write_bytes(b"not a jpeg")
    return root


def cli(*args: object) -> str:
    result = CliRunner().invoke(build_app(), [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def same_bytes(a: Path, b: Path) -> None:
    assert a.is_file() and a.read_bytes() == b.read_bytes(), (a, b)


def same_folders(a: Path, b: Path) -> None:
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for relative in files:
        same_bytes(a / relative, b / relative)


def same_embeddings(a: Path, b: Path) -> None:
    mine, theirs = EmbeddingSet.read(a), EmbeddingSet.read(b)
    assert mine.paths == theirs.paths and len(mine.paths) > 0
    assert mine.failed == theirs.failed and mine.errors == theirs.errors
    assert mine.model == theirs.model
    np.testing.assert_array_equal(mine.vectors, theirs.vectors)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json"])
def test_predict(work: Path, tmp_path: Path, suffix: str) -> None:
    model, photos = work / "colour.onnx", work / "photos"
    by_cli, by_api = tmp_path / f"cli{suffix}", tmp_path / f"api{suffix}"
    cli("predict", photos, "-m", model, "-o", by_cli, "-b", "4", "--top-k", "2")
    predictions = artkit.load(model).predict(photos, output=by_api, batch_size=4, top_k=2)
    assert len(list(predictions)) == 13 and len(predictions.summary.failed) == 1
    same_bytes(by_cli, by_api)
    page = artkit.report(by_api, tmp_path / "report.html")  # the report reads what the API wrote
    assert "12 images scored, 1 skipped" in page.read_text(encoding="utf-8")


def test_embed(work: Path, tmp_path: Path) -> None:
    model, photos = work / "pixels.onnx", work / "photos"
    cli("embed", photos, "-m", model, "-o", tmp_path / "cli.npz", "-b", "4")
    done = artkit.embed(photos, model, tmp_path / "api.npz", batch_size=4)
    assert done.path == tmp_path / "api.npz" and done.embedded == 12 and done.graph is None
    same_embeddings(tmp_path / "cli.npz", tmp_path / "api.npz")


def test_index_build_with_its_graph(work: Path, tmp_path: Path) -> None:
    pytest.importorskip("usearch")
    model, photos = work / "pixels.onnx", work / "photos"
    cli("index", "build", photos, "-m", model, "-o", tmp_path / "cli" / "index.npz", "--ann")
    done = artkit.build_index(photos, model, tmp_path / "api" / "index.npz", ann=True)
    assert done.graph == tmp_path / "api" / "index.hnsw"
    same_embeddings(tmp_path / "cli" / "index.npz", tmp_path / "api" / "index.npz")
    # usearch inserts on several threads, so two builds of one graph may differ in bytes:
    # what must agree is what they answer (every stored vector's neighbours)
    vectors = EmbeddingSet.read(tmp_path / "api" / "index.npz").vectors
    answers = []
    for side in ("cli", "api"):
        graph = open_graph(tmp_path / side / "index.hnsw", *vectors.shape)
        answers.append(graph_top_k(graph, vectors, k=3)[0])
    assert len(answers[0]) == len(vectors)
    for mine, theirs in zip(*answers, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_similar(work: Path, tmp_path: Path) -> None:
    model, photos = work / "pixels.onnx", work / "photos"
    index = tmp_path / "index.npz"
    artkit.build_index(photos, model, index)
    queries = [photos / "p00.jpg", photos / "p05.jpg", photos / "broken.jpg"]
    cli("similar", *queries, "--index", index, "-k", "3", "-o", tmp_path / "cli.json",
        "--sheet", tmp_path / "cli.png")
    found = artkit.similar(queries, index, top_k=3, output=tmp_path / "api.json",
                           sheet=tmp_path / "api.png")
    assert found.output == tmp_path / "api.json" and found.sheet == tmp_path / "api.png"
    assert found[0].neighbours[0] == (photos / "p00-copy.jpg", pytest.approx(1.0))
    assert isinstance(found[1].neighbours[0][0], Path) and found[2].error
    same_bytes(tmp_path / "cli.json", tmp_path / "api.json")
    same_bytes(tmp_path / "cli.png", tmp_path / "api.png")
    assert json.loads((tmp_path / "api.json").read_text())["index"] == str(index)


def test_duplicates(work: Path, tmp_path: Path) -> None:
    model, photos = work / "pixels.onnx", work / "photos"
    cli("duplicates", photos, "-m", model, "-o", tmp_path / "cli", "-t", "0.99")
    found = artkit.duplicates(photos, model, threshold=0.99, output=tmp_path / "api")
    assert found.csv == tmp_path / "api" / "duplicates.csv"
    assert found.sheets == [tmp_path / "api" / "group-0001.png",
                            tmp_path / "api" / "group-0002.png"]
    assert [{p.name for p, _ in g} for g in found.groups] == [
        {"p00.jpg", "p00-copy.jpg"}, {"p03.jpg", "p03-copy.jpg"}]
    same_folders(tmp_path / "cli", tmp_path / "api")


@pytest.mark.parametrize("task, n, size", [("multilabel", 6, 32), ("detection", 2, 64)])
def test_data_synth(tmp_path: Path, task: str, n: int, size: int) -> None:
    cli("data", "synth", tmp_path / "cli", "--task", task, "--n", n, "--size", size,
        "--seed", 3, "--contact-sheet", tmp_path / "cli.png")
    made = synth(tmp_path / "api", task, n=n, size=size, seed=3,
                 contact_sheet=tmp_path / "api.png")
    assert made.path == tmp_path / "api" and made.images == n
    assert made.contact_sheet == tmp_path / "api.png"
    same_folders(tmp_path / "cli", tmp_path / "api")
    same_bytes(tmp_path / "cli.png", tmp_path / "api.png")


def test_data_info(work: Path, tmp_path: Path) -> None:
    cli("data", "info", work / "set", "--out", tmp_path / "cli")
    found = data_info(work / "set", out=tmp_path / "api")
    assert found.chart == tmp_path / "api" / "set.png"
    assert found.json_file == tmp_path / "api" / "set.json"
    assert found.summary["images"] == 10 and found.summary["reader"] == "folder"
    same_folders(tmp_path / "cli", tmp_path / "api")


def test_index_build_with_local_features_and_meta(work: Path, tmp_path: Path) -> None:
    from artkit.embeddings.local import local_paths, meta_path

    photos, model = work / "photos", work / "pixels.onnx"
    meta = tmp_path / "meta.csv"
    meta.write_text("file,title\np00.jpg,First\np03,Fourth\n")
    cli("index", "build", photos, "-m", model, "-o", tmp_path / "cli" / "index.npz",
        "--local-features", "--max-keypoints", "40", "--meta", meta)
    artkit.build_index(photos, model, tmp_path / "api" / "index.npz", local_features=True,
                       max_keypoints=40, meta=meta)
    same_embeddings(tmp_path / "cli" / "index.npz", tmp_path / "api" / "index.npz")
    (cli_records, cli_table), (api_records, api_table) = (
        local_paths(tmp_path / side / "index.npz") for side in ("cli", "api"))
    same_bytes(cli_records, api_records)
    with np.load(cli_table) as mine, np.load(api_table) as theirs:
        assert sorted(mine.files) == sorted(theirs.files)
        for name in mine.files:
            np.testing.assert_array_equal(mine[name], theirs[name])
    same_bytes(meta_path(tmp_path / "cli" / "index.npz"),
               meta_path(tmp_path / "api" / "index.npz"))
    assert artkit.read_meta(tmp_path / "api" / "index.npz")[str(photos / "p03.jpg")] == {
        "title": "Fourth"}
