"""Embedding files, exact cosine search and near-duplicate groups: the core of ``artkit
embed``, ``artkit index build``, ``artkit similar`` and ``artkit duplicates``.

An embedding file (also the search index) is one ``.npz`` holding ``paths`` (str),
``vectors`` (float32 (n, D), L2-normalised), the files that failed (``failed``,
``errors``) and ``model`` (a JSON string: the embedding model's path, run and dimension).

It is written as the run goes, resumably, and never half-written: each batch becomes one
shard ``<output>.partial/shard-NNNNNN.npz``, written atomically, so an interrupted run loses
nothing it finished; ``--resume`` reads the shards (or a finished file) and skips their
paths; at the end the shards are assembled into the final file atomically and removed.

Search is exact (unless the index has an HNSW graph beside it,
:mod:`artkit.embeddings.ann`): queries
times the stored vectors (one matrix product per chunk of `chunk` stored vectors, so memory
stays ``queries x chunk`` whatever the index size), the best `k` kept per chunk and merged.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from artkit.atomic import atomic_path
from artkit.errors import ArtkitError
from artkit.runtime.writers import OutputLock, _writing

#: Stored vectors per matrix product of a search (memory: queries x CHUNK floats).
CHUNK = 8192
SHARD = "shard-{:06d}.npz"


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero), float32."""
    x = np.asarray(x, dtype=np.float64)  # tiny features (random weights) must not underflow
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)


@dataclass
class EmbeddingSet:
    """The contents of an embedding file."""

    paths: list[str]
    vectors: np.ndarray
    """float32 (n, D), L2-normalised, row i for paths[i]."""
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.paths)

    @classmethod
    def read(cls, path: str | Path, vectors: bool = True) -> EmbeddingSet:
        """The file's contents; with `vectors` False, all but the vectors (an empty
        (0, D) array): a search through the index's graph needs only the paths."""
        path = Path(path)
        if not path.exists():
            raise ArtkitError("embedding file not found", path)
        try:
            with np.load(path, allow_pickle=False) as stored:
                model = json.loads(str(stored["model"]))
                return cls(paths=[str(p) for p in stored["paths"]],
                           vectors=np.asarray(stored["vectors"], np.float32) if vectors
                           else np.zeros((0, int(model.get("embedding_dim") or 0)),
                                         np.float32),
                           failed=[str(p) for p in stored["failed"]],
                           errors=[str(e) for e in stored["errors"]],
                           model=model)
        except (OSError, KeyError, ValueError) as exc:
            raise ArtkitError(f"not an artkit embedding file ({exc})", path,
                              hint="make it with `artkit embed` or `artkit index build`"
                              ) from None

    def save(self, path: Path) -> None:
        """Write atomically (a crash leaves the old file, or none)."""
        dim = self.vectors.shape[1] if self.vectors.ndim == 2 else 0
        with atomic_path(path) as tmp, tmp.open("wb") as handle:
            np.savez(handle, paths=np.array(self.paths, dtype=str),
                     vectors=self.vectors.reshape(len(self.paths), dim).astype(np.float32),
                     failed=np.array(self.failed, dtype=str),
                     errors=np.array(self.errors, dtype=str),
                     model=np.array(json.dumps(self.model)))


def _concat(sets: Sequence[EmbeddingSet], model: dict[str, Any]) -> EmbeddingSet:
    dims = {s.vectors.shape[1] for s in sets if len(s)}
    if len(dims) > 1:
        raise ArtkitError(f"the shards hold vectors of different lengths {sorted(dims)}")
    dim = dims.pop() if dims else int(model.get("embedding_dim") or 0)
    vectors = [s.vectors for s in sets if len(s)]
    return EmbeddingSet(paths=[p for s in sets for p in s.paths],
                        vectors=np.concatenate(vectors) if vectors else
                        np.zeros((0, dim), np.float32),
                        failed=[p for s in sets for p in s.failed],
                        errors=[e for s in sets for e in s.errors], model=model)


class EmbeddingWriter:
    """Writes an embedding file batch by batch (see the module docstring); `done` holds the
    paths (embedded or failed) a resumed run skips."""

    def __init__(self, output: str | Path, model: dict[str, Any], resume: bool = False):
        self.path = Path(output)
        if self.path.suffix.lower() != ".npz":
            raise ArtkitError("embeddings are written to a .npz file", self.path)
        self.model = model
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.lock = OutputLock(self.path, command="embed")
        try:
            self.done = self._open(resume)
        except BaseException:
            self.lock.release()
            raise

    def _shards(self) -> list[Path]:
        return sorted(self.partial.glob("shard-*.npz"))

    def _open(self, resume: bool) -> set[str]:
        with _writing(self.path, hint=None):
            if not resume:
                shutil.rmtree(self.partial, ignore_errors=True)
            self.partial.mkdir(parents=True, exist_ok=True)
            shards = self._shards()
            if resume and not shards and self.path.exists():  # resume after a finished run
                EmbeddingSet.read(self.path).save(self.partial / SHARD.format(0))
                shards = self._shards()
        self.next = int(shards[-1].stem.split("-")[1]) + 1 if shards else 0
        done: set[str] = set()
        dim = self.model.get("embedding_dim")
        for shard in shards:
            stored = EmbeddingSet.read(shard)
            if dim and len(stored) and stored.vectors.shape[1] != dim:
                raise ArtkitError(f"it holds {stored.vectors.shape[1]}-d vectors, this model "
                                  f"gives {dim}-d; cannot resume into it", self.path)
            done.update(stored.paths, stored.failed)
        return done

    def write(self, paths: list[str], vectors: list[np.ndarray], failed: list[str],
              errors: list[str]) -> None:
        if not paths and not failed:
            return
        dim = int(self.model.get("embedding_dim") or (len(vectors[0]) if vectors else 0))
        shard = EmbeddingSet(paths, np.stack(vectors) if vectors else
                             np.zeros((0, dim), np.float32), failed, errors, self.model)
        with _writing(self.path):
            shard.save(self.partial / SHARD.format(self.next))
        self.next += 1

    def close(self, finished: bool) -> None:
        """Finished: assemble the shards into the file, atomically, and remove them.
        Interrupted: keep the shards for ``--resume``. The lock is released either way."""
        try:
            if finished:
                with _writing(self.path):
                    parts = [EmbeddingSet.read(s) for s in self._shards()]
                    _concat(parts, self.model).save(self.path)
                    shutil.rmtree(self.partial, ignore_errors=True)
        finally:
            self.lock.release()


def top_k(queries: np.ndarray, vectors: np.ndarray, k: int, chunk: int = CHUNK,
          exclude: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine search: (indices (q, k'), similarities (q, k')) of the `k` stored
    `vectors` nearest each query, best first (ties: lower index first); k' = min(k, n).
    `exclude[i]` >= 0 leaves stored vector ``exclude[i]`` out for query i (the query
    itself when it is in the index). Rows must be L2-normalised."""
    n = len(vectors)
    q = len(queries)
    k = min(k, n - (1 if exclude is not None and any(e >= 0 for e in exclude) else 0))
    if q == 0 or k <= 0:
        return np.zeros((q, 0), np.int64), np.zeros((q, 0), np.float32)
    best_i = np.zeros((q, 0), np.int64)
    best_s = np.zeros((q, 0), np.float32)
    skip = np.asarray(exclude if exclude is not None else [-1] * q)
    for start in range(0, n, chunk):
        sims = queries @ vectors[start:start + chunk].T
        own = (skip >= start) & (skip < start + sims.shape[1])
        sims[own, skip[own] - start] = -np.inf
        take = min(k, sims.shape[1])
        part = np.argpartition(-sims, take - 1, axis=1)[:, :take]
        best_i = np.concatenate([best_i, part + start], axis=1)
        best_s = np.concatenate([best_s, np.take_along_axis(sims, part, axis=1)], axis=1)
        order = np.lexsort((best_i, -best_s), axis=1)[:, :k]
        best_i = np.take_along_axis(best_i, order, axis=1)
        best_s = np.take_along_axis(best_s, order, axis=1)
    return best_i, best_s


def similar_pairs(vectors: np.ndarray, threshold: float, chunk: int = 2048,
                  rotated: np.ndarray | None = None) -> Iterator[tuple[int, int, float]]:
    """Every (i, j, cosine) with i < j and cosine >= `threshold`, one chunk of rows at a
    time (memory: chunk x n floats). With `rotated` ((n, r, D): each image's embeddings
    turned), a pair's similarity is the best over one image turned against the other."""
    n = len(vectors)
    for start in range(0, n, chunk):
        sims = vectors[start:start + chunk] @ vectors.T
        if rotated is not None:
            for r in range(rotated.shape[1]):
                np.maximum(sims, rotated[start:start + chunk, r] @ vectors.T, out=sims)
                np.maximum(sims, vectors[start:start + chunk] @ rotated[:, r].T, out=sims)
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if c > start + r:
                yield start + r, c, float(sims[r, c])


def centred(vectors: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """`vectors` (..., D) minus the collection's `mean` embedding, L2-normalised again.

    Pooled ReLU features are all positive, so any two photos have a high cosine; without
    their common part, the cosine of unrelated photos falls near 0 and that of copies stays
    high (docs/embeddings.md: false pairs 13% -> 0.04% at the chosen threshold)."""
    shape = vectors.shape
    return l2_normalise(vectors.reshape(-1, shape[-1]) - mean).reshape(shape)


def connected_groups(n: int, pairs: Iterator[tuple[int, int, float]]) -> list[list[int]]:
    """Union-find over `pairs`: the groups of two or more items, each sorted, in order of
    their first item."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in pairs:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return [g for _, g in sorted(groups.items()) if len(g) > 1]
