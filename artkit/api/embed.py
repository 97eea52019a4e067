"""Embeddings as a product: `artkit.embed` (vectors to a resumable .npz), `artkit.similar`
(cosine search in such a file, the index: exact, or through the HNSW graph beside a large
index) and `artkit.duplicates` (groups of near-duplicate photos). The model is an
embedding model, ``artkit export onnx --embedding``; None is the bundled one
(``artkit/bundled/embedding-model.onnx``: MobileNet alpha 0.25 ImageNet features, built by
``artkit build-embedding-model``), as `detect` defaults to the bundled detector.

Every file these make (embedding file, index and its graph, the neighbours' JSON and
contact sheet, the duplicates csv and sheets) is written here, and each call returns the
paths it wrote: the CLI only prints them.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np

from artkit.api.engine import Engine, require_engine
from artkit.api.model import (
    BATCH_SIZE,
    Embedding,
    Inputs,
    Model,
    as_stream,
    load,
    named_inputs,
)
from artkit.console import ProgressCallback, info, reporting, warn
from artkit.embeddings.ann import (
    build_graph,
    graph_path,
    graph_top_k,
    open_graph,
    require_usearch,
    want_graph,
)
from artkit.embeddings.local import (
    MAX_KEYPOINTS,
    local_paths,
    meta_path,
    write_local_features,
    write_meta,
)
from artkit.embeddings.vectors import (
    EmbeddingSet,
    EmbeddingWriter,
    centred,
    connected_groups,
    similar_pairs,
)
from artkit.embeddings.vectors import top_k as exact_top_k
from artkit.errors import ArtkitError

#: Cosine similarity above which two photos are near-duplicates (chosen on held-out AIC
#: copies, docs/embeddings.md).
DUPLICATE_THRESHOLD = 0.77
#: Neighbours :func:`similar` gives each query by default.
SIMILAR_TOP_K = 5
#: The side in pixels of one photo in a contact sheet.
SHEET_SIDE = 128
DUPLICATES_CSV = "duplicates.csv"
ModelLike = str | Path | Model


def _model(model: ModelLike | None, device: str = "auto") -> Model:
    """`model` loaded; None is the bundled embedding model (as `detect` defaults to the
    bundled detector), so a collection can be indexed before any run is trained."""
    if model is None:
        from artkit.bundled import embedding_model

        model = embedding_model()
        if model is None:
            raise ArtkitError("no embedding model given and this installation has no "
                              "bundled one", hint="pass --model BACKBONE.onnx, or build it "
                              "with `artkit build-embedding-model`")
    return model if isinstance(model, Model) else load(model, device=device)  # type: ignore


def _model_info(model: Model) -> dict[str, Any]:
    """What an embedding file records of its making; `base` is the folder relative paths
    in it are relative to (the working folder of the `embed` that wrote it)."""
    return {"model": str(model.path.resolve()), "run": model.card.run,
            "embedding_dim": model.card.embedding_dim, "input_size": model.card.input_size,
            "base": os.getcwd()}


def _absolute_paths(stored: EmbeddingSet) -> list[str]:
    """The stored paths made absolute, so that an index searched from another folder still
    finds its photos (and knows a query that is one of them). No file system calls."""
    base = stored.model.get("base", os.getcwd())
    return [os.path.normpath(os.path.join(base, p)) for p in stored.paths]


@dataclass
class EmbedSummary:
    """What :func:`embed` (or :func:`build_index`) did: the file, the images embedded now,
    those that failed now, those a resumed file already held, and the files written beside
    an index: HNSW graph, local features' records, metadata (each None without it)."""

    path: Path
    embedded: int
    failed: list[Embedding]
    resumed: int
    seconds: float
    graph: Path | None = None
    local_features: Path | None = None
    meta: Path | None = None


def embed(inputs: Inputs, model: ModelLike | None, output: str | Path, *,
          resume: bool = False, batch_size: int = BATCH_SIZE, workers: int | None = None,
          device: str = "auto", engine: Engine = "local", ray_address: str | None = None,
          progress: bool | ProgressCallback | None = None) -> EmbedSummary:
    """Embed every input image into the ``.npz`` file `output` (paths, L2-normalised
    float32 vectors, the files that failed), written shard by shard as it goes and
    assembled atomically at the end. With `resume`, the paths an interrupted (or finished)
    run wrote are skipped, not recomputed. Read it with :func:`read_embeddings`.

    `engine` ``"ray"`` computes the vectors on Ray Data actors (a local Ray instance, or
    the cluster at `ray_address`; :mod:`artkit.runtime.ray_engine`) for a collection that
    outgrows one machine; this process still writes the file, so it is the local engine's
    (same paths and order, same failures) and `resume` works the same with either engine.

    An interrupted run keeps the batches done beside `output` for `resume`."""
    import time

    inputs = named_inputs(inputs)
    engine = require_engine(engine, ray_address)  # before a file is opened
    with reporting(progress):
        loaded = _model(model, device)
        if not loaded.card.is_embedding:
            raise ArtkitError(f"not an embedding model (task {loaded.card.task})", loaded.path,
                              hint="export one with `artkit export onnx --embedding RUN`")
        writer = EmbeddingWriter(output, _model_info(loaded), resume=resume)
        began, finished, embedded, failed = time.perf_counter(), False, 0, []
        pending: list[Embedding] = []
        try:
            stream = as_stream(inputs, writer.done)
            for item in loaded.embed(stream, batch_size=batch_size, workers=workers,
                                     engine=engine, ray_address=ray_address):
                pending.append(item)
                if len(pending) >= batch_size:
                    _flush(writer, pending)
                    pending = []
                if item.ok:
                    embedded += 1
                else:
                    failed.append(item)
            _flush(writer, pending)
            finished = True
        finally:
            writer.close(finished)
            if not finished:
                warn(f"interrupted: the batches done are kept beside {writer.path}; rerun "
                     "with --resume")
        return EmbedSummary(writer.path, embedded, failed, stream.excluded,
                            time.perf_counter() - began)


def _flush(writer: EmbeddingWriter, items: list[Embedding]) -> None:
    writer.write([str(e.path) for e in items if e.ok],
                 [e.vector for e in items if e.ok],  # type: ignore[misc]
                 [str(e.path) for e in items if not e.ok],
                 [e.error or "" for e in items if not e.ok])


def read_embeddings(path: str | Path) -> EmbeddingSet:
    """An embedding file (or index) written by :func:`embed` / :func:`build_index`."""
    return EmbeddingSet.read(path)


def build_index(photos: Inputs, model: ModelLike | None, output: str | Path, *,
                ann: bool | None = None, local_features: bool = False,
                max_keypoints: int = MAX_KEYPOINTS, meta: str | Path | None = None,
                **options: Any) -> EmbedSummary:
    """The search index of `photos`: an embedding file (as :func:`embed`, same options)
    that also names its model, so :func:`similar` needs only the index. With `ann` (by
    default from :data:`artkit.embeddings.ann.ANN_MIN_VECTORS` vectors) an HNSW graph is written
    beside it (``.hnsw``), and :func:`similar` searches approximately (usearch:
    ``pip install 'artkit[ann]'``).

    What identification needs goes beside it, the index file itself unchanged: with
    `local_features`, up to `max_keypoints` RootSIFT keypoints per item
    (``.local.npy`` / ``.local.npz``, read by :func:`read_local_features`); with `meta`, a
    csv's columns joined on the file name (``.meta.json``, :func:`read_meta`). Without
    them, sidecars of an earlier build are removed, so none describes other items."""
    if ann:
        require_usearch()  # fail before embedding, not after
    if max_keypoints < 1:
        raise ArtkitError("--max-keypoints must be at least 1")
    if meta is not None and not Path(meta).is_file():
        raise ArtkitError("metadata csv not found", Path(meta))
    summary = embed(photos, model, output, **options)
    with reporting(options.get("progress")):
        stored = add_graph(output, ann)
        summary.local_features, summary.meta = _add_sidecars(
            summary.path, stored, local_features, max_keypoints, meta, options.get("workers"))
    if "graph" in stored.model:
        summary.graph = summary.path.with_name(stored.model["graph"]["file"])
    return summary


def _add_sidecars(index: Path, stored: EmbeddingSet, local_features: bool,
                  max_keypoints: int, meta: str | Path | None, workers: int | None
                  ) -> tuple[Path | None, Path | None]:
    """Write (or remove) the local features and metadata beside `index`; the files
    written."""
    records = written_meta = None
    if local_features:
        info(f"describing {len(stored):,} items with up to {max_keypoints} RootSIFT "
             "keypoints each")
        records = write_local_features(index, stored.paths, _absolute_paths(stored),
                                       max_keypoints, workers or os.cpu_count() or 1)
    else:
        for sidecar in local_paths(index):
            sidecar.unlink(missing_ok=True)
    if meta is not None:
        written_meta = write_meta(index, meta, stored.paths)
    else:
        meta_path(index).unlink(missing_ok=True)
    return records, written_meta


def add_graph(index: str | Path, ann: bool | None = True) -> EmbeddingSet:
    """Build (or rebuild; with `ann` False, remove; with None, decide by size) the HNSW
    graph beside an index file (``index.hnsw``), and record it in the index. The graph is
    written before the index names it, and the index forgets it before it is deleted, so a
    crash never leaves an index naming a graph that is not there."""
    index = Path(index)
    stored = EmbeddingSet.read(index, vectors=False)  # most indexes get no graph
    sidecar = graph_path(index)
    if want_graph(ann, len(stored)) and len(stored):
        info(f"building the search graph of {len(stored):,} vectors")
        stored = EmbeddingSet.read(index)
        build_graph(stored.vectors, sidecar)
        stored.model["graph"] = {"file": sidecar.name, "vectors": len(stored)}
        stored.save(index)
        return stored
    if "graph" in stored.model:
        stored = EmbeddingSet.read(index)
        del stored.model["graph"]
        stored.save(index)
    sidecar.unlink(missing_ok=True)
    return stored


@dataclass
class Neighbours:
    """The nearest indexed photos of one query, best first: (path, cosine similarity)."""

    query: Path
    neighbours: list[tuple[Path, float]] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"query": str(self.query), "error": self.error,
                "neighbours": [{"path": str(p), "similarity": round(s, 6)}
                               for p, s in self.neighbours]}


@dataclass
class SimilarResults(Sequence[Neighbours]):
    """What :func:`similar` found: one :class:`Neighbours` per query, in query order (the
    object is a sequence of them), and the files it wrote (None where not asked for)."""

    results: list[Neighbours]
    index_file: Path | None
    """The index searched (None for an :class:`EmbeddingSet` given in memory)."""
    top_k: int
    output: Path | None = None
    """The neighbours as JSON (:meth:`to_dict`)."""
    sheet: Path | None = None
    """The contact sheet PNG: each query, then its neighbours."""

    @overload
    def __getitem__(self, item: int) -> Neighbours: ...

    @overload
    def __getitem__(self, item: slice) -> list[Neighbours]: ...

    def __getitem__(self, item: int | slice) -> Neighbours | list[Neighbours]:
        return self.results[item]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[Neighbours]:
        return iter(self.results)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `output`."""
        return {"index": str(self.index_file) if self.index_file else None,
                "top_k": self.top_k,
                "results": [r.to_dict() for r in self.results]}


def similar(queries: Inputs, index: str | Path | EmbeddingSet, *, top_k: int = SIMILAR_TOP_K,
            model: ModelLike | None = None, batch_size: int = BATCH_SIZE,
            device: str = "auto", exact: bool = False, output: str | Path | None = None,
            sheet: str | Path | None = None,
            progress: bool | ProgressCallback | None = None) -> SimilarResults:
    """The `top_k` indexed photos most similar (cosine) to each query image, in query
    order. A query that is itself in the index is left out of its own neighbours. The
    search is exact, or approximate through the index's HNSW graph when it has one (built
    with ``ann=True``) and `exact` is False. `model` defaults to the one that built the
    index. `output` receives the neighbours as JSON, `sheet` a contact sheet PNG (each
    written atomically, once the search is done)."""
    if top_k < 1:
        raise ArtkitError("top-k must be at least 1")
    queries = named_inputs(queries)
    index_path = None if isinstance(index, EmbeddingSet) else Path(index)
    stored = index if index_path is None else EmbeddingSet.read(index_path, vectors=False)
    graph_info = stored.model.get("graph")
    use_graph = index_path is not None and graph_info is not None and not exact
    if index_path is not None and not use_graph:
        stored = EmbeddingSet.read(index_path)
    dim = int(stored.model["embedding_dim"]) if use_graph else stored.vectors.shape[1]
    with reporting(progress):
        loaded = _model(model or stored.model.get("model"), device)
        embedded = list(loaded.embed(queries, batch_size=batch_size))
    ok = [e for e in embedded if e.ok]
    paths = _absolute_paths(stored)
    position = {p: i for i, p in enumerate(paths)}
    exclude = [position.get(os.path.abspath(e.path), -1) for e in ok]
    vectors = np.stack([e.vector for e in ok]) if ok else np.zeros((0, dim), np.float32)
    if ok and vectors.shape[1] != dim:
        raise ArtkitError(f"the index holds {dim}-d vectors, the model gives "
                          f"{vectors.shape[1]}-d: not the model that built it")
    if use_graph:
        assert index_path is not None and graph_info is not None
        graph = open_graph(index_path.with_name(graph_info["file"]), len(stored), dim)
        found, sims = graph_top_k(graph, vectors, top_k, exclude=exclude)
    else:
        found, sims = exact_top_k(vectors, stored.vectors, top_k, exclude=exclude)
    by_index = {e.index: row for row, e in enumerate(ok)}
    results = []
    for e in embedded:
        if not e.ok:
            results.append(Neighbours(e.path, error=e.error))
            continue
        row = by_index[e.index]
        results.append(Neighbours(e.path, [(Path(paths[j]), float(s)) for j, s in
                                           zip(found[row], sims[row], strict=True)]))
    found_all = SimilarResults(results, index_path, top_k)
    if output is not None:
        from artkit.atomic import write_json

        found_all.output = write_json(output, found_all.to_dict())
    if sheet is not None:
        found_all.sheet = similar_sheet(results, sheet)
    return found_all


def similar_sheet(results: Sequence[Neighbours], path: str | Path,
                  side: int = SHEET_SIDE) -> Path:
    """A PNG: one row per query, the query then its neighbours with their similarity."""
    from artkit.data.contact_sheet import save_image_rows

    rows = [[(r.query, "query")] + [(p, f"cos {s:.3f}") for p, s in r.neighbours]
            for r in results if r.error is None]
    return Path(save_image_rows(rows, path, side))


@dataclass
class DuplicateGroups:
    """Groups of near-duplicate photos: each a list of (path, cosine similarity to the
    group's first photo), the first with 1.0; the files that could not be read; and the
    files written (with an output folder: the csv and one contact sheet per group)."""

    groups: list[list[tuple[Path, float]]]
    threshold: float
    n_images: int
    failed: list[Embedding] = field(default_factory=list)
    csv: Path | None = None
    sheets: list[Path] = field(default_factory=list)

    def write_csv(self, path: str | Path) -> Path:
        """Columns group, path, similarity (to the group's first), written atomically."""
        from artkit.atomic import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["group", "path", "similarity"])
            for number, group in enumerate(self.groups, 1):
                for member, similarity in group:
                    writer.writerow([number, member, f"{similarity:.6f}"])
        return path

    def write_sheets(self, folder: str | Path, side: int = SHEET_SIDE) -> list[Path]:
        """One PNG per group: ``group-0001.png``, ..."""
        from artkit.data.contact_sheet import save_image_rows

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return [Path(save_image_rows([[(p, f"cos {s:.3f}") for p, s in group]],
                                     folder / f"group-{number:04d}.png", side))
                for number, group in enumerate(self.groups, 1)]


def group_duplicates(paths: Sequence[str | Path], vectors: np.ndarray,
                     threshold: float = DUPLICATE_THRESHOLD,
                     rotated: np.ndarray | None = None) -> list[list[tuple[Path, float]]]:
    """Connected components of the graph "cosine >= threshold" over L2-normalised
    `vectors` (and their `rotated` versions, (n, r, D)), both centred on the collection's
    mean embedding: the groups of two or more, each as (path, similarity to its first)."""
    if not len(paths):
        return []
    mean = vectors.mean(axis=0)
    vectors = centred(vectors, mean)
    rotated = centred(rotated, mean) if rotated is not None else None
    groups = connected_groups(len(paths), similar_pairs(vectors, threshold, rotated=rotated))

    def similarity(i: int, first: int) -> float:
        best = float(vectors[i] @ vectors[first])
        if rotated is not None:
            best = max(best, float(np.max(rotated[i] @ vectors[first])),
                       float(np.max(rotated[first] @ vectors[i])))
        return best

    return [[(Path(paths[i]), 1.0 if i == g[0] else similarity(i, g[0])) for i in g]
            for g in groups]


def duplicates(photos: Inputs, model: ModelLike | None = None, *,
               threshold: float = DUPLICATE_THRESHOLD, rotations: bool = True,
               batch_size: int = BATCH_SIZE, workers: int | None = None,
               device: str = "auto", output: str | Path | None = None,
               progress: bool | ProgressCallback | None = None) -> DuplicateGroups:
    """Group near-duplicate photos (re-encoded, resized, cropped, rotated or recoloured
    copies): connected components of embedding cosine similarity >= `threshold`, after
    centring on the photos' mean embedding. With `rotations` (default) each photo is also
    embedded turned by 90, 180 and 270 degrees and a pair counts at its best turn (finds
    rotated copies; 4x the inference). With `output`, a folder, ``duplicates.csv`` and
    one contact sheet per group (``group-0001.png``, ...) are written into it."""
    if not -1.0 <= threshold <= 1.0:
        raise ArtkitError("the threshold is a cosine similarity, between -1 and 1")
    folder = Path(output) if output is not None else None
    if folder is not None and folder.exists() and not folder.is_dir():
        raise ArtkitError("the output of duplicates is a folder; this is a file", folder)
    photos = named_inputs(photos)
    loaded = _model(model, device)
    with reporting(progress):
        embedded = list(loaded.embed(photos, batch_size=batch_size, workers=workers,
                                     rotations=rotations))
    ok = [e for e in embedded if e.ok]
    paths = [str(e.path) for e in ok]
    vectors = np.stack([e.vector for e in ok]) if ok else np.zeros((0, 1), np.float32)
    rotated = np.stack([e.rotated for e in ok]) if ok and rotations else None
    found = DuplicateGroups(group_duplicates(paths, vectors, threshold, rotated), threshold,
                            len(paths), [e for e in embedded if not e.ok])
    if folder is not None:
        found.csv = found.write_csv(folder / DUPLICATES_CSV)
        found.sheets = found.write_sheets(folder)
    return found
