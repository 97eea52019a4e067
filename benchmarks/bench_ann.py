"""Approximate (HNSW graph, usearch) against exact search: recall@10, build and query time.

The vectors are drawn like embeddings of a large collection: L2-normalised points around
`--clusters` centres (works, series, departments), `--spread` setting how close a photo's
nearest neighbour is (printed as `nearest_cosine`). The queries are fresh draws.

    .venv/bin/python benchmarks/bench_ann.py --n 200000

Both searches start from the files, as `artkit similar` does: exact search reads the
index's vectors, the graph search reads the paths and memory-maps the graph. Prints one
JSON line: build seconds, the time of one query and of `--queries` queries each way, and
the graph's recall@10 against exact search (the share of the exact 10 it returns).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def clustered(n: int, dim: int, clusters: int, spread: float, intrinsic: int,
              seed: int) -> np.ndarray:
    """Points around `clusters` centres, varying along `intrinsic` directions (CNN
    embeddings vary along far fewer directions than they have dimensions)."""
    rng = np.random.default_rng(0)  # the same centres and directions for every draw
    centres = rng.normal(size=(clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    directions = rng.normal(size=(intrinsic, dim)) / np.sqrt(dim)
    rng = np.random.default_rng(seed)
    points = centres[rng.integers(0, clusters, n)] \
        + spread * rng.normal(size=(n, intrinsic)) @ directions
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def nearest_cosine(vectors: np.ndarray) -> float:
    sample = vectors[:500]
    sims = sample @ vectors.T
    sims[np.arange(len(sample)), np.arange(len(sample))] = -1
    return float(sims.max(axis=1).mean())


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="indexed vectors")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--clusters", type=int, default=2000)
    parser.add_argument("--spread", type=float, default=1.0)
    parser.add_argument("--intrinsic", type=int, default=32,
                        help="directions the points vary along")
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()

    from artkit.embeddings.ann import build_graph, graph_top_k, open_graph
    from artkit.embeddings.vectors import EmbeddingSet, top_k

    vectors = clustered(args.n, args.dim, args.clusters, args.spread, args.intrinsic, 1)
    queries = clustered(args.queries, args.dim, args.clusters, args.spread, args.intrinsic, 2)
    folder = Path(tempfile.mkdtemp(prefix="bench-ann-"))
    index, graph_file = folder / "index.npz", folder / "index.hnsw"
    EmbeddingSet([str(i) for i in range(args.n)], vectors,
                 model={"embedding_dim": args.dim}).save(index)
    _, built = timed(build_graph, vectors, graph_file)

    def exact(q: np.ndarray):
        return top_k(q, EmbeddingSet.read(index).vectors, 10)[0]

    def approximate(q: np.ndarray):
        stored = EmbeddingSet.read(index, vectors=False)
        return graph_top_k(open_graph(graph_file, len(stored), args.dim), q, 10)[0]

    row = {"n": args.n, "dim": args.dim, "clusters": args.clusters,
           "intrinsic": args.intrinsic, "spread": args.spread,
           "nearest_cosine": round(nearest_cosine(vectors), 3), "build_s": round(built, 1),
           "graph_mb": round(graph_file.stat().st_size / 2**20, 1)}
    for name, batch in (("one_query", queries[:1]), (f"{args.queries}_queries", queries)):
        want, exact_s = timed(exact, batch)
        found, graph_s = timed(approximate, batch)
        row[name] = {"exact_s": round(exact_s, 4), "graph_s": round(graph_s, 4),
                     "graph_speedup": round(exact_s / graph_s, 1)}
    shared = [len(set(f.tolist()) & set(e.tolist())) for f, e in zip(found, want, strict=True)]
    row["recall_at_10"] = round(float(np.mean(shared)) / 10, 4)
    print(json.dumps(row))
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
