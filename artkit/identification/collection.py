"""A collection as identification sees it: an index (``artkit index build --local-features``)
opened once, searched for a shortlist, and read item by item for verification.

The shortlist is the index's own search (exact, or its HNSW graph when it has one), so its
cost grows with the collection only as search does; verification reads the local features
of the shortlisted rows alone (memory-mapped), and keeps the most recent ones in memory,
since the same items come back photo after photo in one room.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from artkit.embeddings.ann import graph_top_k, open_graph
from artkit.embeddings.local import LocalFeatureReader, LocalFeatures, local_paths, read_meta
from artkit.embeddings.vectors import EmbeddingSet
from artkit.embeddings.vectors import top_k as exact_top_k
from artkit.errors import ArtkitError

#: Items whose local features are kept in memory (about 40 KB each).
FEATURE_CACHE = 2048
#: Metadata columns that name an item, in order of preference.
TITLE_COLUMNS = ("title", "name", "label", "object", "id")


class Collection:
    """An index opened for identification: its items' paths (absolute), vectors or graph,
    metadata and local features."""

    def __init__(self, index: str | Path, exact: bool = False):
        self.path = Path(index)
        if not self.path.is_file():
            raise ArtkitError("index not found", self.path,
                              hint="build it with `artkit index build COLLECTION/ -o INDEX "
                              "--local-features`")
        stored = EmbeddingSet.read(self.path, vectors=False)
        if not len(stored):
            raise ArtkitError("the index holds no items", self.path)
        self.model: dict[str, Any] = stored.model
        self.stored_paths: list[str] = list(stored.paths)
        base = stored.model.get("base", os.getcwd())
        self.paths = [Path(os.path.normpath(os.path.join(base, p))) for p in stored.paths]
        self.meta = read_meta(self.path)
        self.has_local_features = all(p.exists() for p in local_paths(self.path))
        graph = stored.model.get("graph")
        self._graph = None
        self._vectors: np.ndarray | None = None
        if graph is not None and not exact:
            self._graph = open_graph(self.path.with_name(graph["file"]), len(stored),
                                     int(stored.model["embedding_dim"]))
        else:
            self._vectors = EmbeddingSet.read(self.path).vectors
        self._reader: LocalFeatureReader | None = None
        self._cache: OrderedDict[int, LocalFeatures] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def embedding_model(self) -> str | None:
        """The model that built the index (its queries must be embedded by it too)."""
        return self.model.get("model")

    def shortlist(self, vectors: np.ndarray, k: int) -> tuple[Sequence[np.ndarray],
                                                              Sequence[np.ndarray]]:
        """Per query, (rows, cosine similarities) of the `k` items nearest it, best first."""
        if self._graph is not None:
            return graph_top_k(self._graph, vectors, k)
        assert self._vectors is not None
        if vectors.shape[1] != self._vectors.shape[1]:
            raise ArtkitError(f"the index holds {self._vectors.shape[1]}-d vectors, the "
                              f"model gives {vectors.shape[1]}-d: not the model that built it",
                              self.path)
        return exact_top_k(vectors, self._vectors, k)

    def features(self, row: int) -> LocalFeatures:
        """The local features of item `row` (read once, then from memory)."""
        with self._lock:
            if row in self._cache:
                self._cache.move_to_end(row)
                return self._cache[row]
        with self._lock:
            if self._reader is None:
                self._reader = LocalFeatureReader(self.path)
            reader = self._reader
        (found,) = reader.read([row])
        with self._lock:
            self._cache[row] = found
            while len(self._cache) > FEATURE_CACHE:
                self._cache.popitem(last=False)
        return found

    def title(self, row: int) -> str | None:
        """The item's title from the metadata (None without one)."""
        fields = self.meta.get(self.stored_paths[row], {})
        lowered = {k.strip().lower(): v for k, v in fields.items()}
        return next((lowered[c] for c in TITLE_COLUMNS if lowered.get(c)), None)

    def item_meta(self, row: int) -> dict[str, str]:
        return dict(self.meta.get(self.stored_paths[row], {}))
