"""`embed` and `index build` with `--engine ray`, on a local Ray instance (two CPUs), write
what the local engine writes: same paths in the same order, the same vectors, the same
failures, and an index whose graph, local features and metadata are the same."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_ray_engine import invoke, local_ray, with_broken_files  # noqa: F401 - a fixture
from typer.testing import CliRunner

import artkit
from artkit.bundled import embedding_model
from artkit.cli.main import app
from artkit.embeddings.local import local_paths, meta_path
from artkit.embeddings.vectors import EmbeddingSet

runner = CliRunner()
ENGINES = ("local", "ray")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eleven small textured photos of several sizes in two folders, and two broken files."""
    folder = tmp_path_factory.mktemp("collection")
    (folder / "room").mkdir()
    rng = np.random.default_rng(7)
    for i in range(11):
        height, width = 90 + 13 * i, 140 - 5 * i
        pixels = rng.integers(0, 256, (height // 10 + 1, width // 10 + 1, 3), dtype=np.uint8)
        image = Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR)
        image.save(folder / ("room" if i % 3 else ".") / f"p{i:02d}.{'png' if i % 4 else 'jpg'}")
    return with_broken_files(folder)


@pytest.fixture
def ray_runs(local_ray, monkeypatch: pytest.MonkeyPatch) -> list[int]:  # noqa: F811
    """The number of paths each Ray job was given (so a test knows Ray did the work)."""
    from artkit.runtime import ray_engine

    runs: list[int] = []
    real = ray_engine.ray_score_batches

    def counted(model: Path, paths: list[Path], **options):
        runs.append(len(paths))
        return real(model, paths, **options)

    monkeypatch.setattr(ray_engine, "ray_score_batches", counted)
    return runs


def failure_lines(output: str) -> list[str]:
    return sorted(part.strip() for part in output.split("failed: ")[1:])


def assert_same_file(ray: Path, local: Path) -> EmbeddingSet:
    """The embedding files agree: paths and order, failures, model record, vectors."""
    a, b = EmbeddingSet.read(ray), EmbeddingSet.read(local)
    assert a.paths == b.paths and len(a.paths) == 11
    assert (a.failed, a.errors) == (b.failed, b.errors) and len(a.failed) == 2
    assert a.model == b.model
    np.testing.assert_allclose(a.vectors, b.vectors, rtol=0, atol=1e-6)
    return a


def test_embed_command_on_ray_equals_local(ray_runs: list[int], photos: Path,
                                           tmp_path: Path) -> None:
    printed = {}
    for engine in ENGINES:
        text = invoke("embed", str(photos), "-o", str(tmp_path / f"{engine}.npz"),
                      "--batch-size", "4", "--engine", engine, "--quiet")
        assert "11 images embedded" in text and "2 failed" in text
        printed[engine] = failure_lines(text)
    assert ray_runs == [13]  # Ray embedded every file once
    assert_same_file(tmp_path / "ray.npz", tmp_path / "local.npz")
    assert printed["ray"] == printed["local"]
    assert [line.split(":")[0] for line in printed["local"]] == [
        str(photos / "corrupt.jpg"), str(photos / "empty.png")]


def test_embed_api_on_ray_equals_local_and_fails_broken_files_alike(
        ray_runs: list[int], photos: Path, tmp_path: Path) -> None:
    inputs = [str(photos / "empty.png"), str(photos / "room"), str(photos / "corrupt.jpg"),
              str(photos / "p00.jpg")]
    done = {engine: artkit.embed(inputs, None, tmp_path / f"{engine}.npz", batch_size=3,
                                 engine=engine) for engine in ENGINES}
    assert ray_runs == [10] and done["ray"].embedded == done["local"].embedded == 8
    failed = {engine: [(e.index, str(e.path), e.error) for e in summary.failed]
              for engine, summary in done.items()}
    assert failed["ray"] == failed["local"]
    assert [path for _, path, _ in failed["local"]] == inputs[::2]
    assert all(error for _, _, error in failed["local"])
    a, b = EmbeddingSet.read(tmp_path / "ray.npz"), EmbeddingSet.read(tmp_path / "local.npz")
    assert a.paths == b.paths and (a.failed, a.errors) == (b.failed, b.errors)
    np.testing.assert_allclose(a.vectors, b.vectors, rtol=0, atol=1e-6)


def test_index_build_on_ray_equals_local(ray_runs: list[int], photos: Path,
                                         tmp_path: Path) -> None:
    pytest.importorskip("usearch")
    (tmp_path / "meta.csv").write_text("id,title\np01,One\np04.jpg,Four\n")
    index = {engine: tmp_path / engine / "index.npz" for engine in ENGINES}
    for engine in ENGINES:
        invoke("index", "build", str(photos), "-o", str(index[engine]), "--batch-size", "4",
               "--engine", engine, "--ann", "--local-features", "--max-keypoints", "40",
               "--meta", str(tmp_path / "meta.csv"), "--quiet")
    assert ray_runs == [13]
    stored = assert_same_file(index["ray"], index["local"])
    assert stored.model["graph"] == {"file": "index.hnsw", "vectors": 11}
    sidecars = {engine: [*local_paths(index[engine]), meta_path(index[engine])]
                for engine in ENGINES}
    for ray, local in zip(sidecars["ray"], sidecars["local"], strict=True):
        assert ray.read_bytes() == local.read_bytes(), ray.name
    assert len(artkit.read_meta(index["ray"])) == 2
    queries = sorted(photos.rglob("p0[0-3].*"))
    found = {engine: artkit.similar(queries, index[engine], top_k=3).to_dict()["results"]
             for engine in ENGINES}
    assert found["ray"] == found["local"] and len(found["ray"][0]["neighbours"]) == 3


def test_an_interrupted_ray_embed_resumes_as_the_local_one(ray_runs: list[int], photos: Path,
                                                           tmp_path: Path) -> None:
    inputs = sorted(str(p) for p in photos.rglob("*") if p.is_file())
    for engine in ENGINES:
        model = artkit.load(embedding_model())
        original = model.embed

        def crashing(*args, _original=original, **kwargs):
            for n, item in enumerate(_original(*args, **kwargs)):
                if n == 6:
                    raise KeyboardInterrupt
                yield item

        model.embed = crashing  # type: ignore[method-assign]
        out = tmp_path / f"{engine}.npz"
        with pytest.raises(KeyboardInterrupt):
            artkit.embed(inputs, model, out, batch_size=4, engine=engine)
        assert not out.exists()
        done = artkit.embed(inputs, None, out, batch_size=4, engine=engine, resume=True)
        assert (done.resumed, done.embedded, len(done.failed)) == (4, 9, 0)
    assert ray_runs == [13, 9]  # the resumed run sent Ray only the files not yet written
    assert_same_file(tmp_path / "ray.npz", tmp_path / "local.npz")


def test_embed_without_ray_is_one_line_and_writes_nothing(
        monkeypatch: pytest.MonkeyPatch, photos: Path, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    out = tmp_path / "out.npz"
    result = runner.invoke(app, ["embed", str(photos), "-o", str(out), "--engine", "ray"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--engine ray needs Ray" in " ".join(result.output.split())
    assert not any(tmp_path.iterdir())


def test_an_unreachable_cluster_is_one_line_before_any_file(
        monkeypatch: pytest.MonkeyPatch, photos: Path, tmp_path: Path) -> None:
    import socket

    ray = pytest.importorskip("ray")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # even beside local_ray
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    result = runner.invoke(app, ["index", "build", str(photos), "-o", str(tmp_path / "i.npz"),
                                 "--engine", "ray", "--ray-address", f"127.0.0.1:{port}"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    flat = " ".join(result.output.split())
    assert "cannot reach the Ray cluster" in flat and "interrupted" not in flat
    assert not any(tmp_path.iterdir())  # no index, no shards kept for --resume
