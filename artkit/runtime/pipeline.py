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

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
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


def _chunks(paths: Iterable[Path], size: int) -> Iterator[tuple[range, list[Path]]]:
    """Consecutive (input positions, paths) chunks of `size`, pulled lazily."""
    iterator, start = iter(paths), 0
    while chunk := [Path(p) for p in itertools.islice(iterator, size)]:
        yield range(start, start + len(chunk)), chunk
        start += len(chunk)


def iter_batches(paths: Iterable[Path], load: Loader, batch_size: int = 32,
                 workers: int = 2, prefetch: int = 2,
                 collate: Callable[[list[Any]], Any] = stack_float32) -> Iterator[Batch]:
    """Batches of loaded `paths` (any iterable, pulled as needed), in order, loading ahead
    of the consumer."""
    if batch_size < 1 or workers < 1 or prefetch < 0:
        raise ArtkitError("batch size and workers must be at least 1")
    chunks = _chunks(paths, batch_size)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="artkit-load")
    pending: deque[tuple[range, list[Path], list[Future]]] = deque()

    def submit(chunk: tuple[range, list[Path]]) -> None:
        span, chunk_paths = chunk
        pending.append((span, chunk_paths, [pool.submit(_load_one, load, p)
                                            for p in chunk_paths]))

    try:
        for chunk in itertools.islice(chunks, prefetch + 1):
            submit(chunk)
        while pending:
            span, chunk_paths, futures = pending.popleft()
            results = [f.result() for f in futures]
            following = next(chunks, None)
            if following is not None:
                submit(following)
            yield _assemble(span, chunk_paths, results, collate)
    finally:
        for _, _, futures in pending:
            for future in futures:
                future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _assemble(span: range, paths: list[Path], results: list[Any],
              collate: Callable[[list[Any]], Any]) -> Batch:
    indices, loaded, items, sizes, failures = [], [], [], [], []
    for index, path, result in zip(span, paths, results, strict=True):
        if isinstance(result, str):
            failures.append(Failure(index, path, result))
        else:
            indices.append(index)
            loaded.append(path)
            items.append(result[0])
            sizes.append(result[1])
    return Batch(span=span, indices=indices, paths=loaded,
                 items=collate(items) if items else None, sizes=sizes, failures=failures)
