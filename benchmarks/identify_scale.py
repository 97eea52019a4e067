"""How `artkit identify` scales with the collection: photos/s at the real collection's size
and at a much larger one made of real items plus decoys.

No 100,000-item collection with local features is at hand, so the large index is the real
one plus decoys: each decoy's vector is a real item's vector moved by noise and
renormalised (so decoys crowd the shortlist, as a large collection's near neighbours do),
and its local features are another real item's (so verifying it costs what verifying a
real item costs, and it verifies as nothing here). The same photos run against each index,
one after the other in this process, and the table gives photos/s and the ratio to the
real index, with exact search and with the HNSW graph (``index build --ann``).

    .venv/bin/python benchmarks/identify_scale.py --bench /tmp/identify-bench \\
        --index /tmp/coll1000.npz --sizes 100000 --photos 40 [--work /tmp/identify-scale]

Decoy files are written under --work (about 35 MB of local features per 1,000 items).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from artkit.api.embed import add_graph
from artkit.api.identify import identify
from artkit.atomic import atomic_path
from artkit.console import print_table
from artkit.embeddings.local import RECORD, local_paths
from artkit.embeddings.vectors import EmbeddingSet, l2_normalise

#: The noise added to a real vector to make a decoy (per component, before renormalising).
DECOY_NOISE = 0.05


def with_decoys(index: Path, size: int, out: Path, seed: int = 0) -> Path:
    """A copy of `index` grown to `size` items with decoys, its sidecars written beside."""
    rng = np.random.default_rng(seed)
    real = EmbeddingSet.read(index)
    n_real, extra = len(real), size - len(real)
    if extra < 0:
        raise SystemExit(f"--sizes must be at least the index's {n_real} items")
    source = rng.integers(n_real, size=extra)
    noise = rng.normal(0, DECOY_NOISE, (extra, real.vectors.shape[1])).astype(np.float32)
    vectors = np.concatenate([real.vectors, l2_normalise(real.vectors[source] + noise)])
    paths = real.paths + [f"decoys/decoy-{i:06d}.jpg" for i in range(extra)]
    model = {k: v for k, v in real.model.items() if k != "graph"}
    grown = out / f"collection-{size}.npz"
    out.mkdir(parents=True, exist_ok=True)
    EmbeddingSet(paths, vectors, model=model).save(grown)
    records_file, table_file = local_paths(index)
    records = np.load(records_file, mmap_mode="r")
    with np.load(table_file, allow_pickle=False) as table:
        offsets, sizes, keypoints = table["offsets"], table["sizes"], table["max_keypoints"]
    features = rng.integers(n_real, size=extra)  # another real item's keypoints
    counts = np.diff(offsets)
    new_offsets = np.concatenate([offsets, offsets[-1] + np.cumsum(counts[features])])
    grown_records, grown_table = local_paths(grown)
    stored = np.lib.format.open_memmap(grown_records, "w+", RECORD, (int(new_offsets[-1]),))
    stored[:offsets[-1]] = records
    for row, item in enumerate(features):
        start = new_offsets[n_real + row]
        stored[start:start + counts[item]] = records[offsets[item]:offsets[item + 1]]
    stored.flush()
    del stored
    with atomic_path(grown_table) as tmp, tmp.open("wb") as handle:
        np.savez(handle, paths=np.array(paths, dtype=str), offsets=new_offsets,
                 sizes=np.concatenate([sizes, sizes[features]]), max_keypoints=keypoints)
    return grown


def rate(index: Path, photos: list[str], exact: bool) -> tuple[float, int]:
    """Photos/s of identify on `photos` against `index`, and the artworks it named."""
    began = time.perf_counter()
    found = [r for r in identify(photos, index, exact=exact, progress=False)]
    seconds = time.perf_counter() - began
    return len(photos) / seconds, sum(len(r.known) for r in found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--split", default="tune")
    parser.add_argument("--work", type=Path, default=Path("/tmp/identify-scale"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    truth = json.loads((args.bench / "truth.json").read_text())
    photos = [str(args.bench / p["file"]) for p in truth["photos"]
              if p["split"] == args.split][:args.photos]
    rate(args.index, photos[:4], exact=True)  # warm the caches and the models
    base, named = rate(args.index, photos, exact=True)
    n_real = len(EmbeddingSet.read(args.index, vectors=False))
    rows = [{"items": n_real, "search": "exact", "photos/s": round(base, 2),
             "ratio": 1.0, "artworks named": named, "build s": ""}]
    for size in map(int, args.sizes.split(",")):
        began = time.perf_counter()
        grown = with_decoys(args.index, size, args.work)
        made = time.perf_counter() - began
        exact, named = rate(grown, photos, exact=True)
        rows.append({"items": size, "search": "exact", "photos/s": round(exact, 2),
                     "ratio": round(exact / base, 3), "artworks named": named,
                     "build s": round(made, 1)})
        began = time.perf_counter()
        add_graph(grown, True)
        graph_s = time.perf_counter() - began
        approximate, named = rate(grown, photos, exact=False)
        rows.append({"items": size, "search": "hnsw", "photos/s": round(approximate, 2),
                     "ratio": round(approximate / base, 3), "artworks named": named,
                     "build s": round(graph_s, 1)})
    print_table(f"identify on {len(photos)} {args.split} photos: the real index and with "
                "decoys", rows)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
