"""Run an exported model over many files: the overlapped pipeline feeding onnxruntime.

Image models get one onnxruntime call per batch. Descriptor models (bag of words) take one
image's descriptors per call, so their batches are run image by image; the decoding and
descriptor extraction of the next batch still overlaps with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from artkit.formats.model_card import ModelCard
from artkit.runtime.pipeline import Batch, Failure, iter_batches, stack_float32
from artkit.runtime.preprocess import loader_for


@dataclass
class Scored:
    """One batch after inference: outputs row-aligned with ``batch.indices``."""

    batch: Batch
    outputs: dict[str, np.ndarray]
    failures: list[Failure] = field(default_factory=list)
    """The batch's load failures (files that did not decode)."""


def score_batches(session: Any, card: ModelCard, paths: Iterable[Path],
                  batch_size: int = 32, workers: int = 2,
                  outputs: Sequence[str] = ("scores",)) -> Iterator[Scored]:
    """Yield each batch of `paths` with the requested outputs of `session`, in input order."""
    names = list(outputs)
    input_name = session.get_inputs()[0].name
    descriptors = card.input_kind == "descriptors"
    for batch in iter_batches(paths, loader_for(card), batch_size=batch_size,
                              workers=workers, collate=list if descriptors else stack_float32):
        if not len(batch):
            yield Scored(batch, {n: np.zeros((0,)) for n in names}, list(batch.failures))
        elif descriptors:
            yield _per_image(session, input_name, names, batch)
        else:
            results = session.run(names, {input_name: batch.items})
            yield Scored(batch, dict(zip(names, results, strict=True)), list(batch.failures))


def _per_image(session: Any, input_name: str, names: list[str], batch: Batch) -> Scored:
    """Descriptor graphs take one image at a time (an image without descriptors included:
    the graph encodes it as an empty histogram)."""
    rows: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for descriptors in batch.items:
        for name, value in zip(names, session.run(names, {input_name: descriptors}),
                               strict=True):
            rows[name].append(value)
    return Scored(batch, {n: np.concatenate(v) for n, v in rows.items()}, list(batch.failures))
