"""Embeddings as a product: the exported backbone against Keras, `embed` resumed after an
interruption, `similar` against a brute-force search, `duplicates` on transformed copies."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import artkit
from artkit.embeddings.vectors import EmbeddingSet, l2_normalise, top_k
from artkit.formats.model_card import ModelCard

TINY = {"weights": "none", "alpha": 0.25, "input_size": 32}


@pytest.fixture(scope="module")
def backbone(synth_multiclass: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = artkit.train("linear-probe", data=synth_multiclass, c="1", **TINY)
    out = tmp_path_factory.mktemp("embedding") / "backbone.onnx"
    result = artkit.export(run, out, embedding=True)
    assert result.card.is_embedding and result.card.outputs == ["embedding"]
    # MobileNet 0.25's last three stages: 256 + 128 + 64 channels
    assert result.card.labels == [] and result.card.embedding_dim == 256 + 128 + 64
    # the exported graph against the run's Keras backbone, on real images
    from artkit import registry
    from artkit.runtime.preprocess import loader_for

    paths = sorted(synth_multiclass.rglob("*.jpg"))[:8]
    load = loader_for(result.card)  # decoded and resized as embed does
    images = np.stack([load(p)[0] for p in paths]).astype(np.float32)
    network, _ = registry.get(registry.Kind.MODEL, "linear-probe")._parts(run).embedder(
        run.config.options)
    keras_vectors = np.asarray(network(images, training=False))
    model = artkit.load(out)
    onnx_vectors = model.session.run(["embedding"], {"images": images})[0]
    np.testing.assert_allclose(onnx_vectors, keras_vectors, rtol=1e-4, atol=1e-4)
    embedded = np.stack([e.vector for e in model.embed(paths)])
    np.testing.assert_allclose(embedded, l2_normalise(keras_vectors), atol=1e-4)
    return out


def test_old_cards_read_unchanged_and_embedding_cards_round_trip():
    stored = {"artkit_version": "0.2", "schema_version": 2, "model": "mobilenet",
              "task": "multiclass", "labels": ["a", "b"], "input_kind": "image",
              "outputs": ["scores"]}
    card = ModelCard.from_json(stored)
    assert card.embedding_dim is None and not card.is_embedding
    assert "embedding_dim" not in card.to_json()
    back = ModelCard.from_json(card.replace(task="embedding", labels=[],
                                            embedding_dim=8).to_json())
    assert back.is_embedding and back.embedding_dim == 8


def test_embed_resume_gives_every_path_once_with_identical_vectors(
        backbone: Path, synth_multiclass: Path, tmp_path: Path):
    paths = sorted(synth_multiclass.rglob("*.jpg"))[:40]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    inputs = [*map(str, paths[:20]), str(bad), *map(str, paths[20:])]
    full = tmp_path / "full.npz"
    artkit.embed(inputs, backbone, full, batch_size=8)
    reference = EmbeddingSet.read(full)
    assert reference.paths == [str(p) for p in paths] and reference.failed == [str(bad)]
    assert not full.with_name("full.npz.partial").exists()

    # an interrupted run: three batches written, then a crash mid-stream
    out = tmp_path / "part.npz"
    model = artkit.load(backbone)
    calls = {"n": 0}
    original = model.embed

    def crashing(*args, **kwargs):
        for item in original(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] > 27:
                raise KeyboardInterrupt
            yield item

    model.embed = crashing  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        artkit.embed(inputs, model, out, batch_size=8)
    assert not out.exists()  # no half-written final file
    done = artkit.embed(inputs, backbone, out, batch_size=8, resume=True)
    assert done.resumed == 24 and done.embedded == len(inputs) - 24  # the bad file was done
    resumed = EmbeddingSet.read(out)
    assert sorted(resumed.paths) == sorted(reference.paths)  # every path once
    assert resumed.failed == [str(bad)]
    order = [resumed.paths.index(p) for p in reference.paths]
    np.testing.assert_array_equal(resumed.vectors[order], reference.vectors)
    np.testing.assert_allclose(np.linalg.norm(resumed.vectors, axis=1), 1.0, atol=1e-5)
    # resuming a finished file recomputes nothing
    again = artkit.embed(inputs, backbone, out, batch_size=8, resume=True)
    assert again.embedded == 0 and again.resumed == len(inputs)
    assert len(EmbeddingSet.read(out)) == len(paths)


def test_top_k_is_the_exact_brute_force_search():
    rng = np.random.default_rng(0)
    bank = l2_normalise(rng.normal(size=(1000, 16)))
    queries = l2_normalise(rng.normal(size=(7, 16)))
    exclude = [3, -1, 999, -1, 0, 500, -1]
    found, sims = top_k(queries, bank, 5, chunk=64, exclude=exclude)
    brute = queries @ bank.T
    for row, own in enumerate(exclude):
        if own >= 0:
            brute[row, own] = -np.inf
        want = np.argsort(-brute[row], kind="stable")[:5]
        assert found[row].tolist() == want.tolist()
        np.testing.assert_allclose(sims[row], brute[row, want], rtol=1e-6)


def test_graph_search_finds_the_exact_neighbours_and_leaves_the_query_out(tmp_path: Path):
    """The HNSW graph against brute force on clustered vectors (as embeddings are):
    recall@10 near 1, similarities equal to the exact cosines, the excluded row absent."""
    from artkit.embeddings.ann import build_graph, graph_top_k, open_graph

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 32))
    bank = l2_normalise(centres[rng.integers(0, 40, 4000)] + 0.5 * rng.normal(size=(4000, 32)))
    queries = bank[:200]
    exclude = list(range(200))
    build_graph(bank, tmp_path / "bank.hnsw")
    graph = open_graph(tmp_path / "bank.hnsw", len(bank), 32)
    rows, sims = graph_top_k(graph, queries, 10, exclude=exclude)
    found, _ = top_k(queries, bank, 10, exclude=exclude)
    recall = np.mean([len(set(r.tolist()) & set(f.tolist())) / 10
                      for r, f in zip(rows, found, strict=True)])
    assert recall >= 0.95
    for row, (mine, sim) in enumerate(zip(rows, sims, strict=True)):
        assert len(mine) == 10 and row not in mine.tolist()
        np.testing.assert_allclose(sim, bank[mine] @ queries[row], atol=1e-5)
    one, _ = graph_top_k(graph, queries[:1], 10, exclude=[0])  # one query: another type
    assert one[0].tolist() == rows[0].tolist()


def test_index_and_similar_from_the_command_line(backbone: Path, synth_multiclass: Path,
                                                 tmp_path: Path):
    from artkit.cli.main import build_app

    photos = sorted(synth_multiclass.rglob("*.jpg"))[:30]
    listing = tmp_path / "photos.txt"
    listing.write_text("\n".join(map(str, photos)))
    index = tmp_path / "index.npz"
    app, runner = build_app(), CliRunner()
    done = runner.invoke(app, ["index", "build", str(listing), "-m", str(backbone),
                               "-o", str(index)])
    assert done.exit_code == 0, done.output
    sheet, out = tmp_path / "sheet.png", tmp_path / "similar.json"
    done = runner.invoke(app, ["similar", str(photos[0]), str(photos[5]), "--index",
                               str(index), "--top-k", "4", "--sheet", str(sheet),
                               "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert Image.open(sheet).size[0] > 4 * 128
    stored = EmbeddingSet.read(index)
    # `artkit embed` is the same command without --ann: the same vectors
    embedded = tmp_path / "embedded.npz"
    done = runner.invoke(app, ["embed", str(listing), "-m", str(backbone), "-o", str(embedded)])
    assert done.exit_code == 0, done.output
    assert EmbeddingSet.read(embedded).paths == stored.paths
    np.testing.assert_allclose(EmbeddingSet.read(embedded).vectors, stored.vectors, atol=1e-6)
    assert runner.invoke(app, ["embed", str(listing), "-m", str(backbone), "-o",
                               str(embedded), "--ann"]).exit_code == 2  # no such option
    results = artkit.similar([photos[0], photos[5]], index, top_k=4)
    for result, query in zip(results, (0, 5), strict=True):
        sims = stored.vectors @ stored.vectors[query]
        sims[query] = -np.inf  # the query itself is in the index: left out
        want = [Path(stored.paths[j]) for j in np.argsort(-sims, kind="stable")[:4]]
        assert [p for p, _ in result.neighbours] == want
    # --ann adds the search graph to the finished index without embedding again; on 30
    # photos the graph search is exact, so `similar` gives the same neighbours
    done = runner.invoke(app, ["index", "build", str(listing), "-m", str(backbone),
                               "-o", str(index), "--resume", "--ann"])
    assert done.exit_code == 0, done.output
    assert "0 images indexed" in done.output
    graphed = EmbeddingSet.read(index)
    assert graphed.model["graph"] == {"file": "index.hnsw", "vectors": 30}
    assert graphed.paths == stored.paths and index.with_suffix(".hnsw").stat().st_size > 0
    approximate = artkit.similar([photos[0], photos[5]], index, top_k=4)
    for mine, want in zip(approximate, results, strict=True):
        assert [p for p, _ in mine.neighbours] == [p for p, _ in want.neighbours]
        np.testing.assert_allclose([v for _, v in mine.neighbours],
                                   [v for _, v in want.neighbours], atol=1e-5)
    # a graph that is not its index's (another photo count) is refused in one line
    from artkit.embeddings.ann import build_graph

    build_graph(stored.vectors[:20], index.with_suffix(".hnsw"))
    done = runner.invoke(app, ["similar", str(photos[0]), "--index", str(index)])
    assert done.exit_code == 1 and "does not match its index" in done.output
    assert "Traceback" not in done.output
    assert runner.invoke(app, ["similar", str(photos[0]), "--index", str(index),
                               "--exact"]).exit_code == 0
    # --no-ann forgets and deletes it
    done = runner.invoke(app, ["index", "build", str(listing), "-m", str(backbone),
                               "-o", str(index), "--resume", "--no-ann"])
    assert done.exit_code == 0, done.output
    assert "graph" not in EmbeddingSet.read(index).model
    assert not index.with_suffix(".hnsw").exists()



def test_an_index_of_relative_paths_works_from_another_folder(backbone: Path,
                                                              synth_multiclass: Path,
                                                              tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch):
    """Built in one folder with relative paths, searched from another with an absolute
    query: the neighbours are paths that exist, and the query is not its own neighbour."""
    photos = tmp_path / "collection"
    photos.mkdir()
    for source in sorted(synth_multiclass.rglob("*.jpg"))[:12]:
        (photos / source.name).write_bytes(source.read_bytes())
    monkeypatch.chdir(tmp_path)
    artkit.build_index("collection", backbone, "index.npz")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    query = sorted(photos.iterdir())[0]
    (result,) = artkit.similar([query], tmp_path / "index.npz", top_k=3)
    found = [Path(p) for p, _ in result.neighbours]
    assert all(p.is_absolute() and p.is_file() for p in found) and query not in found

def _copies(source: Path, folder: Path) -> list[Path]:
    image = Image.open(source).convert("RGB").resize((128, 128))
    w, h = image.size
    made = {
        "jpeg": image,
        "resized": image.resize((w // 2, h // 2)),
        "cropped": image.crop((w // 20, h // 20, w - w // 20, h - h // 20)),
        "rotated": image.rotate(90, expand=True),
    }
    paths = []
    for name, copy in made.items():
        path = folder / f"{source.stem}-{name}.jpg"
        copy.save(path, quality=40 if name == "jpeg" else 90)
        paths.append(path)
    return paths


def test_duplicates_groups_transformed_copies_and_only_them(backbone: Path, tmp_path: Path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "photos"
    folder.mkdir()
    originals = []
    for k in range(6):  # distinct images: smooth random colour fields of different scales
        small = rng.integers(0, 256, size=(2 + k, 3 + k, 3), dtype=np.uint8)
        path = folder / f"original-{k}.png"
        Image.fromarray(small).resize((128, 128), Image.BICUBIC).save(path)
        originals.append(path)
    copies = {o: _copies(o, folder) for o in originals[:3]}
    found = artkit.duplicates(folder, backbone)
    groups = [{Path(p) for p, _ in g} for g in found.groups]
    for original, made in copies.items():
        assert {original, *made} in groups
    assert not any(o in g for o in originals[3:] for g in groups)
    out = tmp_path / "dups"
    from artkit.cli.main import build_app

    done = CliRunner().invoke(build_app(), ["duplicates", str(folder), "-m", str(backbone),
                                            "-o", str(out)])
    assert done.exit_code == 0, done.output
    with (out / "duplicates.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["group"] for r in rows} == {"1", "2", "3"} and len(rows) == 15
    assert len(list(out.glob("group-*.png"))) == 3


def test_missing_inputs_are_one_line_and_leave_no_file(backbone: Path, synth_multiclass: Path,
                                                       tmp_path: Path):
    from artkit.cli.main import build_app

    app, runner = build_app(), CliRunner()
    photo = sorted(synth_multiclass.rglob("*.jpg"))[0]
    index = tmp_path / "index.npz"
    artkit.build_index([photo], backbone, index)
    commands = {
        "embed": (["embed", "missing/", "-m", str(backbone), "-o", str(tmp_path / "e.npz")],
                  tmp_path / "e.npz"),
        "similar": (["similar", str(photo), "missing/", "--index", str(index), "-o",
                     str(tmp_path / "s.json")], tmp_path / "s.json"),
        "duplicates": (["duplicates", "missing/", "-m", str(backbone), "-o",
                        str(tmp_path / "dups")], tmp_path / "dups"),
    }
    for name, (args, output) in commands.items():
        done = runner.invoke(app, args)
        assert done.exit_code == 1, name
        assert "missing/: no such file or folder" in " ".join(done.output.split()), name
        assert "Traceback" not in done.output and not output.exists(), name
        assert not list(tmp_path.glob("e.npz*")), name  # no lock, no partial shards
    with pytest.raises(artkit.ArtkitError, match="missing/: no such file or folder"):
        artkit.embed(["missing/"], backbone, tmp_path / "e.npz")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.jpg").write_bytes(b"not a jpeg")
    done = runner.invoke(app, ["embed", str(broken), "-m", str(backbone), "-o",
                               str(tmp_path / "b.npz")])
    assert done.exit_code == 1 and "0 images embedded" in done.output  # nothing embedded


def test_build_embedding_model_is_the_keras_mobilenet_pooled_features(
        synth_multiclass: Path, tmp_path: Path):
    """The built file gives exactly Keras' MobileNet (alpha 0.25, global average pooling)
    on the weights file it was given: the recipe adds nothing, learns nothing."""
    import keras

    from artkit.runtime.preprocess import loader_for

    size = 32
    reference = keras.applications.MobileNet(alpha=0.25, weights=None, include_top=False,
                                             input_shape=(size, size, 3), pooling="avg")
    weights = tmp_path / "mobilenet_no_top.weights.h5"
    reference.save_weights(weights)
    out = artkit.build_embedding_model(weights, tmp_path / "embedding.onnx", size)
    card = ModelCard.read(out)
    assert card.is_embedding and card.embedding_dim == 256 and card.input_size == (size, size)
    provenance = card.extra["provenance"]
    assert provenance["input_size"] == size and "Apache-2.0" in provenance["weights"]
    assert provenance["command"].startswith("artkit build-embedding-model")
    assert card.options["weights"] == weights.name  # no builder's path in a shipped file
    paths = sorted(synth_multiclass.rglob("*.jpg"))[:6]
    load = loader_for(card)
    images = np.stack([load(p)[0] for p in paths]).astype(np.float32)
    keras_vectors = np.asarray(reference(images / 127.5 - 1.0, training=False))
    onnx_vectors = artkit.load(out).session.run(["embedding"], {"images": images})[0]
    np.testing.assert_allclose(onnx_vectors, keras_vectors, rtol=1e-4, atol=1e-4)


def test_index_build_without_a_model_uses_the_bundled_one(synth_multiclass: Path,
                                                          tmp_path: Path):
    from artkit.bundled import EMBEDDING_MODEL
    from artkit.cli.main import build_app

    assert EMBEDDING_MODEL.is_file() and EMBEDDING_MODEL.stat().st_size < 4_000_000
    assert ModelCard.read(EMBEDDING_MODEL).extra["provenance"]["weights_sha256"]
    photos = sorted(synth_multiclass.rglob("*.jpg"))[:4]
    listing = tmp_path / "photos.txt"
    listing.write_text("\n".join(map(str, photos)))
    index = tmp_path / "x.npz"
    app, runner = build_app(), CliRunner()
    done = runner.invoke(app, ["index", "build", str(listing), "-o", str(index)])
    assert done.exit_code == 0, done.output
    stored = EmbeddingSet.read(index)
    assert Path(stored.model["model"]) == EMBEDDING_MODEL.resolve()
    assert stored.vectors.shape == (4, 256)
    done = runner.invoke(app, ["similar", str(photos[0]), "--index", str(index), "-k", "2"])
    assert done.exit_code == 0, done.output
    found = artkit.duplicates(photos, rotations=False)  # model=None: the bundled one
    assert found.n_images == 4


def _drawn(size: tuple[int, int], blob: tuple[int, int]) -> np.ndarray:
    """A grey RGB canvas (width, height) with textured stripes and one white disc at
    `blob`: SIFT puts a keypoint at a disc's centre, a known place in the original."""
    import cv2

    width, height = size
    image = np.full((height, width, 3), 90, np.uint8)
    rng = np.random.default_rng(width)
    for _ in range(25):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        cv2.rectangle(image, (x, y), (x + width // 12, y + height // 20),
                      tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
    cv2.circle(image, blob, max(width, height) // 60, (255, 255, 255), -1)
    return image


def test_index_local_features_and_meta_round_trip(tmp_path: Path):
    from artkit.data.decode import decode_image
    from artkit.embeddings.local import DESCRIPTOR_SCALE, local_paths, meta_path, root_sift

    shapes = {"wide": ((2400, 1200), (1800, 300)), "small": ((500, 400), (100, 300)),
              "tall": ((900, 1600), (450, 1200))}
    for name, (size, blob) in shapes.items():
        Image.fromarray(_drawn(size, blob)).save(tmp_path / f"{name}.png")
    photos = [tmp_path / f"{name}.png" for name in shapes]
    (tmp_path / "meta.csv").write_text("id,title,artist\nwide,Wide one,A. Painter\n"
                                       "tall.png,Tall one,B. Painter\nabsent,x,y\n")
    index = tmp_path / "index.npz"
    artkit.build_index(photos, None, index, local_features=True, max_keypoints=50,
                       meta=tmp_path / "meta.csv")
    stored = EmbeddingSet.read(index)
    rows = [stored.paths.index(str(p)) for p in reversed(photos)]
    found = artkit.read_local_features(index, rows)
    for photo, (xy, descriptors, (width, height)) in zip(reversed(photos), found, strict=True):
        (width_drawn, height_drawn), blob = shapes[photo.stem]
        assert (width, height) == (width_drawn, height_drawn)
        assert 0 < len(xy) <= 50 and descriptors.shape == (len(xy), 128)
        assert xy.min() >= -1 and (xy[:, 0] <= width).all() and (xy[:, 1] <= height).all()
        # In the original's pixels: the disc's centre, wherever the image was shrunk.
        assert np.linalg.norm(xy - np.array(blob), axis=1).min() < 0.01 * max(width, height)
        image = decode_image(photo)
        expected_xy, expected = root_sift(image, 50)
        np.testing.assert_allclose(xy, expected_xy, atol=1e-3)
        np.testing.assert_allclose(descriptors, np.minimum(expected, 255 / DESCRIPTOR_SCALE),
                                   atol=0.5 / DESCRIPTOR_SCALE + 1e-6)
    assert artkit.read_meta(index) == {
        str(photos[0]): {"title": "Wide one", "artist": "A. Painter"},
        str(photos[2]): {"title": "Tall one", "artist": "B. Painter"}}
    before = EmbeddingSet.read(index)
    artkit.build_index(photos, None, index)  # without the options: the sidecars go
    assert not any(p.exists() for p in (*local_paths(index), meta_path(index)))
    assert artkit.read_meta(index) == {}
    after = EmbeddingSet.read(index)
    assert after.paths == before.paths and after.model == before.model
    np.testing.assert_array_equal(after.vectors, before.vectors)
    # features of other items (the index rewritten by `embed` since) are refused, not mixed
    artkit.build_index(photos, None, index, local_features=True, max_keypoints=50)
    artkit.embed(photos[:2], None, index)
    with pytest.raises(artkit.ArtkitError, match="describe other items"):
        artkit.read_local_features(index, [0])
