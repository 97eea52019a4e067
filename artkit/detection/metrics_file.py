"""Boxes scored against annotations: the one shape of the metrics file that
``artkit.detect(..., gt=...)`` writes beside its boxes (``<name>.metrics.json``) and
``artkit.evaluate_boxes`` writes into its folder (``metrics.json``), and that the boxes
report reads.

Schema 1 is what artkit 0.1's ``detect --gt`` wrote (``threshold`` for the minimum
reported score) and its ``evaluate-detect`` (``predictions`` for the boxes file); both
are read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from artkit import atomic
from artkit.errors import ArtkitError
from artkit.formats.versioned import open_versioned, split_known

SCHEMA_VERSION = 2
#: schema 1's names of today's fields
RENAMED = {"threshold": "min_score", "predictions": "boxes"}


@dataclass
class BoxesMetrics:
    """What a scoring of boxes recorded: against which annotations, how, and the metrics."""

    gt: str
    """The COCO annotations scored against."""
    metrics: dict[str, float]
    intervals: dict[str, list[float]] = field(default_factory=dict)
    """95% bootstrap intervals of the headline metrics, ``{name: [low, high]}``."""
    plots: list[str] = field(default_factory=list)
    category: str | None = None
    """The annotated category scored."""
    boxes: str | None = None
    """The boxes file scored (None: the detections were scored as they were made)."""
    photos: list[str] | None = None
    """The file names of the photos scored (``detect``: the annotated photos it ran on);
    None: every annotated photo (one without a box misses all its paintings)."""
    method: str | None = None
    model: str | None = None
    min_score: float | None = None
    """The minimum score of a reported painting (AP counts every candidate anyway)."""
    cam_threshold: float | None = None
    sweep: dict[str, Any] | None = None
    """With a CAM threshold sweep: ``rows`` (one per threshold), ``best_ap50``,
    ``max_box_acc`` (the row with the best CorLoc) and ``plots``."""
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: Path) -> Path:
        """Write atomically; returns `path`."""
        return atomic.write_json(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> BoxesMetrics:
        """Read a metrics file of either schema; one-line errors for a damaged one."""
        try:
            document = atomic.read_json(path)
        except (OSError, ValueError) as exc:
            raise ArtkitError(f"cannot read the metrics file: {exc}", path) from None
        stored, _ = open_versioned(document, path, what="boxes metrics file",
                                   schema=SCHEMA_VERSION, required=("gt", "metrics"))
        for old, new in RENAMED.items():
            if old in stored:
                stored.setdefault(new, stored.pop(old))
        values, _ = split_known(cls, stored)
        return cls(**values)


def metrics_path(boxes: Path) -> Path:
    """``<name>.metrics.json`` beside the boxes file ``<name>.json``."""
    return boxes.with_name(boxes.stem + ".metrics.json")
