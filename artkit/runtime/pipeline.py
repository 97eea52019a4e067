"""Streaming, overlapped batching: load items in a worker pool while the caller works on
the previous batch.

The caller gives paths and a `load` function (decode + resize, or decode + extract
descriptors); it gets batches back in input order, each covering a contiguous span of the
inputs. While it runs inference on batch k, the pool is already loading batches
k+1 .. k+prefetch, so decoding hides behind inference. At most ``(prefetch + 1) *
batch_size`` loaded items exist at any time, whatever the number of paths: memory stays
flat over 100,000 files.

A path that fails to load does not stop the stream: it becomes a :class:`Failure` (with
its input position and the reason) in the batch whose span holds it, so a consumer that
writes rows span by span keeps the input order for good and bad files alike.

Threads, not processes: OpenCV's decoders and resizers, and onnxruntime, release the GIL,
and nothing has to be pickled between processes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from artkit.errors import ArtkitError

Size = tuple[int, int]
Loader = Callable[[Path], tuple[Any, Size]]
"""Loads one path: returns (item, original (height, width)); raises ArtkitError if bad."""


@dataclass(frozen=True)
class Failure:
    index: int
    """Position of the path in the input sequence."""
    path: Path
    reason: str


@dataclass
class Batch:
    span: range
    """Input positions this batch covers (loaded or failed)."""
    indices: list[int]
    """Input positions of the items that loaded, ascending."""
    paths: list[Path]
    items: Any
    """`collate` of the loaded items (for images: float32 (n, H, W, 3)); None if n == 0."""
    sizes: list[Size]
    """Original (height, width) of each loaded item."""
    failures: list[Failure] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.indices)


def stack_float32(items: list[np.ndarray]) -> np.ndarray:
    """Stack equally shaped uint8 arrays into one float32 batch with a single copy."""
    out = np.empty((len(items), *items[0].shape), dtype=np.float32)
    for row, item in zip(out, items, strict=True):
        row[...] = item
    return out


def _load_one(load: Loader, path: Path) -> tuple[Any, Size] | str:
    try:
        return load(path)
    except ArtkitError as exc:
        return exc.message
    except MemoryError:
        return "out of memory while loading"
    except Exception as exc:  # noqa: BLE001 - one bad file must not end a batch job
        return f"{type(exc).__name__}: {exc}"


def iter_batches(paths: Sequence[Path], load: Loader, batch_size: int = 32,
                 workers: int = 2, prefetch: int = 2,
                 collate: Callable[[list[Any]], Any] = stack_float32) -> Iterator[Batch]:
    """Batches of loaded `paths`, in order, loading ahead of the consumer."""
    if batch_size < 1 or workers < 1 or prefetch < 0:
        raise ArtkitError("batch size and workers must be at least 1")
    spans = (range(s, min(s + batch_size, len(paths))) for s in range(0, len(paths),
                                                                      batch_size))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="artkit-load")
    pending: deque[tuple[range, list[Future]]] = deque()

    def submit(span: range) -> None:
        pending.append((span, [pool.submit(_load_one, load, Path(paths[i])) for i in span]))

    try:
        for _, span in zip(range(prefetch + 1), spans, strict=False):
            submit(span)
        while pending:
            span, futures = pending.popleft()
            results = [f.result() for f in futures]
            following = next(spans, None)
            if following is not None:
                submit(following)
            yield _assemble(span, results, paths, collate)
    finally:
        for _, futures in pending:
            for future in futures:
                future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _assemble(span: range, results: list[Any], paths: Sequence[Path],
              collate: Callable[[list[Any]], Any]) -> Batch:
    indices, items, sizes, failures = [], [], [], []
    for index, result in zip(span, results, strict=True):
        if isinstance(result, str):
            failures.append(Failure(index, Path(paths[index]), result))
        else:
            indices.append(index)
            items.append(result[0])
            sizes.append(result[1])
    return Batch(span=span, indices=indices, paths=[Path(paths[i]) for i in indices],
                 items=collate(items) if items else None, sizes=sizes, failures=failures)
