"""Micro-batching: concurrent requests for one model become one onnxruntime batch.

Like Triton's dynamic batcher or Ray Serve's ``@serve.batch``: a request waits at most
`max_wait` seconds for others to join it, and a batch holds at most `max_batch`. While one
batch runs on the model's inference thread, the next requests are decoded in the shared
decode pool and gather in the queue, so decoding overlaps inference and the batch grows
with the load.

The queue is bounded: a request is admitted (a slot held from decoding to its answer) or
refused at once with :class:`Overloaded`, which the app turns into 503 + Retry-After. No
request waits in an unbounded queue, and memory stays flat whatever the load.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

RunBatch = Callable[[list[Any]], Sequence[Any]]
"""Runs one batch of prepared items; returns one result (or an Exception) per item."""


class Overloaded(Exception):
    """The queue is full: try again after `retry_after` seconds."""

    def __init__(self, name: str, retry_after: int):
        super().__init__(f"the {name} queue is full; retry after {retry_after} s")
        self.retry_after = retry_after


class MicroBatcher:
    """Gathers items submitted from the event loop into batches for `run` (called on one
    dedicated thread, so one model never runs two batches at once)."""

    def __init__(self, name: str, run: RunBatch, max_batch: int = 16,
                 max_wait: float = 0.005, capacity: int = 64,
                 on_batch: Callable[[int], None] | None = None):
        if max_batch < 1 or capacity < 1 or max_wait < 0:
            raise ValueError("max_batch and capacity must be at least 1, max_wait >= 0")
        self.name, self.run, self.max_batch = name, run, max_batch
        self.max_wait, self.capacity, self.on_batch = max_wait, capacity, on_batch
        self.admitted = 0
        """Requests holding a slot: decoding, waiting or running."""
        self._waiting: deque[tuple[Any, asyncio.Future[Any]]] = deque()
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"artkit-{name}")
        self._seconds_per_item = 0.05

    def start(self) -> None:
        self._arrived = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def admit(self) -> None:
        """Take one place in the queue (until :meth:`release`); Overloaded when full."""
        if self.admitted >= self.capacity:
            raise Overloaded(self.name, self.retry_after())
        self.admitted += 1

    def release(self) -> None:
        self.admitted -= 1

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one place in the queue for a block's lifetime; Overloaded when full."""
        self.admit()
        try:
            yield
        finally:
            self.release()

    def retry_after(self) -> int:
        """Seconds for the queue ahead to drain, at the recent speed (at least 1)."""
        return max(1, math.ceil(self.admitted * self._seconds_per_item))

    async def submit(self, item: Any) -> Any:
        """The result of `item` once its batch has run (its exception raised here)."""
        if self._task is None or self._arrived is None:
            raise RuntimeError(f"the {self.name} batcher is not running")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        self._arrived.set()
        return await future

    async def _gather(self) -> list[tuple[Any, asyncio.Future[Any]]]:
        assert self._arrived is not None
        while not self._waiting:
            self._arrived.clear()
            await self._arrived.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while len(self._waiting) < self.max_batch and (left := deadline - loop.time()) > 0:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)
        return [self._waiting.popleft()
                for _ in range(min(self.max_batch, len(self._waiting)))]

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather()
            began = loop.time()
            try:
                results = list(await loop.run_in_executor(
                    self._thread, self.run, [item for item, _ in batch]))
            except Exception as exc:  # noqa: BLE001 - the batch's requests get the error
                results = [exc] * len(batch)
            per_item = (loop.time() - began) / len(batch)
            self._seconds_per_item = 0.8 * self._seconds_per_item + 0.2 * per_item
            if self.on_batch is not None:
                self.on_batch(len(batch))
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # the client went away
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def close(self) -> None:
        """Stop the loop (after the server has answered what it accepted) and the thread."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._waiting:
            _, future = self._waiting.popleft()
            if not future.done():
                future.set_exception(Overloaded(self.name, 1))
        self._thread.shutdown(wait=True)
