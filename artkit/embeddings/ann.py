"""Approximate nearest-neighbour search for large indexes: an HNSW graph in a file beside
the index (``index.npz`` -> ``index.hnsw``).

Exact search (:func:`artkit.embeddings.vectors.top_k`) reads every stored vector for every query.
An HNSW graph answers a query by visiting a few thousand of them. The graph is usearch's
(https://github.com/unum-cloud/usearch, Apache-2.0): wheels for every platform, no other
dependency, cosine built in, and a saved graph can be *viewed*, memory-mapped rather than
read, so a search of a large index starts in milliseconds. (Storing the graph inside the
.npz was tried first: reading it back cost 0.6 s per 100,000 vectors before the first
query, slower than exact search.) Its recall@10 against exact search and the build and
query times are measured by ``benchmarks/bench_ann.py`` (docs/embeddings.md).

The graph's keys are the index's row numbers. The index records the graph's file name and
vector count (``model["graph"]``), and a graph whose count or dimension does not match its
index is refused, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from artkit.atomic import atomic_path
from artkit.console import track
from artkit.errors import ArtkitError

#: `index build` adds the graph by itself from this many vectors (exact search is fast
#: enough below: docs/embeddings.md).
ANN_MIN_VECTORS = 1_000_000
#: HNSW parameters: usearch's defaults for the graph (edges per node, candidates while
#: adding), and more candidates while searching than its default 64, for recall@10.
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 128
#: Vectors added per call, so that the build shows progress.
ADD_CHUNK = 20_000
SUFFIX = ".hnsw"


def require_usearch() -> Any:
    """usearch's Index class, or the one-line install hint."""
    try:
        from usearch.index import Index
    except ImportError:
        raise ArtkitError("approximate search needs the usearch package",
                          hint="pip install 'artkit[ann]'") from None
    return Index


def want_graph(ann: bool | None, n_vectors: int) -> bool:
    """Whether an index of `n_vectors` gets a graph: as asked, else from ANN_MIN_VECTORS."""
    return n_vectors >= ANN_MIN_VECTORS if ann is None else ann


def graph_path(index: Path) -> Path:
    return Path(index).with_suffix(SUFFIX)


def build_graph(vectors: np.ndarray, path: Path, threads: int = 0) -> None:
    """Write the HNSW graph of L2-normalised `vectors` (keys: row numbers) to `path`,
    atomically."""
    index_class = require_usearch()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    graph = index_class(ndim=vectors.shape[1], metric="cos", dtype="f32",
                        connectivity=CONNECTIVITY, expansion_add=EXPANSION_ADD,
                        expansion_search=EXPANSION_SEARCH)
    starts = range(0, len(vectors), ADD_CHUNK)
    for start in track(starts, "building the search graph", total=len(starts)):
        stop = min(start + ADD_CHUNK, len(vectors))
        graph.add(np.arange(start, stop), vectors[start:stop], threads=threads)
    with atomic_path(path) as tmp:
        graph.save(str(tmp))


def open_graph(path: Path, n_vectors: int, dim: int) -> Any:
    """The graph at `path`, memory-mapped, checked against its index (`n_vectors` rows of
    `dim`)."""
    index_class = require_usearch()
    if not path.exists():
        raise ArtkitError("the index's search graph is missing", path,
                          hint="rebuild it: artkit index build ... --resume --ann")
    try:
        graph = index_class.restore(str(path), view=True)
    except Exception as exc:  # noqa: BLE001 - usearch raises RuntimeError or ValueError
        raise ArtkitError(f"not a usearch graph ({exc})", path) from None
    if graph is None or len(graph) != n_vectors or graph.ndim != dim:
        found = "unreadable" if graph is None else f"{len(graph)} vectors of {graph.ndim}"
        raise ArtkitError(f"the search graph does not match its index ({found}; the index "
                          f"holds {n_vectors} of {dim})", path,
                          hint="rebuild it: artkit index build ... --resume --ann")
    graph.expansion_search = EXPANSION_SEARCH
    return graph


def graph_top_k(graph: Any, queries: np.ndarray, k: int,
                exclude: Sequence[int] | None = None, threads: int = 0
                ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Approximate cosine search: per query, (rows, similarities) of up to `k` stored
    vectors, best first. `exclude[i]` >= 0 leaves row ``exclude[i]`` out for query i."""
    skip = list(exclude) if exclude is not None else [-1] * len(queries)
    rows: list[np.ndarray] = []
    sims: list[np.ndarray] = []
    if len(queries) == 0:
        return rows, sims
    found = graph.search(np.ascontiguousarray(queries, dtype=np.float32), k + 1,
                         threads=threads)
    keys = np.atleast_2d(found.keys)
    distances = np.atleast_2d(found.distances)
    # one query gives usearch's Matches (its valid entries only), several BatchMatches
    counts = np.atleast_1d(getattr(found, "counts", keys.shape[1]))
    for i, count in enumerate(counts):
        mine = keys[i, :count].astype(np.int64)
        similarity = 1.0 - distances[i, :count].astype(np.float32)
        keep = mine != skip[i]
        rows.append(mine[keep][:k])
        sims.append(similarity[keep][:k])
    return rows, sims
