"""Local engine vs Ray engine: the same exported model over the same folder of photos.

    .venv/bin/python benchmarks/bench_scale.py                      # MobileNet 0.25, 224 px
    .venv/bin/python benchmarks/bench_scale.py --photos DIR --model X.onnx
    .venv/bin/python benchmarks/bench_scale.py --embed               # `artkit.embed`, bundled

With ``--embed`` the two passes are whole ``artkit.embed`` calls (``engine="local"`` and
``"ray"``, default model: the bundled embedding model), files included, and the two files
must hold the same paths and vectors.

Both engines run artkit's own scoring code (`score_batches` in this process; Ray Data
actors, each with one onnxruntime session, for `ray_score_batches`) and must give the same
scores. Reported, from this one run: images/s of each engine with Ray already started
(best of interleaved rounds), their ratio, and the time Ray takes to start (paid once per
`artkit predict --engine ray` on a local instance, not on an existing cluster).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def benchmark_model(folder: Path, size: int) -> Path:
    """MobileNet (alpha 0.25, random weights: speed does not depend on them) as an artkit
    ONNX file, through the converter `bench_inference.py` uses."""
    from bench_inference import exported, keras_network

    return exported(keras_network("mobilenet", size), size, folder)


def local_pass(model: Path, paths: list[Path], batch_size: int) -> tuple[float, np.ndarray]:
    from artkit.formats.model_card import ModelCard
    from artkit.runtime.scoring import score_batches
    from artkit.runtime.session import cpu_count, create_session

    started = time.perf_counter()
    session = create_session(model, device="cpu")
    card = ModelCard.from_session(session, model)
    scores = [s.outputs["scores"] for s in score_batches(session, card, paths, batch_size,
                                                          workers=cpu_count())]
    return time.perf_counter() - started, np.concatenate(scores)


def ray_pass(model: Path, paths: list[Path], batch_size: int) -> tuple[float, np.ndarray]:
    from artkit.runtime.ray_engine import ray_score_batches

    started = time.perf_counter()
    scores = [s.outputs["scores"] for s in ray_score_batches(model, paths,
                                                              batch_size=batch_size,
                                                              device="cpu")]
    return time.perf_counter() - started, np.concatenate(scores)


def embed_pass(engine: str, model: Path | None, paths: list[Path], batch_size: int,
               output: Path) -> tuple[float, np.ndarray]:
    """One `artkit.embed` over `paths` into `output` (the Ray engine joins the running
    instance); its seconds and the vectors of the file it wrote."""
    import artkit
    from artkit.embeddings.vectors import EmbeddingSet

    started = time.perf_counter()
    done = artkit.embed(paths, model, output, batch_size=batch_size, engine=engine,
                        progress=False)
    seconds = time.perf_counter() - started
    stored = EmbeddingSet.read(done.path)
    assert stored.paths == [str(p) for p in paths] and not stored.failed
    return seconds, stored.vectors


def main() -> None:
    import ray

    from artkit.runtime.benchmark import write_photo_like_jpegs
    from artkit.runtime.inputs import expand_inputs
    from artkit.runtime.session import cpu_count

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="An exported artkit .onnx (default: "
                        "MobileNet alpha 0.25 with random weights).")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--photos", type=Path, help="Folder of photos (default: photo-like "
                        "640x480 JPEGs written here).")
    parser.add_argument("--n-photos", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--embed", action="store_true", help="Time `artkit.embed` (files "
                        "written) with each engine; default model: the bundled embedding "
                        "model.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    if args.embed:
        from artkit.bundled import embedding_model

        model = args.model or embedding_model()
        passes = {"local": lambda: embed_pass("local", model, paths, args.batch_size,
                                              work / "local.npz"),
                  "ray": lambda: embed_pass("ray", model, paths, args.batch_size,
                                            work / "ray.npz")}
    else:
        model = args.model or benchmark_model(work, args.size)
        passes = {"local": lambda: local_pass(model, paths, args.batch_size),
                  "ray": lambda: ray_pass(model, paths, args.batch_size)}
    paths = (expand_inputs([str(args.photos)]).paths if args.photos else
             write_photo_like_jpegs(work / "photos", args.n_photos))
    cpus = cpu_count()
    print(f"{len(paths)} photos, model {model.name}, batch {args.batch_size}, {cpus} CPUs"
          + (", artkit.embed" if args.embed else ""))

    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # as the engine does
    started = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR")
    ray_start = time.perf_counter() - started
    for path in paths:  # warm the file cache
        path.read_bytes()
    best_local = best_ray = float("inf")
    for _ in range(args.rounds):
        seconds, local_scores = passes["local"]()
        best_local = min(best_local, seconds)
        seconds, ray_scores = passes["ray"]()
        best_ray = min(best_ray, seconds)
        np.testing.assert_array_equal(ray_scores, local_scores)
    ray.shutdown()

    local_rate, ray_rate = len(paths) / best_local, len(paths) / best_ray
    print(f"local engine : {local_rate:7.1f} images/s  ({best_local:.2f} s, best of "
          f"{args.rounds})")
    print(f"ray engine   : {ray_rate:7.1f} images/s  ({best_ray:.2f} s, Ray already up)")
    print(f"ray / local  : {ray_rate / local_rate:.2f}x throughput "
          f"({'vectors' if args.embed else 'scores'} identical)")
    print(f"ray start    : {ray_start:.1f} s once per local instance "
          f"(= {ray_start * local_rate:.0f} images of the local engine)")


if __name__ == "__main__":
    main()
