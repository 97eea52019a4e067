"""The in-memory description of a data set, and picking the reader for `--data PATH`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from artkit.contracts import Task
from artkit.errors import DataError


@dataclass
class Dataset:
    """Image paths with their targets; no pixels are held here.

    - multiclass: `targets` is int64 (n,), an index into `labels`.
    - multilabel: `targets` is uint8 (n, len(labels)), one column per attribute.
    - detection: `targets` is unused (zeros); `boxes[i]` is float32 (k, 4) x1, y1, x2, y2 in
      the pixels of image i, and `labels` holds the category names.
    """

    root: Path
    task: Task
    paths: list[Path]
    labels: list[str]
    targets: np.ndarray
    reader: str
    boxes: list[np.ndarray] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.paths) != len(self.targets):
            raise DataError(f"{len(self.paths)} images but {len(self.targets)} targets",
                            self.root)

    def __len__(self) -> int:
        return len(self.paths)

    def relative(self, index: int) -> str:
        """Path of image `index` relative to the data set root (how splits are saved)."""
        path = self.paths[index]
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def counts(self) -> np.ndarray:
        """Images per class (multiclass) or per attribute (multilabel)."""
        if self.task == "multiclass":
            return np.bincount(self.targets, minlength=len(self.labels))
        if self.task == "multilabel":
            return self.targets.sum(axis=0)
        return np.array([sum(len(b) for b in (self.boxes or []))])

    def subset(self, indices: Sequence[int] | np.ndarray) -> Dataset:
        indices = np.asarray(indices, dtype=np.int64)
        return Dataset(
            root=self.root, task=self.task, paths=[self.paths[i] for i in indices],
            labels=list(self.labels), targets=self.targets[indices], reader=self.reader,
            boxes=None if self.boxes is None else [self.boxes[i] for i in indices],
            extra=dict(self.extra))


def load_dataset(path: str | Path, format: str | None = None) -> Dataset:
    """Read the data set at `path` with the reader named `format`, or with the first reader
    whose `can_read` accepts the path."""
    from artkit import registry

    path = Path(path).expanduser()
    if not path.exists():
        raise DataError("data set not found", path)
    readers = registry.of_kind(registry.Kind.DATASET_READER)
    reader = registry.get(registry.Kind.DATASET_READER, format) if format is not None else next(
        (info.obj for info in readers.values() if info.obj.can_read(path)), None)
    if reader is not None:
        dataset = reader.read(path)
        # What to hand back to load_dataset later (a csv file, not the folder it sits in).
        dataset.extra.setdefault("source", str(path.resolve()))
        return dataset
    names = ", ".join(sorted(readers))
    raise DataError("no reader recognises this layout", path,
                    hint=f"use --format with one of: {names}; see docs/data.md")
